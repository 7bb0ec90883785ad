/**
 * The model's margin result as the lines the margin panel and the case page show.
 * Pure module: no DOM (tests/frontend/marginfacts.test.mjs).
 */

import { formatMm } from "./ruler.mjs";

export const STATUS_TEXT = {
  positive: "Positive",
  close: "Close",
  negative: "Negative",
  indeterminate: "Indeterminate",
  no_tumour_detected: "No tumour detected",
};

const EXPLAIN = {
  indeterminate:
    "The ensemble and its folds disagree: their closest margins straddle the threshold. Treat as positive unless checked (close counts as positive).",
  no_tumour_detected: "The model found no tumour focus above the minimum volume.",
};

const PET_MODES = { suv: "SUV (body weight)", bqml: "Bq/ml", uptake_ratio: "uptake ratio (no SUV available)" };

/**
 * Distance with its interval, e.g. "0.85 mm (ensemble and folds 0.65–1.25 mm)": the range spans the
 * ensemble's distance and every fold's, so it always holds the distance shown (the ensemble's
 * mean-probability surface is no fold's surface and can lie beyond all of them).
 */
export function distanceText(margin) {
  const main = formatMm(margin?.closest_margin_mm);
  const interval = margin?.interval_mm;
  if (!Array.isArray(interval) || interval.length !== 2 || !interval.every(Number.isFinite)) return main;
  return `${main} (ensemble and folds ${interval[0].toFixed(2)}–${interval[1].toFixed(2)} mm)`;
}

/** Everything the panel shows besides faces: {status, label, explanation, distance, rows: [[term, text, warn]]}. */
export function marginFacts(margin) {
  if (!margin) return null;
  const status = margin.status || "";
  const rows = [];
  if (Number.isFinite(margin.n_foci)) rows.push(["Tumour foci", String(margin.n_foci), false]);
  const outside = margin.tumour_outside_specimen_mm3;
  if (Number.isFinite(outside) && outside > 0) rows.push(["Tumour outside specimen", `${outside.toFixed(1)} mm³ (clipped)`, true]);
  const folds = Array.isArray(margin.folds) ? margin.folds : [];
  if (folds.length) {
    rows.push(["Folds", folds.map((f) => (Number.isFinite(f.closest_mm) ? f.closest_mm.toFixed(2) : "none")).join(" / ") + " mm", false]);
  }
  const pet = margin.pet_mode || margin.inputs?.pet_mode;
  if (pet) rows.push(["PET input", PET_MODES[pet] || pet, pet === "uptake_ratio"]);
  const inputs = margin.inputs || {};
  if (typeof inputs.spacing_matches === "boolean") {
    const spacing = Array.isArray(inputs.working_spacing_mm) ? inputs.working_spacing_mm.map((v) => Number(v).toFixed(2)).join(" × ") : "?";
    const text = inputs.spacing_matches ? `${spacing} mm, as the model` : `${spacing} mm, model trained at ${inputs.model_spacing_mm} mm`;
    rows.push(["Voxel spacing", text, !inputs.spacing_matches]);
  }
  const surface = margin.specimen_surface;
  if (surface) rows.push(["Specimen surface", `version ${surface.version} (${surface.source === "manual" ? "corrected" : "automatic"})`, false]);
  const qc = (Array.isArray(margin.qc) ? margin.qc : []).map((flag) => ({ code: String(flag.code || ""), message: String(flag.message || flag.code || "") }));
  return {
    status,
    label: STATUS_TEXT[status] || status || "–",
    explanation: EXPLAIN[status] || "",
    distance: distanceText(margin),
    threshold: `threshold ${margin.threshold_mm ?? 1} mm`,
    rows,
    qc,
  };
}
