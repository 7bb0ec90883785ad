/**
 * Control panels beside the image: tools and mask editing, display (CT window/level,
 * PET colour overlay, view mode), overlays, the model's margin summary and the
 * shortcut help. Each builder returns {element, update()}; update() re-reads the
 * viewer state and is called on the viewer's "change" events.
 */

import { h } from "./dom.mjs";
import { PRESETS } from "./windowing.mjs";
import { COLORMAP_NAMES, getColormap, lutCss } from "./colormaps.mjs";
import { SHORTCUTS } from "./tools.mjs";
import { formatMm } from "./ruler.mjs";
import { marginFacts } from "./marginfacts.mjs";
import { faceLabel } from "./callform.mjs";

const TOOL_BUTTONS = [
  ["wl", "W/L", "W", "Left drag: right = wider window, down = higher level (default)"],
  ["navigate", "Crosshair", "N", "Click sets the crosshair in all views (or Shift+click with any tool)"],
  ["zoom", "Zoom", "Z", "Drag up to zoom in (also right drag)"],
  ["pan", "Pan", "", "Drag to move the image (also middle drag)"],
  ["ruler", "Ruler", "M", "Drag to measure in mm"],
  ["roi", "Ellipse ROI", "L", "Drag an ellipse: SUVmax, SUVmean, SUVpeak, area"],
  ["brush", "Brush", "B", "Paint my mask"],
  ["eraser", "Eraser", "E", "Erase my mask"],
  ["petbrush", "PET brush", "T", "Paint only voxels at or above the PET threshold"],
  ["polygon", "Polygon", "P", "Click points; double-click or Enter fills"],
];

const isFocused = (el) => document.activeElement === el;

function numberInput(testid, { step = "any", min, max, label, onValue }) {
  const input = h("input", { type: "number", step, min, max, testid, "aria-label": label });
  const apply = () => {
    const v = parseFloat(input.value);
    if (Number.isFinite(v)) onValue(v);
  };
  input.addEventListener("input", apply);
  input.addEventListener("change", apply);
  input.addEventListener("keydown", (e) => e.stopPropagation());
  return input;
}

function setNumber(input, value, digits = 2) {
  if (isFocused(input)) return;
  const text = Number.isFinite(value) ? String(Number(value.toFixed(digits))) : "";
  if (input.value !== text) input.value = text;
}

function section(title, ...children) {
  return h("section", { class: "pv-card" }, h("h2", {}, title), ...children);
}

/** Tools, brush settings, undo/redo, save. `actions`: {save, startFromModel, discardDraft}. */
export function toolsPanel(viewer, session, actions, { canSeeModel }) {
  const toolButtons = TOOL_BUTTONS.map(([id, text, key, hint]) =>
    h("button", { type: "button", class: "pv-tool", testid: `tool-${id}`, title: `${hint}${key ? ` (${key})` : ""}`, onclick: () => viewer.setTool(id) }, text, key ? h("kbd", {}, key) : null),
  );
  const radius = numberInput("brush-radius", { step: "0.1", min: "0.05", max: "50", label: "Brush radius in mm", onValue: (v) => viewer.setBrushRadius(v) });
  const threshold = numberInput("pet-threshold", { step: "0.1", min: "0", label: "PET brush threshold", onValue: (v) => viewer.setPetThreshold(v) });
  const thresholdUnits = h("span", { class: "pv-muted", testid: "pet-threshold-units" });
  const undo = h("button", { type: "button", class: "pv-btn", testid: "undo", title: "Undo (Ctrl+Z)", onclick: () => viewer.undo() }, "Undo");
  const redo = h("button", { type: "button", class: "pv-btn", testid: "redo", title: "Redo (Ctrl+Y)", onclick: () => viewer.redo() }, "Redo");
  const clear = h("button", { type: "button", class: "pv-btn", testid: "clear-slice", title: "Erase my mask on the slice of the active view", onclick: () => viewer.clearSlice() }, "Clear slice");
  const fromModel = canSeeModel
    ? h("button", { type: "button", class: "pv-btn", testid: "from-model", title: "Replace my mask with the model's segmentation (undoable)", onclick: () => actions.startFromModel() }, "Start from model")
    : null;
  const save = h("button", { type: "button", class: "pv-btn pv-btn--primary", testid: "save-mask", title: "Save a new version of my mask (Ctrl+S)", onclick: () => actions.save() }, "Save mask");
  const state = h("div", { class: "pv-muted pv-maskstate", testid: "mask-state" });
  const discard = h("button", { type: "button", class: "pv-btn pv-btn--link", testid: "discard-draft", hidden: true, onclick: () => actions.discardDraft() }, "Discard restored draft");
  const clearRulers = h("button", { type: "button", class: "pv-btn pv-btn--link", testid: "clear-rulers", onclick: () => viewer.clearRulers() }, "Clear rulers");

  const element = section(
    "Tools",
    h("div", { class: "pv-tools" }, toolButtons),
    h("div", { class: "pv-field" }, h("label", {}, "Brush radius"), radius, h("span", { class: "pv-muted" }, "mm")),
    h("div", { class: "pv-field" }, h("label", {}, "PET brush ≥"), threshold, thresholdUnits),
    h("div", { class: "pv-row" }, undo, redo, clear),
    h("div", { class: "pv-row" }, fromModel, save),
    state,
    h("div", { class: "pv-row" }, discard, clearRulers),
  );

  const update = () => {
    toolButtons.forEach((b, n) => b.setAttribute("aria-pressed", String(TOOL_BUTTONS[n][0] === viewer.tool)));
    setNumber(radius, viewer.brushRadiusMm);
    setNumber(threshold, viewer.petThreshold, 3);
    thresholdUnits.textContent = viewer.pet.units;
    undo.disabled = !viewer.history.canUndo;
    redo.disabled = !viewer.history.canRedo;
    if (fromModel) fromModel.disabled = !viewer.volumes.model;
    save.disabled = !!session.saving;
    const version = session.current ? `Version ${session.current.version}` : "Not saved yet";
    const parts = [version];
    if (session.saving) parts.push("saving…");
    else if (session.dirty) parts.push("unsaved changes");
    else if (session.current) parts.push("saved");
    if (session.lastDraftAt && session.dirty) parts.push(`draft ${session.lastDraftAt.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" })}`);
    state.textContent = parts.join(" · ");
    state.dataset.dirty = String(session.dirty);
  };
  return { element, update, discard };
}

