import { test } from "node:test";
import assert from "node:assert/strict";
import { distanceText, marginFacts, STATUS_TEXT } from "../../frontend/static/viewer/marginfacts.mjs";

const INDETERMINATE = {
  status: "indeterminate",
  closest_margin_mm: 1.254,
  interval_mm: [0.85, 1.65],
  threshold_mm: 1,
  folds: [{ fold: 0, closest_mm: 1.65 }, { fold: 1, closest_mm: 1.25 }, { fold: 2, closest_mm: 0.85 }],
  n_foci: 2,
  tumour_outside_specimen_mm3: 3.25,
  qc: [{ code: "touches_fov_edge", message: "The specimen touches the edge of the field of view." }],
  pet_mode: "uptake_ratio",
  inputs: { working_spacing_mm: [0.5, 0.5, 0.5], model_spacing_mm: 0.5, spacing_matches: true, pet_mode: "uptake_ratio" },
  specimen_surface: { id: 4, version: 2, source: "manual" },
};

test("an indeterminate call is labelled, explained and shows the folds' interval to 0.01 mm", () => {
  const facts = marginFacts(INDETERMINATE);
  assert.equal(facts.label, "Indeterminate");
  assert.match(facts.explanation, /straddle the threshold/);
  assert.equal(facts.distance, "1.25 mm (ensemble and folds 0.85–1.65 mm)");
  const rows = Object.fromEntries(facts.rows.map(([term, text, warn]) => [term, { text, warn }]));
  assert.equal(rows["Tumour foci"].text, "2");
  assert.deepEqual(rows["Tumour outside specimen"], { text: "3.3 mm³ (clipped)", warn: true });
  assert.equal(rows.Folds.text, "1.65 / 1.25 / 0.85 mm");
  assert.deepEqual(rows["PET input"], { text: "uptake ratio (no SUV available)", warn: true });
  assert.deepEqual(rows["Voxel spacing"], { text: "0.50 × 0.50 × 0.50 mm, as the model", warn: false });
  assert.equal(rows["Specimen surface"].text, "version 2 (corrected)");
  assert.deepEqual(facts.qc, [{ code: "touches_fov_edge", message: "The specimen touches the edge of the field of view." }]);
});

test("a clear call has no explanation; missing parts are left out, not invented", () => {
  const facts = marginFacts({ status: "negative", closest_margin_mm: 3.5, threshold_mm: 1 });
  assert.equal(facts.label, "Negative");
  assert.equal(facts.explanation, "");
  assert.equal(facts.distance, "3.50 mm");
  assert.deepEqual(facts.rows, []);
  assert.deepEqual(facts.qc, []);
  assert.equal(marginFacts(null), null);
  assert.equal(distanceText({ closest_margin_mm: null, interval_mm: null }), "–");
  assert.equal(STATUS_TEXT.no_tumour_detected, "No tumour detected");
});

test("a spacing mismatch is flagged", () => {
  const facts = marginFacts({ status: "positive", closest_margin_mm: 0, inputs: { working_spacing_mm: [0.4, 0.4, 0.4], model_spacing_mm: 0.5, spacing_matches: false } });
  const spacing = facts.rows.find(([term]) => term === "Voxel spacing");
  assert.deepEqual(spacing, ["Voxel spacing", "0.40 × 0.40 × 0.40 mm, model trained at 0.5 mm", true]);
});
