import { test } from "node:test";
import assert from "node:assert/strict";
import { FINAL_STATES, finalStatus, stateText } from "../../frontend/static/frontend/upload_state.mjs";

test("a state reads with its reason, never the same word twice", () => {
  assert.equal(stateText("failed", "'a.txt' is not a DICOM file"), "failed: 'a.txt' is not a DICOM file");
  assert.equal(stateText("de-identifying", "de-identifying"), "de-identifying");
  assert.equal(stateText("segmenting", ""), "segmenting");
  assert.equal(stateText("received", "all files received; queued for ingest"), "received: all files received; queued for ingest");
});

test("a failed import and a failed model run on an imported case are told apart", () => {
  assert.deepEqual(finalStatus({ state: "failed", message: "no PET series", case: null, cases: [] }),
    { text: "Import failed: no PET series", kind: "error" });
  assert.deepEqual(finalStatus({ state: "failed", message: "out of memory", case: "C-1", cases: ["C-1"] }),
    { text: "Case C-1 was imported, but the model run failed: out of memory", kind: "error" });
  assert.deepEqual(finalStatus({ state: "done", message: "", case: "C-1", cases: ["C-1"] }),
    { text: "Imported 1 case(s).", kind: "ok" });
});

test("the page stops following at a final state only", () => {
  for (const state of ["done", "failed", "imported", "duplicate"]) assert.ok(FINAL_STATES.has(state), state);
  for (const state of ["received", "checking", "de-identifying", "resampling", "queued", "segmenting"]) {
    assert.ok(!FINAL_STATES.has(state), state);
  }
});