/** CT window/level, PET overlay settings and the view mode. */
export function displayPanel(viewer, { suvUnavailableReason }) {
  const modes = [["fused", "Fused"], ["ct", "CT"], ["pet", "PET"]].map(([id, text]) =>
    h("button", { type: "button", class: "pv-seg", testid: `mode-${id}`, onclick: () => viewer.setMode(id) }, text),
  );
  const win = numberInput("wl-window", { step: "1", min: "1", label: "Window width (HU)", onValue: (v) => viewer.setWindowLevel(v, viewer.wl.level) });
  const lev = numberInput("wl-level", { step: "1", label: "Window level (HU)", onValue: (v) => viewer.setWindowLevel(viewer.wl.window, v) });
  const presets = PRESETS.map((p) =>
    h("button", { type: "button", class: "pv-chip", testid: `preset-${p.id}`, title: `W ${p.window} / L ${p.level} (${p.key})`, onclick: () => viewer.applyPreset(p.id) }, p.label),
  );
  const cmap = h("select", { testid: "pet-colormap", "aria-label": "PET colour map", onchange: (e) => viewer.setPet({ colormap: e.target.value }) }, COLORMAP_NAMES.filter((n) => n !== "grey").map((n) => h("option", { value: n }, n)));
  const pmin = numberInput("pet-min", { step: "0.1", label: "PET display minimum", onValue: (v) => viewer.setPet({ min: v }) });
  const pmax = numberInput("pet-max", { step: "0.1", label: "PET display maximum", onValue: (v) => viewer.setPet({ max: v }) });
  const opacity = h("input", { type: "range", min: "0", max: "1", step: "0.05", testid: "pet-opacity", "aria-label": "PET opacity", oninput: (e) => viewer.setPet({ opacity: parseFloat(e.target.value) }) });
  const units = h("span", { class: "pv-muted pv-units", testid: "pet-units" });
  const bar = h("div", { class: "pv-colorbar", testid: "pet-colorbar" });
  const ticks = h("div", { class: "pv-colorbar__ticks", testid: "pet-colorbar-ticks" });
  const smooth = h("input", { type: "checkbox", testid: "smooth", onchange: (e) => viewer.setSmooth(e.target.checked) });
  const reset = h("button", { type: "button", class: "pv-btn", testid: "reset-views", title: "Reset zoom and pan (R)", onclick: () => viewer.resetView() }, "Reset views");
  const suvNote = suvUnavailableReason || !viewer.suvFactor
    ? h("p", { class: "pv-note", testid: "suv-unavailable" }, `SUV unavailable${suvUnavailableReason ? `: ${suvUnavailableReason}` : ""}. PET is shown in Bq/ml.`)
    : null;

  const element = section(
    "Display",
    h("div", { class: "pv-segmented", role: "group", "aria-label": "View mode" }, modes),
    h("h3", {}, "CT window"),
    h("div", { class: "pv-field" }, h("label", {}, "W"), win, h("label", {}, "L"), lev, h("span", { class: "pv-muted" }, "HU")),
    h("div", { class: "pv-chips" }, presets),
    h("h3", {}, "PET ", units),
    suvNote,
    h("div", { class: "pv-field" }, h("label", {}, "Min"), pmin, h("label", {}, "Max"), pmax),
    bar,
    ticks,
    h("div", { class: "pv-field" }, cmap, h("label", {}, "Opacity"), opacity),
    h("div", { class: "pv-row pv-row--spread" }, h("label", { class: "pv-check" }, smooth, "Smooth pixels"), reset),
  );

  const update = () => {
    modes.forEach((b, n) => b.setAttribute("aria-pressed", String(["fused", "ct", "pet"][n] === viewer.mode)));
    setNumber(win, viewer.wl.window, 0);
    setNumber(lev, viewer.wl.level, 0);
    presets.forEach((b, n) => b.setAttribute("aria-pressed", String(PRESETS[n].id === viewer.wl.preset)));
    if (cmap.value !== viewer.pet.colormap) cmap.value = viewer.pet.colormap;
    setNumber(pmin, viewer.pet.min, 3);
    setNumber(pmax, viewer.pet.max, 3);
    if (!isFocused(opacity)) opacity.value = String(viewer.pet.opacity);
    units.textContent = viewer.pet.units;
    const lut = getColormap(viewer.pet.colormap);
    bar.style.background = `linear-gradient(to right, ${[0, 64, 128, 192, 255].map((n) => lutCss(lut, n)).join(", ")})`;
    bar.dataset.min = viewer.pet.min;
    bar.dataset.max = viewer.pet.max;
    const values = colorbarTicks(viewer.pet.min, viewer.pet.max);
    const text = values.map((x) => formatTick(x, viewer.pet.units)).join("|") + viewer.pet.units;
    if (ticks.dataset.text !== text) {
      ticks.dataset.text = text;
      ticks.replaceChildren(...values.map((x) => h("span", {}, formatTick(x, viewer.pet.units))), h("span", { class: "pv-muted" }, viewer.pet.units));
    }
    smooth.checked = viewer.smooth;
  };
  return { element, update };
}

