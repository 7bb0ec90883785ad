/**
 * Measurements on the Viewer: rulers (distance in mm) and ellipse ROIs (SUV statistics, roi.mjs),
 * each drawn on one slice of one view. A mixin over the Viewer's state (viewer.mjs).
 */

import { VIEWS } from "./geometry.mjs";
import { planeDistanceMm } from "./ruler.mjs";
import { ellipseStats } from "./roi.mjs";

export const withMeasurements = (Base) => class extends Base {

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
      this._emit("ruler", r);
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
      this._emit("roi", r);
      this._emit("change");
    }
    if (r) this.requestRender([r.view], false);
    return r;
  }

  clearRois() {
    this.rois = [];
    this.requestRender(VIEWS, false);
    this._emit("change");
  }
};
