/**
 * Entry point of the case viewer. The page provides only
 *
 *   <div id="viewer-root"></div>
 *   {{ viewer_config|json_script:"viewer-config" }}
 *   <script type="module" src="{% static 'viewer/main.mjs' %}"></script>
 *
 * and this module builds the whole interface inside the root and wires it to the Viewer;
 * boot.mjs holds the test hook `window.petctViewer` (see README.md) and the configuration,
 * loading.mjs the volumes and the model's result.
 */

const MODULE_START = performance.now();

import { createApi } from "./api.mjs";
import { createGrid, VIEWS } from "./geometry.mjs";
import { Viewer } from "./viewer.mjs";
import { attachPointer, attachKeyboard } from "./tools.mjs";
import { MaskSession } from "./session.mjs";
import { createCallForm } from "./callform.mjs";
import { toolsPanel, displayPanel, overlayPanel, marginPanel, helpPanel } from "./panels.mjs";
import { countNonzero } from "./maskcodec.mjs";
import { formatMm } from "./ruler.mjs";
import { h } from "./dom.mjs";
import { applyLamella } from "./lamella.mjs";
import { MipView } from "./mip.mjs";
import { buildView, buildMipView, formatReadout, shortReadout, sideTabs } from "./viewdom.mjs";
import { layoutBar, roiPanel, surfacePanel, orientationPanel } from "./reading.mjs";
import { createHook, ensureStylesheet, readConfig } from "./boot.mjs";
import { loadVolumes, followModel } from "./loading.mjs";

const { hook, timings, resolveReady, rejectReady } = createHook(MODULE_START);
window.petctViewer = hook;

