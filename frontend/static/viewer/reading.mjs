/**
 * Reading controls beside the three planes: the layout bar (1x3, 2x2 with MIP, 1x1, maximise by
 * double-click) with cine, the ellipse-ROI list, editing the specimen surface, and the specimen
 * orientation (scanner face -> anatomical name). Each builder returns {element, update()}.
 */

import { h } from "./dom.mjs";
import { maskPayload } from "./maskcodec.mjs";
import { faceLabel } from "./callform.mjs";
import { formatPet } from "./roi.mjs";

export const LAYOUTS = Object.freeze([["main", "1+2"], ["1x3", "1x3"], ["2x2", "2x2 MIP"], ["1x1", "1x1"]]);
const FACES = ["+x", "-x", "+y", "-y", "+z", "-z"];

/** Layout buttons and cine (play/pause through the active view's slices at `fps`). */
export function layoutBar(viewer, viewsEl, { onLayout }) {
  let maximised = "";
  let timer = 0;
  const state = { layout: "main", fps: 8 };
  const apply = () => {
    viewsEl.dataset.layout = state.layout;
    viewsEl.dataset.maximised = maximised;
    buttons.forEach((b, n) => b.setAttribute("aria-pressed", String(LAYOUTS[n][0] === state.layout)));
    onLayout?.(state.layout, maximised);
  };
  const setLayout = (id) => {
    state.layout = id;
    maximised = "";
    apply();
  };
  const buttons = LAYOUTS.map(([id, text]) => h("button", { type: "button", class: "pv-seg", testid: `layout-${id}`, onclick: () => setLayout(id) }, text));
  const play = h("button", { type: "button", class: "pv-btn", testid: "cine-toggle", title: "Cine: play / pause the active view (Space)", "aria-pressed": "false" }, "▶ Cine");
  const fps = h("input", { type: "number", min: "1", max: "30", step: "1", value: "8", testid: "cine-fps", "aria-label": "Cine frames per second" });
  fps.addEventListener("keydown", (e) => e.stopPropagation());
  const tick = () => {
    const view = viewer.activeView;
    const n = viewer.specs[view].sliceCount;
    viewer.setSlice(view, (viewer.slices[view] + 1) % n);
  };
  const stop = () => {
    clearInterval(timer);
    timer = 0;
  };
  const start = () => {
    stop();
    timer = setInterval(tick, 1000 / state.fps);
  };
  const toggleCine = () => {
    if (timer) stop();
    else start();
    play.setAttribute("aria-pressed", String(!!timer));
    play.textContent = timer ? "❚❚ Cine" : "▶ Cine";
  };
  play.addEventListener("click", toggleCine);
  fps.addEventListener("change", () => {
    state.fps = Math.min(30, Math.max(1, parseInt(fps.value, 10) || 8));
    fps.value = String(state.fps);
    if (timer) start();
  });
  const element = h(
    "div",
    { class: "pv-layoutbar" },
    h("div", { class: "pv-segmented", role: "group", "aria-label": "Layout" }, buttons),
    play,
    h("label", { class: "pv-muted pv-fps" }, fps, "fps"),
  );
  /** Double-click: that view alone; again: back to the layout. */
  const toggleMaximise = (view) => {
    maximised = maximised === view ? "" : view;
    apply();
  };
  apply();
  return { element, setLayout, toggleMaximise, toggleCine, get playing() { return !!timer; }, get state() { return { ...state, maximised }; } };
}


/** Statistics of each ellipse ROI (ROI tool, L). */
export function roiPanel(viewer) {
  const list = h("ol", { class: "pv-rois", testid: "roi-list" });
  const clear = h("button", { type: "button", class: "pv-btn pv-btn--link", testid: "clear-rois", onclick: () => viewer.clearRois() }, "Clear ROIs");
  const element = h("section", { class: "pv-card", testid: "roi-panel" }, h("h2", {}, "Ellipse ROI"),
    h("p", { class: "pv-muted pv-note" }, "ROI tool (L): drag an ellipse. SUVpeak = mean of a 1 cm³ sphere around the ROI's maximum."), list, clear);
  const update = () => {
    element.hidden = viewer.rois.length === 0 && viewer.tool !== "roi";
    list.replaceChildren(...viewer.rois.map((r, n) => {
      const s = r.stats;
      return h("li", { testid: `roi-${n + 1}`, dataset: { max: s.max ?? "", mean: s.mean ?? "", peak: s.peak ?? "", area: s.areaMm2 } },
        `${r.view} ${r.slice + 1}: max ${formatPet(s.max, s.units)}, mean ${formatPet(s.mean, s.units)}, peak ${formatPet(s.peak, s.units)} ${s.units}; `
        + `area ${s.areaMm2.toFixed(1)} mm² (${s.n} px)${s.huMean !== null ? `, CT ${Math.round(s.huMean)} HU` : ""}`);
    }));
  };
  return { element, update };
}

/**
 * Edit target (my mask or the specimen surface) and saving a corrected surface as a new version
 * (parent = the version shown). `onSaved(reply)` gets {surface, margin}.
 */
