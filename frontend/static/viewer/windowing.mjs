/**
 * CT window/level: presets, the 8-bit grey lookup table, drag adjustment, and a robust
 * intensity range helper used for the PET and uncertainty display defaults.
 *
 * The grey LUT covers the whole int16 range (65,536 entries, index = HU + 32768), so a
 * renderer maps a CT voxel to a grey byte with one table read. Pure module: no DOM.
 */

/** Offset that turns an int16 value into a LUT index. */
export const LUT_OFFSET = 32768;
export const LUT_SIZE = 65536;

export const MIN_WINDOW = 1;
export const MAX_WINDOW = 8000;
export const MIN_LEVEL = -2000;
export const MAX_LEVEL = 6000;

/**
 * Window/level presets for a fresh breast specimen in micro-CT (HU): air around the
 * specimen, fat (about -100), fibroglandular tissue and tumour (about +20..+60), the
 * holder plate and metal surgical clips (very bright).
 */
export const PRESETS = Object.freeze([
  Object.freeze({ id: "specimen", label: "Specimen", window: 600, level: -50, key: "1" }),
  Object.freeze({ id: "soft", label: "Soft tissue", window: 400, level: 40, key: "2" }),
  Object.freeze({ id: "fat", label: "Fat / gland", window: 250, level: -60, key: "3" }),
  Object.freeze({ id: "full", label: "Full range", window: 3000, level: 500, key: "4" }),
]);

export const DEFAULT_PRESET = "specimen";

/** A preset by id, or undefined. */
export function presetById(id) {
  return PRESETS.find((p) => p.id === id);
}

/** Keep window and level inside sane bounds (window at least 1 HU). */
export function clampWindowLevel(window, level) {
  const w = Number.isFinite(window) ? window : 400;
  const l = Number.isFinite(level) ? level : 40;
  return {
    window: Math.min(MAX_WINDOW, Math.max(MIN_WINDOW, w)),
    level: Math.min(MAX_LEVEL, Math.max(MIN_LEVEL, l)),
  };
}

/**
 * Grey value 0..255 of one HU value: linear ramp from level - window/2 (black) to
 * level + window/2 (white), clamped outside.
 */
export function greyValue(hu, window, level) {
  const w = Math.max(MIN_WINDOW, window);
  const lower = level - w / 2;
  const g = Math.round(((hu - lower) / w) * 255);
  return g < 0 ? 0 : g > 255 ? 255 : g;
}

/**
 * The 65,536-entry grey LUT for int16 data; `out` is reused when given.
 * lut[hu + LUT_OFFSET] === greyValue(hu, window, level).
 */
export function buildGreyLut(window, level, out = new Uint8Array(LUT_SIZE)) {
  const w = Math.max(MIN_WINDOW, window);
  const lower = level - w / 2;
  // Indices below `lo` are black, at or above `hi` white; only the ramp is computed.
  const lo = Math.max(0, Math.min(LUT_SIZE, Math.ceil(lower + LUT_OFFSET)));
  const hi = Math.max(lo, Math.min(LUT_SIZE, Math.floor(lower + w + LUT_OFFSET) + 1));
  out.fill(0, 0, lo);
  for (let n = lo; n < hi; n++) {
    const g = Math.round(((n - LUT_OFFSET - lower) / w) * 255);
    out[n] = g < 0 ? 0 : g > 255 ? 255 : g;
  }
  out.fill(255, hi);
  return out;
}

/**
 * New window/level after a mouse drag of (dx, dy) screen pixels: right widens the
 * window, down raises the level. The step grows with the current window so that
 * both narrow and wide windows feel the same.
 */
export function dragWindowLevel({ window, level }, dx, dy, sensitivity = 1) {
  const step = Math.max(1, window / 200) * sensitivity;
  return clampWindowLevel(Math.round(window + dx * step), Math.round(level + dy * step));
}

/**
 * Robust [low, high] percentiles of a typed array, from at most `maxSamples`
 * evenly strided samples. Non-finite values are ignored. Returns [0, 1] for empty data.
 */
export function robustRange(data, { lowPercentile = 1, highPercentile = 99.5, maxSamples = 200000, ignoreBelow = -Infinity } = {}) {
  const n = data.length;
  if (!n) return [0, 1];
  const stride = Math.max(1, Math.floor(n / maxSamples));
  const samples = new Float64Array(Math.ceil(n / stride));
  let m = 0;
  for (let i = 0; i < n; i += stride) {
    const v = data[i];
    if (Number.isFinite(v) && v >= ignoreBelow) samples[m++] = v;
  }
  if (!m) return [0, 1];
  const sorted = samples.subarray(0, m).sort();
  const at = (p) => sorted[Math.min(m - 1, Math.max(0, Math.round((p / 100) * (m - 1))))];
  return [at(lowPercentile), at(highPercentile)];
}

/** Exact minimum and maximum of a typed array (non-finite values skipped). */
export function minMax(data) {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : [0, 0];
}
