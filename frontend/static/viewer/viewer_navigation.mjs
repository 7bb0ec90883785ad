/**
 * Navigation of the Viewer: the linked cursor and slices, the active view, zoom and pan per view,
 * screen <-> image <-> voxel, and the read-out under the pointer. A mixin over the Viewer's state
 * (viewer.mjs); it calls only the Viewer's public methods and `_emit`.
 */

import { VIEWS, viewTransform, screenToImage, zoomAbout, clampVoxel, voxelToMm, flatIndex, inBounds } from "./geometry.mjs";

export const withNavigation = (Base) => class extends Base {

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
    this._emit("change");
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
    this._emit("change");
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
    this._emit("change");
  }

  pan(view, dx, dy) {
    const s = this.viewState[view];
    this.viewState[view] = { ...s, panX: s.panX + dx, panY: s.panY + dy };
    this.requestRender([view], false);
  }

  resetView(view = null) {
    for (const v of view ? [view] : VIEWS) this.viewState[v] = { zoom: 1, panX: 0, panY: 0 };
    this.requestRender(view ? [view] : VIEWS, false);
    this._emit("change");
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
    this._emit("hover", view ? this.probe(this.voxelAt(view, u, v)) : null);
  }
};
