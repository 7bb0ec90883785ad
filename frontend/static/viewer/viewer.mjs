/**
 * The Viewer: display state of one case (linked cursor, slices, zoom/pan, window/level,
 * PET display, overlays, tool) over the loaded volumes and the reader's editable mask,
 * and the render loop that draws the three planes. It has no knowledge of the page's
 * controls: the UI listens to its events ("change", "hover", "mask") and calls its methods.
 */

import {
  VIEWS, planeSpec, viewTransform, screenToImage, zoomAbout, orientationLabels, clampVoxel, voxelToMm, flatIndex, inBounds,
  volumeBounds, indexBounds, unionBounds,
} from "./geometry.mjs";
import { buildGreyLut, clampWindowLevel, presetById, DEFAULT_PRESET, robustRange } from "./windowing.mjs";
import { PlaneRenderer, buildPetTables, petScaling } from "./renderer.mjs";
import { discOffsets, paintStroke, petThresholdGate, fillPolygon, fillPlane, assignFrom } from "./brush.mjs";
import { DiffRecorder, History } from "./history.mjs";
import { planeDistanceMm } from "./ruler.mjs";
import { layersOf, composeView } from "./painter.mjs";
import { ellipseStats } from "./roi.mjs";

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

export class Viewer extends EventTarget {
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
      this.#emit("notice", { text: "The specimen surface is not loaded." });
      return;
    }
    this.cancelDrafts();
    this.editTarget = target;
    if (target === "specimen") this.setOverlay("specimen", { visible: true });
    this.#emit("change");
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
    this.#emit("change");
  }

  /** Replace the reader's mask without recording history (loading a saved version or draft). */
  loadMask(data) {
    if (data.length !== this.voxels) throw new Error(`mask has ${data.length} voxels, grid has ${this.voxels}`);
    this.mask.set(data);
    this.histories.mine.clear();
    this.bounds.mine = volumeBounds(this.mask, this.shape);
    this.#maskChanged(null, "load", "mine");
  }

  setMargin(margin) {
    this.margin = margin && margin.closest_point ? margin : null;
    this.overlays.margin.available = !!this.margin;
    this.requestRender(VIEWS, false);
    this.#emit("change");
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
    this.#emit("change");
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
    this.#emit("change");
  }

  setMode(mode) {
    if (!MODES.includes(mode)) return;
    this.mode = mode;
    this.requestRender();
    this.#emit("change");
  }

  cycleMode() {
    this.setMode(MODES[(MODES.indexOf(this.mode) + 1) % MODES.length]);
  }

  setOverlay(name, changes) {
    Object.assign(this.overlays[name], changes);
    this.requestRender(VIEWS, name !== "margin");
    this.#emit("change");
  }

  setFillOpacity(opacity) {
    this.fillOpacity = Math.min(1, Math.max(0, opacity));
    this.requestRender();
    this.#emit("change");
  }

  setSmooth(on) {
    this.smooth = !!on;
    this.requestRender(VIEWS, false);
    this.#emit("change");
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
    this.#emit("change");
  }

  setBrushRadius(mm) {
    this.brushRadiusMm = Math.min(50, Math.max(0.05, Number(mm) || this.brushRadiusMm));
    this.requestRender(VIEWS, false);
    this.#emit("change");
  }

  setPetThreshold(value) {
    if (Number.isFinite(value)) this.petThreshold = value;
    this.#emit("change");
  }

  #rebuildGrey() {
    this.tables.greyLut = buildGreyLut(this.wl.window, this.wl.level, this.tables.greyLut);
  }

  #rebuildPetTables() {
    this.tables.pet = buildPetTables(this.pet.colormap, this.pet.opacity, this.tables.pet);
    Object.assign(this.tables, petScaling(this.pet.min, this.pet.max, this.suvFactor));
  }

  // ---------------------------------------------------------------- navigation

  get slices() {
    return { axial: this.cursor[0], coronal: this.cursor[1], sagittal: this.cursor[2] };
  }

  setCursor(kji) {
    const next = clampVoxel(this.shape, kji);
    const changed = VIEWS.filter((v) => next[this.specs[v].sliceAxis] !== this.cursor[this.specs[v].sliceAxis]);
    this.cursor = next;
    if (changed.length) this.#onSliceChange();
    this.requestRender(VIEWS, false);
    for (const v of changed) this.requestRender([v], true);
    this.#emit("change");
  }

  setSlice(view, slice) {
    const kji = [...this.cursor];
    kji[this.specs[view].sliceAxis] = slice;
    this.setCursor(kji);
  }

  scrollSlice(view, delta) {
    this.setSlice(view, this.slices[view] + delta);
  }

  /** Point the cursor at image point (u, v) of `view` (the view's own slice is unchanged). */
  setCursorFromView(view, u, v) {
    const spec = this.specs[view];
    const r = Math.min(spec.height - 1, Math.max(0, Math.floor(v)));
    const c = Math.min(spec.width - 1, Math.max(0, Math.floor(u)));
    this.setCursor(spec.toKji(this.slices[view], r, c));
  }

  setActiveView(view) {
    if (this.activeView === view) return;
    this.activeView = view;
    this.#emit("change");
  }

  #onSliceChange() {
    if (this.polygon && this.polygon.slice !== this.slices[this.polygon.view]) this.polygon = null;
  }

  jumpToMargin() {
    if (!this.margin) return false;
    this.setCursor(this.margin.closest_point.tumour_kji);
    return true;
  }

  /** Zoom a view about screen point (x, y); without one, about the crosshair (or the centre if it is off screen). */
  zoom(view, factor, x, y) {
    const size = this.sizes[view];
    let px = x;
    let py = y;
    if (px === undefined || py === undefined) {
      const p = this.specs[view].fromKji(...this.cursor);
      const t = this.transform(view);
      px = t.x0 + (p.col + 0.5) * t.sx;
      py = t.y0 + (p.row + 0.5) * t.sy;
      if (!(px >= 0 && px <= size.w && py >= 0 && py <= size.h)) [px, py] = [size.w / 2, size.h / 2];
    }
    this.viewState[view] = zoomAbout(this.specs[view], size.w, size.h, this.viewState[view], factor, px, py);
    this.requestRender([view], false);
    this.#emit("change");
  }

  pan(view, dx, dy) {
    const s = this.viewState[view];
    this.viewState[view] = { ...s, panX: s.panX + dx, panY: s.panY + dy };
    this.requestRender([view], false);
  }

  resetView(view = null) {
    for (const v of view ? [view] : VIEWS) this.viewState[v] = { zoom: 1, panX: 0, panY: 0 };
    this.requestRender(view ? [view] : VIEWS, false);
    this.#emit("change");
  }

  transform(view) {
    const size = this.sizes[view];
    return viewTransform(this.specs[view], size.w, size.h, this.viewState[view]);
  }

  screenToImage(view, x, y) {
    return screenToImage(this.transform(view), x, y);
  }

  /** Voxel [k, j, i] under image point (u, v) of a view, or null outside the plane. */
  voxelAt(view, u, v) {
    const spec = this.specs[view];
    const r = Math.floor(v);
    const c = Math.floor(u);
    if (r < 0 || c < 0 || r >= spec.height || c >= spec.width) return null;
    return spec.toKji(this.slices[view], r, c);
  }

  /** Read-out at a voxel: patient mm, HU, PET (SUV or Bq/ml), mask memberships. */
  probe(kji) {
    if (!kji || !inBounds(this.shape, kji)) return null;
    const idx = flatIndex(this.shape, ...kji);
    const { ct, pet, model, gt, uncertainty, specimen } = this.volumes;
    return {
      kji,
      mm: voxelToMm(this.grid, kji),
      hu: ct ? ct[idx] : null,
      pet: pet ? pet[idx] * (this.suvFactor || 1) : null,
      petUnits: this.pet.units,
      mine: !!this.mask[idx],
      model: model ? !!model[idx] : null,
      gt: gt ? !!gt[idx] : null,
      specimen: specimen ? !!specimen[idx] : null,
      uncertainty: uncertainty ? uncertainty[idx] : null,
    };
  }

  setHover(view, u, v) {
    const prev = this.hover;
    this.hover = view ? { view, u, v } : null;
    // Only the brush outline and the polygon's rubber band follow the pointer.
    const drawn = ["brush", "eraser", "petbrush"].includes(this.tool) || (this.polygon && this.polygon.points.length);
    if (drawn && prev && prev.view !== view) this.requestRender([prev.view], false);
    if (drawn && view) this.requestRender([view], false);
    this.#emit("hover", view ? this.probe(this.voxelAt(view, u, v)) : null);
  }

  // ---------------------------------------------------------------- editing

  get dirtyRevision() {
    return this.revision;
  }

  #maskChanged(diff, label, target = this.editTarget) {
    if (target === "specimen") {
      this.bounds.specimen = volumeBounds(this.volumes.specimen, this.shape);
      this.specimenRevision++;
      this.requestRender();
      this.#emit("specimen", { label, diff });
      return;
    }
    if (diff) this.bounds.mine = unionBounds(this.bounds.mine, indexBounds(diff.indices, this.shape, diff.length));
    this.revision++;
    this.requestRender();
    this.#emit("mask", { label, diff });
  }

  #push(recorder, label) {
    const diff = recorder.finish();
    if (!diff) return 0;
    const kept = this.history.push(diff);
    this.#maskChanged(diff, label);
    if (!kept) this.#emit("notice", { text: "That edit was too large to keep in the undo history." });
    return diff.length;
  }

  /** Start a brush/eraser/PET-brush stroke at image point (u, v) of a view. */
  beginStroke(view, u, v, tool = this.tool) {
    const spec = this.specs[view];
    const value = tool === "eraser" ? 0 : 1;
    let gate = null;
    if (tool === "petbrush") {
      if (!this.volumes.pet) {
        this.#emit("notice", { text: "PET is not loaded yet." });
        return;
      }
      gate = petThresholdGate(this.volumes.pet, this.suvFactor, this.petThreshold);
    }
    this.stroke = {
      view, slice: this.slices[view], value, gate, last: { u, v }, tool,
      offsets: discOffsets(this.brushRadiusMm, spec.colSpacing, spec.rowSpacing),
      recorder: new DiffRecorder({ view, slice: this.slices[view], label: tool }),
    };
    this.continueStroke(u, v);
  }

  continueStroke(u, v) {
    const s = this.stroke;
    if (!s) return;
    // While painting, draw the target over the whole plane; the box is updated when the stroke ends.
    const key = this.editTarget;
    if (!("prevBounds" in s)) s.prevBounds = this.bounds[key];
    this.bounds[key] = undefined;
    paintStroke(this.editArray, this.specs[s.view], s.slice, s.last, { u, v }, this.brushRadiusMm, s.offsets, s.value, { gate: s.gate, recorder: s.recorder });
    s.last = { u, v };
    this.requestRender([s.view], true);
  }

  endStroke() {
    const s = this.stroke;
    if (!s) return 0;
    this.stroke = null;
    if ("prevBounds" in s) this.bounds[this.editTarget] = s.prevBounds;
    return this.#push(s.recorder, s.tool);
  }

  addPolygonPoint(view, u, v) {
    const slice = this.slices[view];
    if (!this.polygon || this.polygon.view !== view || this.polygon.slice !== slice) this.polygon = { view, slice, points: [] };
    const pts = this.polygon.points;
    const last = pts[pts.length - 1];
    if (!last || Math.hypot(last.u - u, last.v - v) > 1e-6) pts.push({ u, v });
    this.requestRender([view], false);
  }

  /** Fill the polygon being drawn (value 1, or 0 with erase). Returns voxels changed. */
  closePolygon(erase = false) {
    const p = this.polygon;
    this.polygon = null;
    if (!p || p.points.length < 3) {
      this.requestRender(VIEWS, false);
      return 0;
    }
    const rec = new DiffRecorder({ view: p.view, slice: p.slice, label: "polygon" });
    fillPolygon(this.editArray, this.specs[p.view], p.slice, p.points, erase ? 0 : 1, { recorder: rec });
    return this.#push(rec, "polygon");
  }

  cancelDrafts() {
    this.polygon = null;
    this.rulerDraft = null;
    this.requestRender(VIEWS, false);
  }

  clearSlice(view = this.activeView) {
    const rec = new DiffRecorder({ view, slice: this.slices[view], label: "clear slice" });
    fillPlane(this.editArray, this.specs[view], this.slices[view], 0, { recorder: rec });
    return this.#push(rec, "clear slice");
  }

  /** Replace the reader's mask with the model's (undoable). */
  startFromModel() {
    if (!this.volumes.model || this.editTarget !== "mine") return 0;
    const rec = new DiffRecorder({ label: "start from model" });
    assignFrom(this.mask, this.volumes.model, { recorder: rec });
    return this.#push(rec, "start from model");
  }

  undo() {
    const d = this.history.undo(this.editArray);
    if (d) this.#maskChanged(d, "undo");
    return !!d;
  }

  redo() {
    const d = this.history.redo(this.editArray);
    if (d) this.#maskChanged(d, "redo");
    return !!d;
  }

  // ---------------------------------------------------------------- rulers

  beginRuler(view, u, v) {
    this.rulerDraft = { view, slice: this.slices[view], a: { u, v }, b: { u, v } };
    this.requestRender([view], false);
  }

  moveRuler(u, v) {
    if (!this.rulerDraft) return;
    this.rulerDraft.b = { u, v };
    this.requestRender([this.rulerDraft.view], false);
  }

  endRuler() {
    const r = this.rulerDraft;
    this.rulerDraft = null;
    if (r && Math.hypot(r.a.u - r.b.u, r.a.v - r.b.v) > 0.5) {
      r.mm = this.rulerLength(r);
      this.rulers.push(r);
      this.#emit("ruler", r);
    }
    if (r) this.requestRender([r.view], false);
    return r;
  }

  rulerLength(r) {
    const spec = this.specs[r.view];
    return planeDistanceMm(r.a, r.b, spec.colSpacing, spec.rowSpacing);
  }

  clearRulers() {
    this.rulers = [];
    this.requestRender(VIEWS, false);
  }

  // ---------------------------------------------------------------- ellipse ROIs

  beginRoi(view, u, v) {
    this.roiDraft = { view, slice: this.slices[view], a: { u, v }, b: { u, v } };
    this.requestRender([view], false);
  }

  moveRoi(u, v) {
    if (!this.roiDraft) return;
    this.roiDraft.b = { u, v };
    this.requestRender([this.roiDraft.view], false);
  }

  endRoi() {
    const r = this.roiDraft;
    this.roiDraft = null;
    if (r && Math.abs(r.a.u - r.b.u) >= 1 && Math.abs(r.a.v - r.b.v) >= 1) {
      r.stats = ellipseStats(this, r);
      this.rois.push(r);
      this.#emit("roi", r);
      this.#emit("change");
    }
    if (r) this.requestRender([r.view], false);
    return r;
  }

  clearRois() {
    this.rois = [];
    this.requestRender(VIEWS, false);
    this.#emit("change");
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

  #emit(type, detail = null) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }
}

function roundNice(x) {
  if (!(x > 0)) return 0;
  const p = Math.pow(10, Math.floor(Math.log10(x)) - 1);
  return Math.round(x / p) * p;
}
