/**
 * What a view shows: the layer description handed to the pixel renderer (CT, PET and the
 * visible overlays with their colours and bounding boxes) and the composition of one
 * view canvas (scaled image plus vector annotations), both read from a Viewer's state.
 */

import { packColor, parseHexColor, packLut, getColormap } from "./colormaps.mjs";
import { heatAlphaTable } from "./renderer.mjs";
import * as ann from "./annotations.mjs";
import { formatPet } from "./roi.mjs";

/** Layers for renderPlane() from the viewer's volumes, tables and overlay settings. */
export function layersOf(v) {
  const T = v.tables;
  const fill = Math.round(v.fillOpacity * 256);
  const overlays = [];
  const mask = (name, data) => {
    const o = v.overlays[name];
    if (!o.visible || !data) return;
    const bounds = v.bounds[name];
    if (bounds === null) return; // empty
    overlays.push({ kind: "mask", data, color: packColor(...parseHexColor(o.color)), fill: o.style !== "contour", contour: o.style !== "fill", fillAlpha: fill, bounds });
  };
  mask("specimen", v.volumes.specimen);
  const u = v.overlays.uncertainty;
  if (u.visible && v.volumes.uncertainty) {
    if (v.bounds.uncertainty !== null) overlays.push({ kind: "heat", data: v.volumes.uncertainty, min: 0, scale: 255 / (T.heatMax || 1), colors: packLut(getColormap("inferno")), alpha: heatAlphaTable(u.opacity), bounds: v.bounds.uncertainty });
  }
  mask("model", v.volumes.model);
  mask("gt", v.volumes.gt);
  mask("mine", v.mask);
  return {
    mode: v.mode, ct: v.volumes.ct, greyLut: T.greyLut, pet: v.volumes.pet,
    petMin: T.petMin, petScale: T.petScale, petPacked: T.pet.petPacked, blend: T.pet.blend, overlays,
  };
}

/** Draw view `view`: background, the plane image scaled with its physical aspect, annotations. */
export function composeView(v, view) {
  const canvas = v.canvases[view];
  const ctx = canvas.getContext("2d");
  const { w, h, dpr } = v.sizes[view];
  const spec = v.specs[view];
  const t = v.transform(view);
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.fillStyle = "#07090c";
  ctx.fillRect(0, 0, w, h);
  const img = v.renderers[view].canvas;
  if (img && v.volumes.ct) {
    ctx.imageSmoothingEnabled = v.smooth;
    ctx.drawImage(img, t.x0, t.y0, t.drawW, t.drawH);
  } else {
    ann.drawCentreText(ctx, w, h, "Loading CT…");
  }
  const here = v.slices[view];
  const cur = spec.fromKji(...v.cursor);
  if (v.showCrosshair) ann.drawCrosshair(ctx, t, cur.col + 0.5, cur.row + 0.5);
  if (v.margin && v.overlays.margin.visible) {
    const cp = v.margin.closest_point;
    const a = spec.fromKji(...cp.tumour_kji);
    const b = cp.surface_kji ? spec.fromKji(...cp.surface_kji) : null;
    const inPlane = a.slice === here;
    if (inPlane || Math.abs(a.slice - here) <= 3) {
      ann.drawMarginMarker(ctx, t, { u: a.col + 0.5, v: a.row + 0.5 }, b && { u: b.col + 0.5, v: b.row + 0.5 }, v.margin.closest_margin_mm, inPlane);
    }
  }
  for (const r of v.rulers) if (r.view === view && r.slice === here) ann.drawRuler(ctx, t, r.a, r.b, r.mm);
  const d = v.rulerDraft;
  if (d && d.view === view) ann.drawRuler(ctx, t, d.a, d.b, v.rulerLength(d));
  for (const r of v.rois) if (r.view === view && r.slice === here) ann.drawEllipseRoi(ctx, t, r.a, r.b, roiLabel(r.stats));
  const rd = v.roiDraft;
  if (rd && rd.view === view) ann.drawEllipseRoi(ctx, t, rd.a, rd.b);
  if (v.polygon && v.polygon.view === view) ann.drawPolygonDraft(ctx, t, v.polygon.points, v.hover && v.hover.view === view ? v.hover : null);
  if (v.hover && v.hover.view === view && ["brush", "eraser", "petbrush"].includes(v.tool)) {
    const color = v.tool === "eraser" ? "#ff8a8a" : v.tool === "petbrush" ? "#ffd166" : v.overlays.mine.color;
    ann.drawBrushOutline(ctx, t, v.hover.u, v.hover.v, v.brushRadiusMm, color);
  }
  ann.drawScaleBar(ctx, t, h);
  ann.drawFrameText(ctx, w, h, v.letters[view]);
}

/** Short on-image label of an ellipse ROI's statistics. */
export function roiLabel(stats) {
  if (!stats || stats.max === null) return "";
  return `max ${formatPet(stats.max, stats.units)} · peak ${formatPet(stats.peak, stats.units)} ${stats.units}`;
}