export function surfacePanel(viewer, api, latest, { onSaved, onStatus }) {
  let current = latest; // {id, version, source}
  let savedRevision = viewer.specimenRevision;
  let saving = false;
  const targets = [["mine", "My mask"], ["specimen", "Specimen surface"]].map(([id, text]) =>
    h("button", { type: "button", class: "pv-seg", testid: `edit-target-${id}`, onclick: () => viewer.setEditTarget(id) }, text));
  const save = h("button", { type: "button", class: "pv-btn pv-btn--primary", testid: "save-surface", title: "Save the corrected surface as a new version and re-run the margin analysis" }, "Save surface");
  const state = h("div", { class: "pv-muted", testid: "surface-state" });
  save.addEventListener("click", async () => {
    if (saving || !viewer.volumes.specimen) return;
    saving = true;
    update();
    onStatus("Saving the specimen surface and re-running the margin analysis…", "info");
    try {
      const reply = await api.saveSpecimenSurface(maskPayload(viewer.volumes.specimen, viewer.shape, current?.id ?? null));
      current = reply.surface;
      savedRevision = viewer.specimenRevision;
      onSaved(reply);
      onStatus(`Specimen surface saved as version ${reply.surface.version}; margin updated.`, "success");
    } catch (err) {
      onStatus(`Could not save the specimen surface: ${err.detail || err.message}`, "error");
    } finally {
      saving = false;
      update();
    }
  });
  const element = h("div", { class: "pv-surface", testid: "surface-edit" },
    h("div", { class: "pv-segmented", role: "group", "aria-label": "Edit" }, targets), h("div", { class: "pv-row" }, save), state);
  const update = () => {
    targets.forEach((b, n) => b.setAttribute("aria-pressed", String(["mine", "specimen"][n] === viewer.editTarget)));
    const dirty = viewer.specimenRevision !== savedRevision;
    save.hidden = viewer.editTarget !== "specimen" && !dirty;
    save.disabled = saving || !dirty;
    state.textContent = `Surface version ${current?.version ?? "–"}${dirty ? " · unsaved changes" : ""}`;
    state.dataset.dirty = String(dirty);
    state.dataset.version = String(current?.version ?? "");
  };
  update();
  return { element, update, get current() { return current; } };
}

/**
 * The specimen orientation: how it is recorded (scanner directions, or a site suture convention)
 * and the face each direction or suture points to. `canEdit`: administrators and pathologists.
 */
export function orientationPanel(api, info, { canEdit, onSaved, onStatus }) {
  const names = { ...info.face_names };
  const body = h("div", { class: "pv-orient" });
  const current = h("p", { class: "pv-muted", testid: "orientation-current" });
  const conventions = info.conventions || [];
  const mode = h("select", { testid: "orientation-convention", "aria-label": "How the orientation is given" },
    h("option", { value: "" }, "Scanner directions"), conventions.map((c) => h("option", { value: c.id }, c.label)));
  const rows = h("div", { class: "pv-orient__rows" });
  let selects = {};
  const build = () => {
    const conv = conventions.find((c) => c.id === mode.value);
    const keys = conv ? Object.keys(conv.markers) : ["superior", "lateral", "anterior"];
    selects = {};
    rows.replaceChildren(...keys.map((key) => {
      const select = h("select", { testid: `orientation-${key.replace(/\s+/g, "-")}`, "aria-label": `Scanner face of ${key}` },
        h("option", { value: "" }, "–"), FACES.map((f) => h("option", { value: f }, f)));
      selects[key] = select;
      return h("label", { class: "pv-field" }, h("span", {}, conv ? `${key} (${conv.markers[key]})` : key), select);
    }));
  };
  mode.addEventListener("change", build);
  const save = h("button", { type: "button", class: "pv-btn", testid: "orientation-save" }, "Save orientation");
  save.addEventListener("click", async () => {
    const chosen = Object.fromEntries(Object.entries(selects).filter(([, s]) => s.value).map(([k, s]) => [k, s.value]));
    const payload = mode.value ? { convention: mode.value, markers: chosen } : { directions: chosen };
    try {
      const reply = await api.saveOrientation(payload);
      Object.assign(names, reply.face_names);
      onSaved(reply.face_names);
      onStatus(`Orientation version ${reply.version} saved; faces renamed.`, "success");
      show(reply.version);
    } catch (err) {
      onStatus(`Orientation not saved: ${err.detail || err.message}`, "error");
    }
  });
  const show = (version) => {
    const named = FACES.filter((f) => names[f] && names[f] !== f).map((f) => faceLabel(f, names));
    current.textContent = named.length ? `Version ${version}: ${named.join(", ")}` : "Not recorded: faces are scanner directions (+x … −z).";
  };
  show(info.latest?.version);
  build();
  if (canEdit) body.append(mode, rows, save);
  const element = h("details", { class: "pv-card pv-details", testid: "orientation-panel" }, h("summary", {}, "Specimen orientation"), current, body);
  return { element, update() {} };
}
