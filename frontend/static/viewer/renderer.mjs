/**
 * Pixel rendering of one display plane: CT grey through the window/level LUT, PET as a
 * colour overlay through a precomputed (grey x PET) blend table, then label overlays
 * (filled and/or contour) and an uncertainty heat map, all written as packed 32-bit
 * pixels into a reused ImageData buffer. `PlaneRenderer` owns the offscreen canvas at
 * the plane's native resolution; the viewer scales it onto the screen with drawImage.
 *
 * renderPlane() and the table builders are DOM-free so node tests can check them.
 */

import { getColormap, packColor, packLut } from "./colormaps.mjs";
import { LUT_OFFSET } from "./windowing.mjs";
import { planeRect } from "./geometry.mjs";

const OPAQUE = 0xff000000 >>> 0;

/** Packed grey pixels 0..255. */
export const GREY_PACKED = (() => {
  const out = new Uint32Array(256);
  for (let g = 0; g < 256; g++) out[g] = packColor(g, g, g, 255);
  return out;
})();

/** Blend two packed pixels: result = a*(1-alpha) + b*alpha, alpha as 0..256 integer; opaque. */
export function blendPacked(a, b, alpha256) {
  const ia = 256 - alpha256;
  const rb = ((((a & 0xff00ff) * ia + (b & 0xff00ff) * alpha256) >>> 8) & 0xff00ff) >>> 0;
  const g = ((((a & 0x00ff00) * ia + (b & 0x00ff00) * alpha256) >>> 8) & 0x00ff00) >>> 0;
  return (rb | g | OPAQUE) >>> 0;
}

/**
 * PET colour tables for a colour map and opacity (0..1):
 *   petPacked[p]            PET-only pixel of colour index p
 *   blend[(g << 8) | p]     CT grey g fused with PET colour index p
 */
export function buildPetTables(colormap, opacity, out = {}) {
  const lut = getColormap(colormap);
  const petPacked = packLut(lut, 255);
  const blend = out.blend || new Uint32Array(65536);
  const a = Math.round(Math.min(1, Math.max(0, opacity)) * 256);
  for (let g = 0; g < 256; g++) {
    const grey = GREY_PACKED[g];
    const row = g << 8;
    for (let p = 0; p < 256; p++) blend[row | p] = blendPacked(grey, petPacked[p], a);
  }
  return { petPacked, blend, colormap, opacity };
}

/**
 * Linear mapping from raw PET values to colour indices: index = (raw - min) * scale,
 * with min/max given in display units (SUV or Bq/ml) and `factor` = SUV per Bq/ml (1 for Bq/ml).
 * Values below min are drawn transparent (CT shows through).
 */
export function petScaling(displayMin, displayMax, factor) {
  const f = factor || 1;
  const lo = displayMin / f;
  const hi = Math.max(displayMax / f, lo + 1e-12);
  return { petMin: lo, petScale: 255 / (hi - lo) };
}

/** Alpha (0..256) per heat-map index for the uncertainty overlay: transparent below 5 %. */
export function heatAlphaTable(opacity) {
  const out = new Uint16Array(256);
  for (let n = 0; n < 256; n++) out[n] = n < 13 ? 0 : Math.round(Math.min(1, opacity) * 256 * Math.min(1, 0.35 + n / 255));
  return out;
}

/**
 * Render plane `slice` of `spec` into `out32` (width x height packed pixels).
 *
 * layers = {
 *   mode: "fused" | "ct" | "pet",
 *   ct: Int16Array | null, greyLut: Uint8Array(65536),
 *   pet: Float32Array | null, petMin, petScale (see petScaling), petPacked, blend (buildPetTables),
 *   overlays: [
 *     {kind: "mask", data: Uint8Array, color: packed, fill: bool, contour: bool, fillAlpha: 0..256, bounds},
 *     {kind: "heat", data: Float32Array, min, scale, colors: Uint32Array(256), alpha: Uint16Array(256), bounds},
 *   ]
 * `bounds` ([k0, k1, j0, j1, i0, i1], optional) limits an overlay pass to the part of the
 * plane where the overlay can be nonzero.
 * }
 */
