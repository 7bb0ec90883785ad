/**
 * Editing of the Viewer: brush, eraser, PET brush, polygon, clear slice and "start from model" on
 * the edit target (the reader's mask or the specimen surface), with undo/redo. A mixin over the
 * Viewer's state (viewer.mjs); it emits "mask" / "specimen" with the diff of every change.
 */

import { VIEWS, volumeBounds, indexBounds, unionBounds } from "./geometry.mjs";
import { discOffsets, paintStroke, petThresholdGate, fillPolygon, fillPlane, assignFrom } from "./brush.mjs";
import { DiffRecorder } from "./history.mjs";

export const withEditing = (Base) => class extends Base {

  get dirtyRevision() {
    return this.revision;
  }

  /** Replace the reader's mask without recording history (loading a saved version or draft). */
  loadMask(data) {
    if (data.length !== this.voxels) throw new Error(`mask has ${data.length} voxels, grid has ${this.voxels}`);
    this.mask.set(data);
    this.histories.mine.clear();
    this.bounds.mine = volumeBounds(this.mask, this.shape);
    this.#maskChanged(null, "load", "mine");
  }

  #maskChanged(diff, label, target = this.editTarget) {
    if (target === "specimen") {
      this.bounds.specimen = volumeBounds(this.volumes.specimen, this.shape);
      this.specimenRevision++;
      this.requestRender();
      this._emit("specimen", { label, diff });
      return;
    }
    if (diff) this.bounds.mine = unionBounds(this.bounds.mine, indexBounds(diff.indices, this.shape, diff.length));
    this.revision++;
    this.requestRender();
    this._emit("mask", { label, diff });
  }

  #push(recorder, label) {
    const diff = recorder.finish();
    if (!diff) return 0;
    const kept = this.history.push(diff);
    this.#maskChanged(diff, label);
    if (!kept) this._emit("notice", { text: "That edit was too large to keep in the undo history." });
    return diff.length;
  }

  /** Start a brush/eraser/PET-brush stroke at image point (u, v) of a view. */
  beginStroke(view, u, v, tool = this.tool) {
    const spec = this.specs[view];
    const value = tool === "eraser" ? 0 : 1;
    let gate = null;
    if (tool === "petbrush") {
      if (!this.volumes.pet) {
        this._emit("notice", { text: "PET is not loaded yet." });
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
};
