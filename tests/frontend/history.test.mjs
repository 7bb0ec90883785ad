import { test } from "node:test";
import assert from "node:assert/strict";
import { DiffRecorder, History, applyDiff } from "../../frontend/static/viewer/history.mjs";
import { paintDisc, discOffsets } from "../../frontend/static/viewer/brush.mjs";
import { planeSpec } from "../../frontend/static/viewer/geometry.mjs";

const edit = (mask, changes, meta) => {
  const rec = new DiffRecorder(meta);
  for (const [i, v] of changes) {
    if (mask[i] !== v) {
      rec.record(i, mask[i], v);
      mask[i] = v;
    }
  }
  return rec.finish();
};

test("recorder grows and returns null when nothing changed", () => {
  const rec = new DiffRecorder({ label: "x" });
  assert.equal(rec.finish(), null);
  for (let i = 0; i < 5000; i++) rec.record(i, 0, 1);
  const d = rec.finish();
  assert.equal(d.length, 5000);
  assert.equal(d.indices[4999], 4999);
  assert.equal(d.label, "x");
});

test("undo and redo restore exact mask states", () => {
  const mask = new Uint8Array(20);
  const h = new History();
  const s0 = mask.slice();
  h.push(edit(mask, [[1, 1], [2, 1], [3, 1]]));
  const s1 = mask.slice();
  h.push(edit(mask, [[2, 0], [10, 1]]));
  const s2 = mask.slice();
  assert.ok(h.canUndo && !h.canRedo);
  h.undo(mask);
  assert.deepEqual(mask, s1);
  h.undo(mask);
  assert.deepEqual(mask, s0);
  assert.equal(h.undo(mask), null);
  h.redo(mask);
  assert.deepEqual(mask, s1);
  h.redo(mask);
  assert.deepEqual(mask, s2);
  assert.equal(h.redo(mask), null);
});

test("a new edit after undo drops the redo stack", () => {
  const mask = new Uint8Array(10);
  const h = new History();
  h.push(edit(mask, [[1, 1]]));
  h.push(edit(mask, [[2, 1]]));
  h.undo(mask);
  assert.ok(h.canRedo);
  h.push(edit(mask, [[3, 1]]));
  assert.ok(!h.canRedo);
  assert.equal(h.voxels, 2);
});

test("history is bounded by steps and by voxels, dropping the oldest", () => {
  const mask = new Uint8Array(1000);
  const h = new History({ maxSteps: 3, maxVoxels: 1000 });
  for (let i = 0; i < 5; i++) h.push(edit(mask, [[i, 1]]));
  assert.equal(h.undoStack.length, 3);
  h.undo(mask);
  h.undo(mask);
  h.undo(mask);
  assert.deepEqual([...mask.slice(0, 5)], [1, 1, 0, 0, 0], "the two oldest edits can no longer be undone");

  const h2 = new History({ maxSteps: 100, maxVoxels: 10 });
  const m2 = new Uint8Array(100);
  h2.push(edit(m2, [[0, 1], [1, 1], [2, 1], [3, 1]]));
  h2.push(edit(m2, [[4, 1], [5, 1], [6, 1], [7, 1]]));
  h2.push(edit(m2, [[8, 1], [9, 1], [10, 1], [11, 1]]));
  assert.equal(h2.undoStack.length, 2);
  assert.ok(h2.voxels <= 10);
  assert.equal(h2.push(edit(m2, Array.from({ length: 20 }, (_, i) => [50 + i, 1]))), false, "too big to keep");
  assert.ok(!h2.canUndo);
});

test("duplicate indices in one diff undo to the original value", () => {
  const mask = Uint8Array.from([0]);
  const rec = new DiffRecorder();
  rec.record(0, 0, 1);
  rec.record(0, 1, 0);
  rec.record(0, 0, 1);
  mask[0] = 1;
  const d = rec.finish();
  applyDiff(mask, d, true);
  assert.equal(mask[0], 0);
  applyDiff(mask, d, false);
  assert.equal(mask[0], 1);
});

test("brush stroke undo through the recorder", () => {
  const shape = [4, 32, 32];
  const spec = planeSpec("coronal", shape, [1, 0.5, 0.5]);
  const mask = new Uint8Array(4 * 32 * 32);
  const h = new History();
  const rec = new DiffRecorder({ view: "coronal", slice: 9 });
  paintDisc(mask, spec, 9, 2, 16, discOffsets(2, spec.colSpacing, spec.rowSpacing), 1, { recorder: rec });
  const diff = rec.finish();
  assert.equal(diff.slice, 9);
  h.push(diff);
  assert.ok(mask.some((v) => v));
  h.undo(mask);
  assert.ok(mask.every((v) => v === 0));
});