/** Five evenly spaced values from the display minimum to the maximum (the colour bar's ticks). */
export function colorbarTicks(min, max, n = 5) {
  return Array.from({ length: n }, (_, k) => min + ((max - min) * k) / (n - 1));
}

export function formatTick(x, units) {
  if (units !== "SUV") {
    if (Math.abs(x) >= 1000) return `${(x / 1000).toFixed(x >= 10000 ? 0 : 1)}k`;
    return Math.abs(x) >= 10 ? String(Math.round(x)) : String(Number(x.toPrecision(2)));
  }
  return Math.abs(x) >= 10 ? x.toFixed(0) : x.toFixed(1);
}

/** Overlay toggles, colours and contour / fill style. */
export function overlayPanel(viewer) {
  const rows = {};
  const styleSelect = (name) =>
    h("select", { testid: `overlay-${name}-style`, "aria-label": `${name} style`, onchange: (e) => viewer.setOverlay(name, { style: e.target.value }) },
      h("option", { value: "contour" }, "contour"), h("option", { value: "fill" }, "filled"), h("option", { value: "both" }, "both"));
  const make = (name) => {
    const o = viewer.overlays[name];
    const check = h("input", { type: "checkbox", testid: `overlay-${name}`, onchange: (e) => viewer.setOverlay(name, { visible: e.target.checked }) });
    const parts = [h("label", { class: "pv-check" }, check, o.label)];
    let color = null;
    let style = null;
    let opacity = null;
    if ("color" in o) {
      color = h("input", { type: "color", testid: `overlay-${name}-color`, "aria-label": `${o.label} colour`, oninput: (e) => viewer.setOverlay(name, { color: e.target.value }) });
      style = styleSelect(name);
      parts.push(h("span", { class: "pv-overlay__ctl" }, color, style));
    } else if (name === "uncertainty") {
      opacity = h("input", { type: "range", min: "0", max: "1", step: "0.05", testid: "uncertainty-opacity", "aria-label": "Uncertainty opacity", oninput: (e) => viewer.setOverlay(name, { opacity: parseFloat(e.target.value) }) });
      parts.push(h("span", { class: "pv-overlay__ctl" }, opacity));
    }
    const row = h("div", { class: "pv-overlay", dataset: { overlay: name } }, parts);
    rows[name] = { row, check, color, style, opacity };
    return row;
  };
  const fill = h("input", { type: "range", min: "0.05", max: "1", step: "0.05", testid: "fill-opacity", "aria-label": "Fill opacity", oninput: (e) => viewer.setFillOpacity(parseFloat(e.target.value)) });
  const element = section(
    "Overlays",
    ["mine", "model", "gt", "specimen", "uncertainty", "margin"].map(make),
    h("div", { class: "pv-field" }, h("label", {}, "Fill opacity"), fill),
  );
  const update = () => {
    for (const [name, r] of Object.entries(rows)) {
      const o = viewer.overlays[name];
      r.row.hidden = !o.available;
      r.check.checked = o.visible;
      if (r.color && r.color.value !== o.color) r.color.value = o.color;
      if (r.style && r.style.value !== o.style) r.style.value = o.style;
      if (r.opacity && !isFocused(r.opacity)) r.opacity.value = String(o.opacity);
    }
    if (!isFocused(fill)) fill.value = String(viewer.fillOpacity);
  };
  return { element, update };
}