async function main() {
  ensureStylesheet();
  const root = document.getElementById("viewer-root");
  if (!root) throw new Error('missing <div id="viewer-root">');
  root.classList.add("pv-root");
  const status = h("div", { class: "pv-status", testid: "status", role: "status", "aria-live": "polite" }, "Loading case…");
  const setStatus = (text, kind = "info") => {
    status.textContent = text;
    status.dataset.kind = kind;
  };
  root.replaceChildren(h("div", { class: "pv-app pv-app--loading" }, h("header", { class: "pv-topbar" }, h("span", { class: "pv-brand" }, "PET-CT margin viewer"), status)));

  let config;
  try {
    config = readConfig();
  } catch (err) {
    setStatus(`Cannot start the viewer: ${err.message}`, "error");
    throw err;
  }
  const api = createApi(config.apiBase);
  let caseData;
  try {
    caseData = await api.getCase();
  } catch (err) {
    setStatus(`Could not load case ${config.caseCode}: ${err.message}`, "error");
    throw err;
  }
  timings.caseLoadedMs = performance.now() - MODULE_START;

  const canSeeModel = !!config.canSeeModel;
  const canSeeGT = !!config.canSeeGroundTruth;
  const grid = createGrid(caseData.working_grid);
  const views = Object.fromEntries(VIEWS.map((v) => [v, buildView(v)]));
  const viewer = new Viewer(grid, Object.fromEntries(VIEWS.map((v) => [v, views[v].canvas])), { suvFactor: caseData.suv_factor, moduleStart: MODULE_START });
  hook.viewer = viewer;
  const session = new MaskSession({ api, viewer, segmentation: caseData.my_segmentation });
  hook.session = session;

  // ---- actions
  const saveMask = async () => {
    if (!session.dirty && session.current) {
      setStatus(`No changes since version ${session.current.version}.`);
      return session.current;
    }
    setStatus("Saving mask…");
    try {
      const res = await session.save();
      setStatus(`Mask saved as version ${res.version}.`, "success");
      discardButton.hidden = true;
      return res;
    } catch (err) {
      setStatus(`Could not save the mask: ${err.detail || err.message}`, "error");
      throw err;
    }
  };
  hook.saveMask = saveMask;
  const actions = {
    save: () => saveMask().catch(() => {}),
    startFromModel: () => {
      const n = viewer.startFromModel();
      setStatus(n ? `Started from the model's mask (${n.toLocaleString()} voxels changed). Ctrl+Z undoes.` : "My mask already equals the model's.");
    },
    discardDraft: async () => {
      await session.discardDraft();
      discardButton.hidden = true;
      setStatus("Draft discarded; showing the saved version.");
    },
    toggleHelp: () => help.toggle(),
    toggleMyMask: () => viewer.setOverlay("mine", { visible: !viewer.overlays.mine.visible }),
    toggleCine: () => layout.toggleCine(),
  };

  // ---- panels
  const tools = toolsPanel(viewer, session, actions, { canSeeModel });
  const discardButton = tools.discard;
  const display = displayPanel(viewer, { suvUnavailableReason: caseData.suv_factor ? null : caseData.suv_unavailable_reason });
  const overlays = overlayPanel(viewer);
  const help = helpPanel();
  let faceNames = caseData.face_names || {};
  let margin = canSeeModel ? marginPanel(viewer, caseData.margin, caseData.model, faceNames) : null;
  const marginSlot = h("div", { class: "pv-slot" }, margin ? margin.element : null);
  const rc = config.readContext || {};
  const callAllowed = rc.canCall !== false && rc.callAllowed !== false;
  const callForm = callAllowed
    ? createCallForm({
        api,
        readContext: rc,
        thresholdMm: rc.thresholdMm ?? caseData.margin?.threshold_mm ?? 1,
        beforeSubmit: async () => {
          if (session.dirty || (!session.current && countNonzero(viewer.mask) > 0)) await saveMask();
          return session.current?.id ?? null;
        },
        onStatus: (text) => setStatus(text, "success"),
      })
    : null;
  hook.timer = callForm?.timer ?? null;
  callForm?.setFaceNames(faceNames);
  const showMargin = (m, model) => {
    const next = marginPanel(viewer, m, model, faceNames);
    marginSlot.replaceChildren(next ? next.element : "");
  };
  const mip = buildMipView();
  const mipView = new MipView(mip.canvas);
  const viewsEl = h("main", { class: "pv-views", "aria-label": "Images" }, VIEWS.map((v) => views[v].element), mip.element);
  const mipShown = () => viewsEl.dataset.layout === "2x2" || viewsEl.dataset.maximised === "mip";
  const drawMip = () => {
    if (!mipShown() || !viewer.volumes.ct) return;
    mipView.project(viewer);
    mipView.draw(viewer);
  };
  let mipFrame = 0;
  const requestMip = () => {
    if (mipFrame || !mipShown()) return;
    mipFrame = requestAnimationFrame(() => {
      mipFrame = 0;
      drawMip();
    });
  };
  const layout = layoutBar(viewer, viewsEl, {
    onLayout: () => {
      for (const v of VIEWS) viewer.resize(v, views[v].body.clientWidth, views[v].body.clientHeight);
      requestMip();
    },
  });
  hook.layout = layout;
  const rois = roiPanel(viewer);
  const surfaceLatest = canSeeModel ? caseData.specimen_surface?.latest : null;
  const surface = surfaceLatest && config.canEditMask !== false
    ? surfacePanel(viewer, api, surfaceLatest, {
        onSaved: (reply) => {
          const m = { ...reply.margin, model_version: reply.margin.model_version ?? caseData.margin?.model_version };
          showMargin(m, caseData.model);
          viewer.setMargin(m);
          requestMip();
        },
        onStatus: (text, kind) => setStatus(text, kind),
      })
    : null;
  const orientSlot = h("div", { class: "pv-slot" });
  api.getOrientation().then((info) => {
    const panel = orientationPanel(api, info, {
      canEdit: !!info.can_record, // portal/access_policy.py decides; the page only mirrors it
      onSaved: (names) => {
        faceNames = names;
        callForm?.setFaceNames(names);
        if (canSeeModel) showMargin(viewer.margin ? { ...caseData.margin, ...viewer.margin } : caseData.margin, caseData.model);
        document.dispatchEvent(new CustomEvent("petct:facenames", { detail: names }));
      },
      onStatus: (text, kind) => setStatus(text, kind),
    });
    orientSlot.replaceChildren(panel.element);
  }, () => {});
  const readout = h("div", { class: "pv-readout", testid: "readout" }, formatReadout(null));
  const caseInfo = h("span", { class: "pv-caseinfo", testid: "case-info" }, `Case ${caseData.code || config.caseCode}`, config.user ? h("span", { class: "pv-muted" }, ` · ${config.user.username}${config.user.role ? ` (${config.user.role})` : ""}`) : null);

  if (surface) tools.element.append(surface.element);
  const callPane = callForm ? callForm.element : h("p", { class: "pv-card pv-muted", testid: "call-hidden" }, rc.message || "Margin calls are not recorded in this session.");
  const drawerToggle = h("button", { type: "button", class: "pv-btn pv-drawer-toggle", testid: "drawer-toggle", "aria-expanded": "false", title: "Show / hide tools and display" }, "☰ Tools");
  const leftSide = h("aside", { class: "pv-side pv-side--left", testid: "side-tools", "aria-label": "Tools and display" }, tools.element, rois.element, display.element, overlays.element, orientSlot);
  drawerToggle.addEventListener("click", () => {
    const open = leftSide.classList.toggle("is-open");
    drawerToggle.setAttribute("aria-expanded", String(open));
  });
  // Right side: tabs, so the call form (and its Submit) fits a 768 px screen without scrolling.
  const panes = [["call", "Call", callPane], ["margin", "Margin", marginSlot], ["help", "Help", help.element]].filter(([id]) => id !== "margin" || canSeeModel);
  const tabs = sideTabs(panes);
  hook.showTab = tabs.show;
  root.replaceChildren(
    h(
      "div",
      { class: "pv-app" },
      h("header", { class: "pv-topbar" }, drawerToggle, h("span", { class: "pv-brand" }, "PET-CT margin viewer"), caseInfo, layout.element, status),
      leftSide,
      viewsEl,
      h("aside", { class: "pv-side pv-side--right", "aria-label": "Margin and call" }, tabs.elements),
      h("footer", { class: "pv-footer" }, readout),
    ),
  );
  // Fill the window below the site header, whatever its height.
  const fitHeight = () => root.style.setProperty("--pv-offset", `${Math.max(0, root.getBoundingClientRect().top + window.scrollY)}px`);
  fitHeight();
  window.addEventListener("resize", fitHeight);

  // ---- wiring
  const keys = attachKeyboard(viewer, actions);
  // Clicking a button keeps the keyboard focus where it was (usually an image), so Space+drag,
  // arrows and shortcuts keep working; keyboard users can still tab to every button.
  root.addEventListener("mousedown", (e) => {
    if (e.button === 0 && e.target.closest?.("button")) e.preventDefault();
  });
  for (const v of VIEWS) {
    const { canvas, slider, body } = views[v];
    attachPointer(viewer, v, canvas, keys, { onDoubleClick: (view) => layout.toggleMaximise(view) });
    slider.max = String(viewer.specs[v].sliceCount - 1);
    slider.addEventListener("input", () => viewer.setSlice(v, parseInt(slider.value, 10)));
    slider.addEventListener("keydown", (e) => e.stopPropagation());
    const ro = new ResizeObserver(() => viewer.resize(v, body.clientWidth, body.clientHeight));
    ro.observe(body);
    viewer.resize(v, body.clientWidth, body.clientHeight);
  }
  const syncViews = () => {
    const slices = viewer.slices;
    for (const v of VIEWS) {
      const { slider, label, element } = views[v];
      if (slider.value !== String(slices[v])) slider.value = String(slices[v]);
      const spec = viewer.specs[v];
      label.textContent = `${slices[v] + 1} / ${spec.sliceCount}`;
      element.classList.toggle("is-active", viewer.activeView === v);
      element.dataset.tool = viewer.tool;
    }
  };
  mip.canvas.addEventListener("dblclick", () => layout.toggleMaximise("mip"));
  new ResizeObserver(() => {
    mipView.resize(mip.body.clientWidth, mip.body.clientHeight);
    requestMip();
  }).observe(mip.body);
  const updateAll = () => {
    syncViews();
    tools.update();
    display.update();
    overlays.update();
    rois.update();
    surface?.update();
    requestMip();
  };
  viewer.addEventListener("change", updateAll);
  viewer.addEventListener("mask", () => tools.update());
  let readoutView = null;
  viewer.addEventListener("hover", (e) => {
    readout.textContent = formatReadout(e.detail);
    const view = viewer.hover?.view ?? null;
    if (readoutView && readoutView !== view) views[readoutView].readout.textContent = "";
    if (view) views[view].readout.textContent = shortReadout(e.detail);
    readoutView = view;
  });
  viewer.addEventListener("specimen", () => {
    surface?.update();
    requestMip();
  });
  viewer.addEventListener("notice", (e) => setStatus(e.detail.text, "warning"));
  viewer.addEventListener("ruler", (e) => setStatus(`Ruler: ${formatMm(e.detail.mm)}`));
  let shownError = null;
  session.addEventListener("state", () => {
    tools.update();
    const err = session.draftError;
    if (err && err !== shownError) {
      shownError = err;
      setStatus(`Autosave of the draft failed: ${err.detail || err.message}`, "warning");
    }
  });
  const lamellaCaption = applyLamella(viewer, rc, views.axial.slider); // lamella studies: that slice first
  if (lamellaCaption) caseInfo.append(h("span", { class: "pv-muted", testid: "lamella-info" }, ` · ${lamellaCaption}`));
  updateAll();
  viewer.firstImage.then((ms) => (timings.firstImageMs = ms));

  // ---- volumes
  const progress = await loadVolumes({ api, viewer, grid, caseData, canSeeModel, canSeeGT, setStatus });
  const myMaskFailed = progress["my mask"] === "failed";
  timings.volumesLoadedMs = performance.now() - MODULE_START;
  session.markLoaded();

  const draft = myMaskFailed ? { restored: false } : await session.restoreDraft();
  if (draft.restored) {
    const when = draft.updated ? ` from ${new Date(draft.updated).toLocaleString()}` : "";
    discardButton.hidden = false;
    setStatus(`Restored your unsaved draft${when}. Save to keep it as a new version, or discard it.`, "warning");
  } else if (!Object.values(progress).includes("failed")) {
    const v = session.current ? `my mask version ${session.current.version}` : "no saved mask yet";
    setStatus(`Case ${caseData.code || config.caseCode} ready · ${v}.`, "success");
  }
  const editable = config.canEditMask !== false;
  viewer.editable = editable;
  if (editable) {
    session.start();
  } else {
    // Read-only here (waiting for a session, study closed, call final): the server would refuse saves.
    for (const id of ["tool-brush", "tool-eraser", "tool-petbrush", "tool-polygon", "save-mask", "from-model", "clear-slice", "undo", "redo"]) {
      const control = root.querySelector(`[data-testid="${id}"]`);
      if (control) control.disabled = true;
    }
  }
  updateAll();

  hook.reloadModel = followModel({ api, viewer, grid, caseData, canSeeModel, showMargin, setStatus });

  if (viewer.volumes.ct) await viewer.firstImage;
  timings.readyMs = performance.now() - MODULE_START;
  return { ...timings };
}

main().then(resolveReady, (err) => {
  console.error(err);
  rejectReady(err);
});
