import { test } from "node:test";
import assert from "node:assert/strict";
import {
  discOffsets, paintDisc, paintStroke, petThresholdGate, polygonSpans, fillPolygon, fillPlane, assignFrom,
} from "../../frontend/static/viewer/brush.mjs";
import { planeSpec, flatIndex, extractPlane } from "../../frontend/static/viewer/geometry.mjs";
import { DiffRecorder } from "../../frontend/static/viewer/history.mjs";

const pairs = (off) => {
  const out = [];
  for (let n = 0; n < off.length; n += 2) out.push([off[n], off[n + 1]]);
  return out;
};
const sum = (a) => a.reduce((s, v) => s + v, 0);

test("isotropic disc: radius 1 px is a plus, radius 0 is one pixel", () => {
  assert.deepEqual(pairs(discOffsets(1, 1, 1)).sort(), [[-1, 0], [0, -1], [0, 0], [0, 1], [1, 0]].sort());
  assert.deepEqual(pairs(discOffsets(0, 1, 1)), [[0, 0]]);
  assert.deepEqual(pairs(discOffsets(0.2, 1, 1)), [[0, 0]]);
});

test("disc area approaches pi r^2 and is symmetric", () => {
  const off = discOffsets(20, 0.5, 0.5); // 40 px radius
  const area = (off.length / 2) * 0.25;
  assert.ok(Math.abs(area - Math.PI * 400) / (Math.PI * 400) < 0.01, `area ${area}`);
  const set = new Set(pairs(off).map((p) => p.join()));
  for (const [dr, dc] of pairs(off)) assert.ok(set.has(`${-dr},${-dc}`) && set.has(`${dr},${-dc}`));
});

test("anisotropic disc is an ellipse in pixels but a circle in mm", () => {
  const off = pairs(discOffsets(2, 0.25, 1)); // columns 0.25 mm, rows 1 mm
  const maxDc = Math.max(...off.map(([, dc]) => dc));
  const maxDr = Math.max(...off.map(([dr]) => dr));
  assert.equal(maxDc, 8);
  assert.equal(maxDr, 2);
  for (const [dr, dc] of off) assert.ok(Math.hypot(dr * 1, dc * 0.25) <= 2 + 1e-9);
});

const shape = [3, 10, 12];
const spacing = [2, 0.5, 0.5];
const N = shape[0] * shape[1] * shape[2];

test("paintDisc paints in the requested plane only, clips at edges, records changes", () => {
  for (const view of ["axial", "coronal", "sagittal"]) {
    const spec = planeSpec(view, shape, spacing);
    const mask = new Uint8Array(N);
    const rec = new DiffRecorder();
    const slice = 1;
    const n = paintDisc(mask, spec, slice, 0, 0, discOffsets(1, spec.colSpacing, spec.rowSpacing), 1, { recorder: rec });
    assert.ok(n > 0);
    assert.equal(sum(mask), n);
    assert.equal(rec.length, n);
    assert.equal(sum(extractPlane(mask, spec, slice)), n, `${view}: all painted voxels are in the slice`);
    assert.equal(mask[spec.index(slice, 0, 0)], 1);
    // painting again changes nothing
    assert.equal(paintDisc(mask, spec, slice, 0, 0, discOffsets(1, spec.colSpacing, spec.rowSpacing), 1), 0);
  }
});

test("eraser is painting with 0", () => {
  const spec = planeSpec("axial", shape, spacing);
  const mask = new Uint8Array(N).fill(1);
  const n = paintDisc(mask, spec, 2, 5, 5, discOffsets(0.5, 0.5, 0.5), 0);
  assert.equal(n, 5);
  assert.equal(sum(mask), N - 5);
  assert.equal(mask[flatIndex(shape, 2, 5, 5)], 0);
  assert.equal(mask[flatIndex(shape, 1, 5, 5)], 1);
});

test("PET threshold brush paints only voxels with SUV >= threshold inside the disc", () => {
  const spec = planeSpec("axial", shape, spacing);
  const pet = new Float32Array(N);
  for (let i = 0; i < N; i++) pet[i] = (i % 12) * 1000; // Bq/ml rises along x
  const mask = new Uint8Array(N);
  const gate = petThresholdGate(pet, 0.001, 5); // SUV = column index
  paintDisc(mask, spec, 0, 5, 5, discOffsets(2, 0.5, 0.5), 1, { gate });
  for (let r = 0; r < 10; r++) {
    for (let c = 0; c < 12; c++) {
      const inDisc = Math.hypot(r - 5, c - 5) * 0.5 <= 2;
      assert.equal(mask[flatIndex(shape, 0, r, c)], inDisc && c >= 5 ? 1 : 0, `r${r} c${c}`);
    }
  }
  // Without an SUV factor the threshold is in Bq/ml.
  assert.equal(petThresholdGate(pet, null, 4000)(flatIndex(shape, 0, 0, 4)), true);
});

