/**
 * The Viewer: display state of one case (linked cursor, slices, zoom/pan, window/level,
 * PET display, overlays, tool) over the loaded volumes and the reader's editable mask,
 * and the render loop that draws the three planes. It has no knowledge of the page's
 * controls: the UI listens to its events ("change", "hover", "mask") and calls its methods.
 * Navigation, editing and measurements are mixins in viewer_navigation / _editing / _measure.mjs.
 */

import { VIEWS, planeSpec, orientationLabels, volumeBounds } from "./geometry.mjs";
import { buildGreyLut, clampWindowLevel, presetById, DEFAULT_PRESET, robustRange } from "./windowing.mjs";
import { PlaneRenderer, buildPetTables, petScaling } from "./renderer.mjs";
import { History } from "./history.mjs";
import { layersOf, composeView } from "./painter.mjs";
import { withNavigation } from "./viewer_navigation.mjs";
import { withEditing } from "./viewer_editing.mjs";
import { withMeasurements } from "./viewer_measure.mjs";

export const TOOLS = Object.freeze(["wl", "navigate", "zoom", "pan", "brush", "eraser", "petbrush", "polygon", "ruler", "roi"]);
/** What the editing tools write into: the reader's mask or the specimen surface. */
export const EDIT_TARGETS = Object.freeze(["mine", "specimen"]);
export const EDIT_TOOLS = new Set(["brush", "eraser", "petbrush", "polygon"]);
export const MODES = Object.freeze(["fused", "ct", "pet"]);
/** Label overlays, drawn bottom to top. */
export const MASK_OVERLAYS = Object.freeze(["specimen", "model", "gt", "mine"]);

const DEFAULT_OVERLAYS = () => ({
  specimen: { label: "Specimen outline", visible: true, color: "#5ab4ff", style: "contour", available: false },
  uncertainty: { label: "Model uncertainty", visible: false, opacity: 0.6, available: false },
  model: { label: "Model segmentation", visible: true, color: "#f5a623", style: "contour", available: false },
  gt: { label: "Ground truth", visible: true, color: "#ff5fd2", style: "contour", available: false },
  mine: { label: "My mask", visible: true, color: "#39d98a", style: "both", available: true },
  margin: { label: "Closest margin", visible: true, available: false },
});

export class Viewer extends withMeasurements(withEditing(withNavigation(EventTarget))) {
  /**
   * @param grid   {shape, spacing, origin, direction} (geometry.createGrid)
   * @param views  {axial: HTMLCanvasElement, coronal: ..., sagittal: ...}
   * @param options {suvFactor, moduleStart}
   */
  constructor(grid, views, { suvFactor = null, moduleStart = 0, createCanvas } = {}) {
    super();
    this.grid = grid;
    this.shape = grid.shape;
    this.voxels = grid.shape[0] * grid.shape[1] * grid.shape[2];
    this.specs = Object.fromEntries(VIEWS.map((v) => [v, planeSpec(v, grid.shape, grid.spacing)]));
    this.letters = Object.fromEntries(VIEWS.map((v) => [v, orientationLabels(v, grid.direction)]));
    this.canvases = views;
    this.sizes = Object.fromEntries(VIEWS.map((v) => [v, { w: 1, h: 1, dpr: 1 }]));
    this.renderers = Object.fromEntries(VIEWS.map((v) => [v, new PlaneRenderer(createCanvas)]));
    this.volumes = { ct: null, pet: null, specimen: null, model: null, uncertainty: null, gt: null };
    this.mask = new Uint8Array(this.voxels);
    this.bounds = { mine: null }; // voxel boxes that limit overlay passes (see renderer)
    this.histories = { mine: new History(), specimen: new History() };
    this.editTarget = "mine";
    this.revision = 0; // my mask only (the session saves on it)
    this.specimenRevision = 0;
    this.rois = [];
    this.roiDraft = null;
    this.cursor = grid.shape.map((n) => Math.floor(n / 2));
    this.viewState = Object.fromEntries(VIEWS.map((v) => [v, { zoom: 1, panX: 0, panY: 0 }]));
    const preset = presetById(DEFAULT_PRESET);
    this.wl = { window: preset.window, level: preset.level, preset: preset.id };
    this.suvFactor = suvFactor || null;
    this.pet = { colormap: "hot", min: 1, max: 10, opacity: 0.55, units: suvFactor ? "SUV" : "Bq/ml" };
    this.mode = "fused";
    this.overlays = DEFAULT_OVERLAYS();
    this.fillOpacity = 0.35;
    this.tool = "wl"; // OHIF / Slicer: left drag adjusts window/level
    this.brushRadiusMm = 1.0;
    this.petThreshold = suvFactor ? 2.5 : 5000;
    this.activeView = "axial";
    this.smooth = false;
    this.showCrosshair = true;
    this.rulers = [];
    this.rulerDraft = null;
    this.polygon = null;
    this.hover = null;
    this.margin = null;
    this.stroke = null;
    this.moduleStart = moduleStart;
    this.timings = { firstImageMs: null, firstImageAt: null, lastRenderMs: null };
    this.tables = {};
    this.#dirtyImage = new Set(VIEWS);
    this.#dirtyCompose = new Set(VIEWS);
    this.#rebuildGrey();
    this.#rebuildPetTables();
    this.#firstImage = new Promise((resolve) => (this.#resolveFirstImage = resolve));
  }