export function renderPlane(out32, spec, slice, layers) {
  const { width: w, height: h, rowStride, colStride } = spec;
  const base = spec.base(slice);
  const { ct, greyLut, pet } = layers;
  const mode = pet ? layers.mode : "ct";
  let n = 0;
  if (mode === "fused") {
    const { blend, petMin, petScale } = layers;
    for (let r = 0; r < h; r++) {
      let idx = base + r * rowStride;
      for (let c = 0; c < w; c++, idx += colStride) {
        const g = ct ? greyLut[ct[idx] + LUT_OFFSET] : 0;
        const p = (pet[idx] - petMin) * petScale;
        out32[n++] = p < 0 || p !== p ? GREY_PACKED[g] : blend[(g << 8) | (p >= 255 ? 255 : p | 0)];
      }
    }
  } else if (mode === "pet") {
    const { petPacked, petMin, petScale } = layers;
    const black = packColor(0, 0, 0, 255);
    for (let r = 0; r < h; r++) {
      let idx = base + r * rowStride;
      for (let c = 0; c < w; c++, idx += colStride) {
        const p = (pet[idx] - petMin) * petScale;
        out32[n++] = p < 0 || p !== p ? black : petPacked[p >= 255 ? 255 : p | 0];
      }
    }
  } else {
    for (let r = 0; r < h; r++) {
      let idx = base + r * rowStride;
      for (let c = 0; c < w; c++, idx += colStride) out32[n++] = GREY_PACKED[ct ? greyLut[ct[idx] + LUT_OFFSET] : 0];
    }
  }
  for (const overlay of layers.overlays || []) {
    if (!overlay || !overlay.data) continue;
    const rect = planeRect(spec, slice, overlay.bounds);
    if (!rect) continue;
    if (overlay.kind === "heat") renderHeat(out32, spec, base, overlay, rect);
    else renderMask(out32, spec, base, overlay, rect);
  }
  return out32;
}

function renderMask(out32, spec, base, { data, color, fill = true, contour = false, fillAlpha = 90 }, { r0, r1, c0, c1 }) {
  const { width: w, height: h, rowStride, colStride } = spec;
  const wLast = w - 1;
  const hLast = h - 1;
  const opaque = (color | OPAQUE) >>> 0;
  for (let r = r0; r <= r1; r++) {
    let idx = base + r * rowStride + c0 * colStride;
    let n = r * w + c0;
    for (let c = c0; c <= c1; c++, idx += colStride, n++) {
      if (!data[idx]) continue;
      if (
        contour &&
        (c === 0 || c === wLast || r === 0 || r === hLast ||
          !data[idx - colStride] || !data[idx + colStride] || !data[idx - rowStride] || !data[idx + rowStride])
      ) {
        out32[n] = opaque;
      } else if (fill) {
        out32[n] = blendPacked(out32[n], color, fillAlpha);
      }
    }
  }
}

function renderHeat(out32, spec, base, { data, min = 0, scale, colors, alpha }, { r0, r1, c0, c1 }) {
  const { width: w, rowStride, colStride } = spec;
  for (let r = r0; r <= r1; r++) {
    let idx = base + r * rowStride + c0 * colStride;
    let n = r * w + c0;
    for (let c = c0; c <= c1; c++, idx += colStride, n++) {
      const v = (data[idx] - min) * scale;
      if (!(v >= 13)) continue;
      const p = v >= 255 ? 255 : v | 0;
      out32[n] = blendPacked(out32[n], colors[p], alpha[p]);
    }
  }
}

/**
 * Owns the offscreen canvas of one view at native plane resolution and its ImageData,
 * reallocated only when the plane size changes.
 */
export class PlaneRenderer {
  constructor(createCanvas = () => document.createElement("canvas")) {
    this.createCanvas = createCanvas;
    this.canvas = null;
    this.ctx = null;
    this.image = null;
    this.out32 = null;
  }

  #ensure(w, h) {
    if (this.image && this.image.width === w && this.image.height === h) return;
    if (!this.canvas) {
      this.canvas = this.createCanvas();
      this.ctx = this.canvas.getContext("2d", { alpha: false });
    }
    this.canvas.width = w;
    this.canvas.height = h;
    this.image = this.ctx.createImageData(w, h);
    this.out32 = new Uint32Array(this.image.data.buffer);
  }

  /** Render a plane into the offscreen canvas; returns it. */
  render(spec, slice, layers) {
    this.#ensure(spec.width, spec.height);
    renderPlane(this.out32, spec, slice, layers);
    this.ctx.putImageData(this.image, 0, 0);
    return this.canvas;
  }
}