test("a stroke leaves no gaps between distant points", () => {
  const spec = planeSpec("axial", [1, 40, 40], [1, 1, 1]);
  const mask = new Uint8Array(1600);
  paintStroke(mask, spec, 0, { u: 2.5, v: 2.5 }, { u: 37.5, v: 30.5 }, 0.5, discOffsets(0.5, 1, 1), 1);
  // every column between the ends has a painted pixel on the line's row band
  for (let c = 3; c <= 37; c++) {
    let any = 0;
    for (let r = 0; r < 40; r++) any += mask[r * 40 + c];
    assert.ok(any > 0, `column ${c} painted`);
  }
  assert.equal(mask[2 * 40 + 2], 1);
  assert.equal(mask[30 * 40 + 37], 1);
});

test("polygon fill: axis-aligned square covers exactly its pixels", () => {
  const spans = polygonSpans([{ u: 1, v: 1 }, { u: 5, v: 1 }, { u: 5, v: 4 }, { u: 1, v: 4 }], 10, 10);
  assert.deepEqual([...spans], [1, 1, 4, 2, 1, 4, 3, 1, 4]);
});

test("polygon fill: triangle area and even-odd hole in a self-intersecting star", () => {
  const spec = planeSpec("axial", [1, 200, 200], [1, 1, 1]);
  const mask = new Uint8Array(40000);
  const n = fillPolygon(mask, spec, 0, [{ u: 10, v: 10 }, { u: 190, v: 10 }, { u: 10, v: 190 }], 1);
  const area = 0.5 * 180 * 180;
  assert.ok(Math.abs(n - area) / area < 0.02, `triangle ${n} vs ${area}`);
  // pentagram: the centre pentagon is outside under even-odd
  const star = [];
  for (let m = 0; m < 5; m++) {
    const a = -Math.PI / 2 + (m * 4 * Math.PI) / 5;
    star.push({ u: 100 + 80 * Math.cos(a), v: 100 + 80 * Math.sin(a) });
  }
  const m2 = new Uint8Array(40000);
  fillPolygon(m2, spec, 0, star, 1);
  assert.equal(m2[100 * 200 + 100], 0, "centre is a hole");
  assert.equal(m2[(100 - 70) * 200 + 100], 1, "tip is filled");
});

test("polygon fill is clipped to the plane and ignores degenerate input", () => {
  assert.deepEqual(polygonSpans([{ u: 0, v: 0 }, { u: 1, v: 1 }], 5, 5), []);
  const spans = polygonSpans([{ u: -10, v: -10 }, { u: 50, v: -10 }, { u: 50, v: 50 }, { u: -10, v: 50 }], 5, 4);
  assert.deepEqual([...spans], [0, 0, 4, 1, 0, 4, 2, 0, 4, 3, 0, 4]);
});

test("polygon fill on an anisotropic sagittal plane writes the right voxels", () => {
  const spec = planeSpec("sagittal", shape, spacing); // width = ny 10, height = nz 3
  const mask = new Uint8Array(N);
  fillPolygon(mask, spec, 7, [{ u: 0, v: 0 }, { u: 2, v: 0 }, { u: 2, v: 1 }, { u: 0, v: 1 }], 1);
  // row 0 = top = k 2; columns j 0..1; slice i 7
  assert.equal(sum(mask), 2);
  assert.equal(mask[flatIndex(shape, 2, 0, 7)], 1);
  assert.equal(mask[flatIndex(shape, 2, 1, 7)], 1);
});

test("fillPlane clears one slice only; assignFrom binarises the source", () => {
  const spec = planeSpec("coronal", shape, spacing);
  const mask = new Uint8Array(N).fill(1);
  const rec = new DiffRecorder();
  assert.equal(fillPlane(mask, spec, 4, 0, { recorder: rec }), 36);
  assert.equal(sum(mask), N - 36);
  assert.equal(rec.length, 36);
  const src = new Uint8Array(N);
  src[5] = 7;
  const m = new Uint8Array(N);
  assert.equal(assignFrom(m, src), 1);
  assert.equal(m[5], 1);
});