  #dirtyImage;
  #dirtyCompose;
  #frame = 0;
  #firstImage;
  #resolveFirstImage;

  get history() {
    return this.histories[this.editTarget];
  }

  /** The array the editing tools change. */
  get editArray() {
    return this.editTarget === "specimen" ? this.volumes.specimen : this.mask;
  }

  /** Edit my mask or the specimen surface (which must be loaded). */
  setEditTarget(target) {
    if (!EDIT_TARGETS.includes(target) || target === this.editTarget) return;
    if (target === "specimen" && !this.volumes.specimen) {
      this._emit("notice", { text: "The specimen surface is not loaded." });
      return;
    }
    this.cancelDrafts();
    this.editTarget = target;
    if (target === "specimen") this.setOverlay("specimen", { visible: true });
    this._emit("change");
  }

  /** Promise resolved when the first CT image has been drawn. */
  get firstImage() {
    return this.#firstImage;
  }

  // ---------------------------------------------------------------- data

  /** Attach a loaded volume (typed array in C order on the working grid). */
  setVolume(name, data) {
    if (data && data.length !== this.voxels) throw new Error(`${name}: ${data.length} voxels, grid has ${this.voxels}`);
    this.volumes[name] = data;
    if (name === "pet" && data) this.#autoPetWindow();
    if (name === "specimen") {
      this.histories.specimen.clear();
      this.specimenRevision = 0;
    }
    if (name === "uncertainty" && data) {
      const heatMax = Math.max(1e-6, robustRange(data, { lowPercentile: 0, highPercentile: 99.9 })[1]);
      this.tables.heatMax = heatMax;
      this.bounds.uncertainty = volumeBounds(data, this.shape, (v) => v >= (heatMax * 13) / 255);
    }
    if (["specimen", "model", "gt"].includes(name)) this.bounds[name] = data ? volumeBounds(data, this.shape) : null;
    const key = { specimen: "specimen", model: "model", gt: "gt", uncertainty: "uncertainty" }[name];
    if (key) this.overlays[key].available = !!data;
    this.requestRender();
    // Draw the first CT image at once rather than on the next animation frame, which can
    // come late while the other volumes are still being decoded.
    if (name === "ct" && data && this.timings.firstImageMs === null) this.flush();
    this._emit("change");
  }


  setMargin(margin) {
    this.margin = margin && margin.closest_point ? margin : null;
    this.overlays.margin.available = !!this.margin;
    this.requestRender(VIEWS, false);
    this._emit("change");
  }

