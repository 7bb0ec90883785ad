/**
 * Mask editing primitives on one display plane of a 3D label volume: a disc brush of a
 * radius in millimetres on anisotropic pixels, the eraser (value 0), a gate for the PET
 * threshold brush, stroke interpolation, even-odd polygon fill and plane clearing.
 *
 * Every function writes straight into the flat C-order volume through the plane's
 * index arithmetic (a `planeSpec` from geometry.mjs plus a slice number) and reports
 * each voxel it changes to an optional recorder `{record(index, before, after)}`, which
 * is how undo/redo works. Image coordinates: pixel (row r, col c) covers
 * [c, c+1) x [r, r+1), its centre is (c + 0.5, r + 0.5). Pure module: no DOM.
 */

/**
 * Pixel offsets [dr0, dc0, dr1, dc1, ...] whose centres lie within `radiusMm` of the
 * centre pixel's centre, for column spacing `colSpacing` and row spacing `rowSpacing` mm.
 * Always contains (0, 0), so a tiny brush still paints one pixel.
 */
export function discOffsets(radiusMm, colSpacing, rowSpacing) {
  const r = Math.max(0, radiusMm);
  const maxDc = Math.floor(r / colSpacing);
  const maxDr = Math.floor(r / rowSpacing);
  const r2 = r * r * (1 + 1e-9);
  const out = [];
  for (let dr = -maxDr; dr <= maxDr; dr++) {
    const y = dr * rowSpacing;
    for (let dc = -maxDc; dc <= maxDc; dc++) {
      const x = dc * colSpacing;
      if (x * x + y * y <= r2) out.push(dr, dc);
    }
  }
  if (out.length === 0) out.push(0, 0);
  return Int32Array.from(out);
}

/**
 * Gate for the PET threshold brush: true for voxels whose SUV (pet * suvFactor; pass 1
 * when working in Bq/ml) is at or above `threshold`.
 */
export function petThresholdGate(pet, suvFactor, threshold) {
  const f = suvFactor || 1;
  return (index) => pet[index] * f >= threshold;
}

/**
 * Paint one disc centred on pixel (row, col) of plane `slice`: every pixel under
 * `offsets` (see discOffsets) that passes `gate` gets `value`. Returns how many voxels changed.
 */
export function paintDisc(mask, spec, slice, row, col, offsets, value, { gate = null, recorder = null } = {}) {
  const base = spec.base(slice);
  const { width, height, rowStride, colStride } = spec;
  let changed = 0;
  for (let n = 0; n < offsets.length; n += 2) {
    const r = row + offsets[n];
    const c = col + offsets[n + 1];
    if (r < 0 || r >= height || c < 0 || c >= width) continue;
    const idx = base + r * rowStride + c * colStride;
    const before = mask[idx];
    if (before === value) continue;
    if (gate && !gate(idx)) continue;
    mask[idx] = value;
    if (recorder) recorder.record(idx, before, value);
    changed++;
  }
  return changed;
}

/**
 * Paint discs along the segment from image point `from` to `to` ({u, v}), spaced at most
 * half a brush radius (and at most one pixel for small brushes) apart. Returns voxels changed.
 */
export function paintStroke(mask, spec, slice, from, to, radiusMm, offsets, value, options = {}) {
  const radiusPx = Math.max(0.5, Math.min(radiusMm / spec.colSpacing, radiusMm / spec.rowSpacing));
  const step = Math.max(0.5, Math.min(radiusPx / 2, 1.5));
  const du = to.u - from.u;
  const dv = to.v - from.v;
  const steps = Math.max(1, Math.ceil(Math.hypot(du, dv) / step));
  let changed = 0;
  let lastR = NaN;
  let lastC = NaN;
  for (let s = 0; s <= steps; s++) {
    const t = s / steps;
    const r = Math.floor(from.v + dv * t);
    const c = Math.floor(from.u + du * t);
    if (r === lastR && c === lastC) continue;
    lastR = r;
    lastC = c;
    changed += paintDisc(mask, spec, slice, r, c, offsets, value, options);
  }
  return changed;
}

/**
 * Spans [row, c0, c1, ...] (c0..c1 inclusive) of the pixels of a width x height plane whose
 * centres are inside the polygon `points` ([{u, v}, ...], implicitly closed) by the
 * even-odd rule.
 */
export function polygonSpans(points, width, height) {
  const spans = [];
  const n = points.length;
  if (n < 3) return spans;
  let minV = Infinity;
  let maxV = -Infinity;
  for (const p of points) {
    minV = Math.min(minV, p.v);
    maxV = Math.max(maxV, p.v);
  }
  const r0 = Math.max(0, Math.ceil(minV - 0.5));
  const r1 = Math.min(height - 1, Math.floor(maxV - 0.5));
  const xs = [];
  for (let r = r0; r <= r1; r++) {
    const y = r + 0.5;
    xs.length = 0;
    for (let a = 0, b = n - 1; a < n; b = a++) {
      const pa = points[a];
      const pb = points[b];
      // Half-open rule: a vertex exactly on the scanline counts for one edge only.
      if (pa.v <= y !== pb.v <= y) xs.push(pa.u + ((y - pa.v) * (pb.u - pa.u)) / (pb.v - pa.v));
    }
    xs.sort((x, z) => x - z);
    for (let m = 0; m + 1 < xs.length; m += 2) {
      const c0 = Math.max(0, Math.ceil(xs[m] - 0.5));
      const c1 = Math.min(width - 1, Math.ceil(xs[m + 1] - 0.5) - 1);
      if (c1 >= c0) spans.push(r, c0, c1);
    }
  }
  return spans;
}

/** Set `value` on all pixels of `spans` (from polygonSpans) in plane `slice`. Returns voxels changed. */
export function fillSpans(mask, spec, slice, spans, value, { gate = null, recorder = null } = {}) {
  const base = spec.base(slice);
  let changed = 0;
  for (let n = 0; n < spans.length; n += 3) {
    let idx = base + spans[n] * spec.rowStride + spans[n + 1] * spec.colStride;
    for (let c = spans[n + 1]; c <= spans[n + 2]; c++, idx += spec.colStride) {
      const before = mask[idx];
      if (before === value || (gate && !gate(idx))) continue;
      mask[idx] = value;
      if (recorder) recorder.record(idx, before, value);
      changed++;
    }
  }
  return changed;
}

/** Even-odd polygon fill in plane `slice`. Returns voxels changed. */
export function fillPolygon(mask, spec, slice, points, value, options = {}) {
  return fillSpans(mask, spec, slice, polygonSpans(points, spec.width, spec.height), value, options);
}

/** Set every voxel of plane `slice` to `value` (0 clears). Returns voxels changed. */
export function fillPlane(mask, spec, slice, value, { recorder = null } = {}) {
  return fillSpans(mask, spec, slice, spansOfWholePlane(spec), value, { recorder });
}

function spansOfWholePlane(spec) {
  const spans = new Int32Array(spec.height * 3);
  for (let r = 0; r < spec.height; r++) spans.set([r, 0, spec.width - 1], 3 * r);
  return spans;
}

/**
 * Make `mask` equal to the binarised `source` (nonzero -> 1), recording changes; used for
 * "start from the model's mask". Returns voxels changed.
 */
export function assignFrom(mask, source, { recorder = null } = {}) {
  let changed = 0;
  for (let idx = 0; idx < mask.length; idx++) {
    const value = source[idx] ? 1 : 0;
    const before = mask[idx];
    if (before === value) continue;
    mask[idx] = value;
    if (recorder) recorder.record(idx, before, value);
    changed++;
  }
  return changed;
}