/** The model's margin result with a jump-to button. Returns null when there is none. */
export function marginPanel(viewer, margin, model, faceNames = {}) {
  if (!margin) {
    if (!model) return null;
    const element = section("Model", h("p", { class: "pv-muted", testid: "model-status" }, `Model ${model.version || ""}: ${model.run_status}${model.progress != null ? ` (${Math.round(model.progress * (model.progress <= 1 ? 100 : 1))} %)` : ""}`));
    return { element, update() {} };
  }
  const faces = margin.faces || {};
  const faceRows = Object.entries(faces).map(([face, mm]) =>
    h("tr", { dataset: { face } }, h("th", { testid: `margin-face-${face}` }, faceLabel(face, faceNames)), h("td", {}, mm === null || mm === undefined ? "–" : formatMm(mm))),
  );
  const jump = h("button", { type: "button", class: "pv-btn", testid: "jump-margin", title: "Move the crosshair to the closest tumour point (J)", onclick: () => viewer.jumpToMargin() }, "Jump to closest margin");
  const facts = marginFacts(margin);
  const status = facts.status;
  const element = h(
    "section",
    { class: "pv-card pv-margin", testid: "margin-summary" },
    h("h2", {}, "Model margin"),
    h(
      "div",
      { class: "pv-margin__main" },
      h("span", { class: `pv-badge pv-badge--${status}`, testid: "margin-status" }, facts.label),
      h("span", { class: "pv-margin__mm", testid: "margin-distance" }, facts.distance),
      h("span", { class: "pv-muted" }, facts.threshold),
    ),
    facts.explanation ? h("p", { class: "pv-margin__explain", testid: "margin-explanation" }, facts.explanation) : null,
    jump,
    faceRows.length ? h("table", { class: "pv-table" }, h("tbody", {}, faceRows)) : null,
    h(
      "dl",
      { class: "pv-dl" },
      model?.version ? [h("dt", {}, "Model"), h("dd", { testid: "model-version" }, model.version)] : null,
      facts.rows.map(([term, text, warn]) => [h("dt", {}, term), h("dd", { class: warn ? "pv-warn" : "", testid: `margin-fact-${term.toLowerCase().replace(/[^a-z]+/g, "-")}` }, text)]),
      margin.tumour_volume_ml != null ? [h("dt", {}, "Tumour volume"), h("dd", {}, `${margin.tumour_volume_ml.toFixed(2)} ml`)] : null,
      margin.suv_max != null ? [h("dt", {}, "SUV max / mean"), h("dd", {}, `${margin.suv_max.toFixed(2)} / ${margin.suv_mean != null ? margin.suv_mean.toFixed(2) : "–"}`)] : null,
    ),
    facts.qc.length
      ? h("ul", { class: "pv-qc", testid: "margin-qc" }, facts.qc.map((flag) => h("li", { class: "pv-warn", dataset: { code: flag.code } }, flag.message)))
      : null,
  );
  return { element, update() {} };
}

/** Keyboard shortcut list (visible by default, collapsible). */
export function helpPanel() {
  const list = h("dl", { class: "pv-shortcuts" }, SHORTCUTS.map(([keys, text]) => [h("dt", {}, keys), h("dd", {}, text)]));
  const element = h("details", { class: "pv-card pv-help", testid: "help-panel", open: true }, h("summary", { testid: "help-toggle" }, "Keyboard shortcuts"), list);
  return { element, toggle: () => (element.open = !element.open) };
}