  #autoPetWindow() {
    const f = this.suvFactor || 1;
    const [, hi] = robustRange(this.volumes.pet, { lowPercentile: 0, highPercentile: 99.9, ignoreBelow: 1e-9 });
    const max = hi * f > 0 ? hi * f : 1;
    this.pet.max = roundNice(max);
    this.pet.min = roundNice(max * 0.25);
    if (!this.suvFactor) this.petThreshold = roundNice(max * 0.4);
    this.#rebuildPetTables();
  }

  // ---------------------------------------------------------------- display settings

  setWindowLevel(window, level, preset = null) {
    const wl = clampWindowLevel(window, level);
    if (wl.window === this.wl.window && wl.level === this.wl.level && preset === this.wl.preset) return;
    this.wl = { ...wl, preset };
    this.#rebuildGrey();
    this.requestRender();
    this._emit("change");
  }

  applyPreset(id) {
    const p = presetById(id);
    if (p) this.setWindowLevel(p.window, p.level, p.id);
  }

  setPet(changes) {
    Object.assign(this.pet, changes);
    if (this.pet.max <= this.pet.min) this.pet.max = this.pet.min + Math.abs(this.pet.min || 1) * 0.01 + 1e-6;
    this.#rebuildPetTables();
    this.requestRender();
    this._emit("change");
  }

  setMode(mode) {
    if (!MODES.includes(mode)) return;
    this.mode = mode;
    this.requestRender();
    this._emit("change");
  }

  cycleMode() {
    this.setMode(MODES[(MODES.indexOf(this.mode) + 1) % MODES.length]);
  }

  setOverlay(name, changes) {
    Object.assign(this.overlays[name], changes);
    this.requestRender(VIEWS, name !== "margin");
    this._emit("change");
  }

  setFillOpacity(opacity) {
    this.fillOpacity = Math.min(1, Math.max(0, opacity));
    this.requestRender();
    this._emit("change");
  }

  setSmooth(on) {
    this.smooth = !!on;
    this.requestRender(VIEWS, false);
    this._emit("change");
  }

  toggleCrosshair() {
    this.showCrosshair = !this.showCrosshair;
    this.requestRender(VIEWS, false);
  }

  setTool(tool) {
    if (!TOOLS.includes(tool) || tool === this.tool) return;
    if (this.editable === false && EDIT_TOOLS.has(tool)) return; // the server refuses edits in this context
    if (this.tool === "polygon") this.polygon = null;
    this.rulerDraft = null;
    this.tool = tool;
    this.requestRender(VIEWS, false);
    this._emit("change");
  }

  setBrushRadius(mm) {
    this.brushRadiusMm = Math.min(50, Math.max(0.05, Number(mm) || this.brushRadiusMm));
    this.requestRender(VIEWS, false);
    this._emit("change");
  }

  setPetThreshold(value) {
    if (Number.isFinite(value)) this.petThreshold = value;
    this._emit("change");
  }

  #rebuildGrey() {
    this.tables.greyLut = buildGreyLut(this.wl.window, this.wl.level, this.tables.greyLut);
  }

  #rebuildPetTables() {
    this.tables.pet = buildPetTables(this.pet.colormap, this.pet.opacity, this.tables.pet);
    Object.assign(this.tables, petScaling(this.pet.min, this.pet.max, this.suvFactor));
  }

  // ---------------------------------------------------------------- rendering

  /** Canvas CSS size changed. */
  resize(view, w, h, dpr = globalThis.devicePixelRatio || 1) {
    const canvas = this.canvases[view];
    this.sizes[view] = { w: Math.max(1, w), h: Math.max(1, h), dpr };
    canvas.width = Math.max(1, Math.round(w * dpr));
    canvas.height = Math.max(1, Math.round(h * dpr));
    this.requestRender([view], false);
  }

  /** Mark views for redraw; `image` false means only the annotations changed. */
  requestRender(views = VIEWS, image = true) {
    for (const v of views) {
      this.#dirtyCompose.add(v);
      if (image) this.#dirtyImage.add(v);
    }
    if (!this.#frame && typeof requestAnimationFrame === "function") {
      this.#frame = requestAnimationFrame(() => {
        this.#frame = 0;
        this.flush();
      });
    }
  }

  /** Draw every dirty view now. */
  flush() {
    for (const v of VIEWS) {
      if (!this.#dirtyCompose.has(v)) continue;
      const t0 = performance.now();
      if (this.#dirtyImage.has(v)) this.renderImage(v);
      this.compose(v);
      this.timings.lastRenderMs = performance.now() - t0;
    }
    this.#dirtyImage.clear();
    this.#dirtyCompose.clear();
    if (this.timings.firstImageMs === null && this.volumes.ct) {
      const now = performance.now();
      this.timings.firstImageAt = now;
      this.timings.firstImageMs = now - this.moduleStart;
      this.#resolveFirstImage(this.timings.firstImageMs);
    }
  }

  layers() {
    return layersOf(this);
  }

  renderImage(view) {
    this.renderers[view].render(this.specs[view], this.slices[view], layersOf(this));
  }

  compose(view) {
    composeView(this, view);
  }

  /** Mean ms of `n` full renders (image + compose) of a view. */
  benchmarkRender(n = 50, view = "axial") {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      this.renderImage(view);
      this.compose(view);
    }
    return (performance.now() - t0) / n;
  }

  /** Dispatch a viewer event (for the mixins too: a private method would be out of their reach). */
  _emit(type, detail = null) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function roundNice(x) {
  if (!(x > 0)) return 0;
  const p = Math.pow(10, Math.floor(Math.log10(x)) - 1);
  return Math.round(x / p) * p;
}