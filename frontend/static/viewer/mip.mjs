/**
 * Maximum-intensity projection of the specimen seen from the front (projection along the row
 * axis j, drawn like the coronal view): PET MIP fused with a CT MIP, the specimen's and the model's
 * outlines, and the closest-margin point (tumour end, surface end). Projections are computed
 * once per volume (`project`); drawing reads the viewer's current window and PET settings.
 */

import { getColormap } from "./colormaps.mjs";
import { LUT_OFFSET } from "./windowing.mjs";

/** Max over j of a [k, j, i] volume, as a k × i array (Float32 for PET, Int16 for CT, Uint8 for masks). */
export function projectMax(data, shape, Out = Float32Array) {
  const [nz, ny, nx] = shape;
  const out = new Out(nz * nx).fill(Out === Int16Array ? -32768 : 0);
  for (let k = 0; k < nz; k++) {
    const row = k * nx;
    for (let j = 0; j < ny; j++) {
      const base = (k * ny + j) * nx;
      for (let i = 0; i < nx; i++) {
        const value = data[base + i];
        if (value > out[row + i]) out[row + i] = value;
      }
    }
  }
  return out;
}

/** 1 where a projected mask is set and a 4-neighbour is not (its outline). */
export function outline(proj, nz, nx) {
  const out = new Uint8Array(nz * nx);
  for (let k = 0; k < nz; k++) {
    for (let i = 0; i < nx; i++) {
      const n = k * nx + i;
      if (!proj[n]) continue;
      if (k === 0 || i === 0 || k === nz - 1 || i === nx - 1 || !proj[n - 1] || !proj[n + 1] || !proj[n - nx] || !proj[n + nx]) out[n] = 1;
    }
  }
  return out;
}

export class MipView {
  constructor(canvas) {
    this.canvas = canvas;
    this.proj = {};
    this.size = { w: 1, h: 1, dpr: 1 };
    this.image = null;
  }

  /** Recompute the projections of the viewer's loaded volumes that changed. */
  project(viewer) {
    const { shape } = viewer.grid;
    const vols = viewer.volumes;
    const sources = { ct: [vols.ct, Int16Array], pet: [vols.pet, Float32Array], specimen: [vols.specimen, Uint8Array], model: [vols.model, Uint8Array] };
    for (const [name, [data, Out]] of Object.entries(sources)) {
      if (!data || this.proj[name]?.source === data && !(name === "specimen" && this.proj[name].revision !== viewer.specimenRevision)) continue;
      const values = projectMax(data, shape, Out);
      const edge = Out === Uint8Array ? outline(values, shape[0], shape[2]) : null;
      this.proj[name] = { source: data, values, edge, revision: viewer.specimenRevision };
    }
  }

  resize(w, h, dpr = globalThis.devicePixelRatio || 1) {
    this.size = { w: Math.max(1, w), h: Math.max(1, h), dpr };
    this.canvas.width = Math.max(1, Math.round(w * dpr));
    this.canvas.height = Math.max(1, Math.round(h * dpr));
  }

  /** Pixels (k × i, top row = highest k) of the fused MIP with outlines. */
  pixels(viewer) {
    const [nz, , nx] = viewer.grid.shape;
    const out = new Uint8ClampedArray(nz * nx * 4);
    const grey = viewer.tables.greyLut;
    const ct = this.proj.ct?.values;
    const pet = this.proj.pet?.values;
    const lut = getColormap(viewer.pet.colormap);
    const f = viewer.suvFactor || 1;
    const lo = viewer.pet.min;
    const span = Math.max(1e-9, viewer.pet.max - viewer.pet.min);
    const alpha = Math.max(0.35, viewer.pet.opacity);
    const edges = [["specimen", [90, 180, 255]], ["model", [245, 166, 35]]];
    for (let k = 0; k < nz; k++) {
      const r = nz - 1 - k;
      for (let i = 0; i < nx; i++) {
        const n = k * nx + i;
        const o = (r * nx + i) * 4;
        const g = ct ? grey[Math.max(0, Math.min(65535, ct[n] + LUT_OFFSET))] : 0;
        let R = g;
        let G = g;
        let B = g;
        if (pet) {
          const t = (pet[n] * f - lo) / span;
          if (t > 0) {
            const c = Math.min(255, Math.round(t * 255)) * 3;
            R = R * (1 - alpha) + lut[c] * alpha;
            G = G * (1 - alpha) + lut[c + 1] * alpha;
            B = B * (1 - alpha) + lut[c + 2] * alpha;
          }
        }
        for (const [name, rgb] of edges) {
          if (this.proj[name]?.edge?.[n] && (name !== "model" || viewer.overlays.model.visible)) [R, G, B] = rgb;
        }
        out[o] = R;
        out[o + 1] = G;
        out[o + 2] = B;
        out[o + 3] = 255;
      }
    }
    return out;
  }

  draw(viewer) {
    const [nz, , nx] = viewer.grid.shape;
    const [sz, , sx] = viewer.grid.spacing;
    const { w, h, dpr } = this.size;
    const ctx = this.canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.fillStyle = "#07090c";
    ctx.fillRect(0, 0, w, h);
    if (!this.proj.ct && !this.proj.pet) return;
    if (!this.image || this.image.width !== nx || this.image.height !== nz) {
      this.image = new OffscreenCanvas(nx, nz);
    }
    this.image.getContext("2d").putImageData(new ImageData(this.pixels(viewer), nx, nz), 0, 0);
    const scale = Math.min(w / (nx * sx), h / (nz * sz));
    const dw = nx * sx * scale;
    const dh = nz * sz * scale;
    const x0 = (w - dw) / 2;
    const y0 = (h - dh) / 2;
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(this.image, x0, y0, dw, dh);
    const toScreen = (kji) => ({ x: x0 + (kji[2] + 0.5) * sx * scale, y: y0 + (nz - 1 - kji[0] + 0.5) * sz * scale });
    const cp = viewer.margin?.closest_point;
    if (cp && viewer.overlays.margin.visible) {
      const a = toScreen(cp.tumour_kji);
      ctx.save();
      ctx.strokeStyle = "#ff4d6d";
      ctx.fillStyle = "#ff4d6d";
      ctx.lineWidth = 2;
      if (cp.surface_kji) {
        const b = toScreen(cp.surface_kji);
        ctx.beginPath();
        ctx.moveTo(a.x, a.y);
        ctx.lineTo(b.x, b.y);
        ctx.stroke();
        ctx.beginPath();
        ctx.arc(b.x, b.y, 3, 0, 2 * Math.PI);
        ctx.fill();
      }
      ctx.beginPath();
      ctx.arc(a.x, a.y, 5, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.restore();
    }
    ctx.save();
    ctx.font = "12px system-ui, sans-serif";
    ctx.fillStyle = "rgba(230, 233, 239, 0.75)";
    ctx.textBaseline = "top";
    ctx.fillText("MIP (front) · PET fused with CT · specimen outline", 6, 6);
    ctx.restore();
  }
}
