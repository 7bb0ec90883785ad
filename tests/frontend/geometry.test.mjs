import { test } from "node:test";
import assert from "node:assert/strict";
import {
  VIEWS, createGrid, voxelCount, flatIndex, unflatIndex, voxelToMm, mmToVoxel, clampVoxel, inBounds,
  planeSpec, planeIndices, extractPlane, orientationLabels, viewTransform, screenToImage, imageToScreen, zoomAbout,
} from "../../frontend/static/viewer/geometry.mjs";

const close = (a, b, eps = 1e-9) => a.forEach((v, n) => assert.ok(Math.abs(v - b[n]) < eps, `${a} vs ${b}`));

const grid = createGrid({ shape: [4, 5, 6], spacing: [2, 0.5, 0.25], origin: [10, -20, 30], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] });

test("grid validation and counts", () => {
  assert.equal(voxelCount(grid), 120);
  assert.throws(() => createGrid({ shape: [0, 2, 2], spacing: [1, 1, 1] }));
  assert.throws(() => createGrid({ shape: [2, 2, 2], spacing: [1, -1, 1] }));
  assert.deepEqual(createGrid({ shape: [1, 1, 1], spacing: [1, 1, 1] }).direction, [1, 0, 0, 0, 1, 0, 0, 0, 1]);
});

test("flat index round-trips in C order", () => {
  assert.equal(flatIndex(grid.shape, 0, 0, 1), 1);
  assert.equal(flatIndex(grid.shape, 0, 1, 0), 6);
  assert.equal(flatIndex(grid.shape, 1, 0, 0), 30);
  for (let n = 0; n < 120; n++) assert.equal(flatIndex(grid.shape, ...unflatIndex(grid.shape, n)), n);
});

test("voxel centre [0,0,0] is the origin; axes scale by spacing [sz, sy, sx]", () => {
  close(voxelToMm(grid, [0, 0, 0]), [10, -20, 30]);
  close(voxelToMm(grid, [1, 0, 0]), [10, -20, 32]);
  close(voxelToMm(grid, [0, 1, 0]), [10, -19.5, 30]);
  close(voxelToMm(grid, [0, 0, 1]), [10.25, -20, 30]);
});

test("direction columns are the i, j, k axes (row-major 9 floats)", () => {
  // i -> -y, j -> +x, k -> -z
  const g = createGrid({ shape: [4, 5, 6], spacing: [2, 0.5, 0.25], origin: [0, 0, 0], direction: [0, 1, 0, -1, 0, 0, 0, 0, -1] });
  close(voxelToMm(g, [0, 0, 4]), [0, -1, 0]);
  close(voxelToMm(g, [0, 2, 0]), [1, 0, 0]);
  close(voxelToMm(g, [3, 0, 0]), [0, 0, -6]);
  assert.deepEqual(orientationLabels("axial", g.direction), { left: "P", right: "A", top: "R", bottom: "L" });
});

test("mmToVoxel inverts voxelToMm for an oblique direction", () => {
  const c = Math.cos(0.3), s = Math.sin(0.3);
  const g = createGrid({ shape: [9, 9, 9], spacing: [1.5, 0.7, 0.3], origin: [1, 2, 3], direction: [c, -s, 0, s, c, 0, 0, 0, 1] });
  for (const kji of [[0, 0, 0], [1.5, 2.25, 7], [8, 3, 1]]) close(mmToVoxel(g, voxelToMm(g, kji)), kji, 1e-9);
});

test("clamp and bounds", () => {
  assert.deepEqual(clampVoxel(grid.shape, [-1, 2.6, 99]), [0, 3, 5]);
  assert.ok(inBounds(grid.shape, [3, 4, 5]));
  assert.ok(!inBounds(grid.shape, [4, 0, 0]));
});

test("plane specs: sizes, spacings and physical aspect", () => {
  const ax = planeSpec("axial", grid.shape, grid.spacing);
  assert.deepEqual([ax.width, ax.height, ax.sliceCount, ax.colSpacing, ax.rowSpacing], [6, 5, 4, 0.25, 0.5]);
  assert.equal(ax.widthMm, 1.5);
  assert.equal(ax.heightMm, 2.5);
  assert.equal(ax.pixelAspect, 2);
  const co = planeSpec("coronal", grid.shape, grid.spacing);
  assert.deepEqual([co.width, co.height, co.sliceCount, co.colSpacing, co.rowSpacing], [6, 4, 5, 0.25, 2]);
  const sa = planeSpec("sagittal", grid.shape, grid.spacing);
  assert.deepEqual([sa.width, sa.height, sa.sliceCount, sa.colSpacing, sa.rowSpacing], [5, 4, 6, 0.5, 2]);
  assert.throws(() => planeSpec("oblique", grid.shape, grid.spacing));
});

test("plane index arithmetic agrees with toKji / fromKji for every pixel of every view", () => {
  for (const view of VIEWS) {
    const spec = planeSpec(view, grid.shape, grid.spacing);
    for (let s = 0; s < spec.sliceCount; s++) {
      const idx = planeIndices(spec, s);
      let n = 0;
      for (let r = 0; r < spec.height; r++) {
        for (let c = 0; c < spec.width; c++, n++) {
          const kji = spec.toKji(s, r, c);
          assert.ok(inBounds(grid.shape, kji));
          assert.equal(idx[n], flatIndex(grid.shape, ...kji));
          assert.equal(spec.index(s, r, c), idx[n]);
          assert.deepEqual(spec.fromKji(...kji), { slice: s, row: r, col: c });
        }
      }
    }
  }
});

test("coronal and sagittal put the highest slice (superior) at the top", () => {
  const co = planeSpec("coronal", grid.shape, grid.spacing);
  assert.deepEqual(co.toKji(2, 0, 0), [3, 2, 0]);
  const sa = planeSpec("sagittal", grid.shape, grid.spacing);
  assert.deepEqual(sa.toKji(1, 3, 4), [0, 4, 1]);
  assert.deepEqual(orientationLabels("coronal"), { left: "R", right: "L", top: "S", bottom: "I" });
  assert.deepEqual(orientationLabels("sagittal"), { left: "A", right: "P", top: "S", bottom: "I" });
  assert.deepEqual(orientationLabels("axial"), { left: "R", right: "L", top: "A", bottom: "P" });
});

test("extractPlane copies the right voxels with the source type", () => {
  const data = new Int16Array(120).map((_, n) => n);
  const sa = planeSpec("sagittal", grid.shape, grid.spacing);
  const plane = extractPlane(data, sa, 2);
  assert.ok(plane instanceof Int16Array);
  assert.equal(plane[0], flatIndex(grid.shape, 3, 0, 2));
  assert.equal(plane[plane.length - 1], flatIndex(grid.shape, 0, 4, 2));
});

test("view transform keeps the physical aspect ratio and round-trips screen points", () => {
  const ax = planeSpec("axial", grid.shape, grid.spacing); // 1.5 x 2.5 mm
  const t = viewTransform(ax, 300, 300);
  assert.ok(Math.abs(t.drawH - 300) < 1e-9);
  assert.ok(Math.abs(t.drawW - 180) < 1e-9);
  assert.ok(Math.abs(t.sy / t.sx - 2) < 1e-9, "rows are drawn twice as tall as columns");
  const p = screenToImage(t, 123, 45);
  const q = imageToScreen(t, p.u, p.v);
  assert.ok(Math.abs(q.x - 123) < 1e-9 && Math.abs(q.y - 45) < 1e-9);
  assert.ok(Math.abs(screenToImage(t, 60, 0).u) < 1e-9);
});

test("zooming about a point keeps that image point under the cursor", () => {
  const ax = planeSpec("axial", grid.shape, grid.spacing);
  const state = { zoom: 1.3, panX: 12, panY: -7 };
  const before = screenToImage(viewTransform(ax, 400, 300, state), 250, 120);
  const next = zoomAbout(ax, 400, 300, state, 2, 250, 120);
  assert.ok(Math.abs(next.zoom - 2.6) < 1e-12);
  const after = screenToImage(viewTransform(ax, 400, 300, next), 250, 120);
  assert.ok(Math.abs(after.u - before.u) < 1e-9 && Math.abs(after.v - before.v) < 1e-9);
  assert.equal(zoomAbout(ax, 400, 300, state, 1000, 0, 0).zoom, 40);
});

import { volumeBounds, unionBounds, indexBounds, planeRect } from "../../frontend/static/viewer/geometry.mjs";

test("volume and index bounds, union, and their rectangle in each plane", () => {
  const shape = [4, 5, 6];
  const data = new Uint8Array(120);
  assert.equal(volumeBounds(data, shape), null);
  data[flatIndex(shape, 1, 2, 3)] = 1;
  data[flatIndex(shape, 2, 4, 1)] = 1;
  const b = volumeBounds(data, shape);
  assert.deepEqual(b, [1, 2, 2, 4, 1, 3]);
  assert.deepEqual(indexBounds([flatIndex(shape, 1, 2, 3), flatIndex(shape, 2, 4, 1)], shape), b);
  assert.equal(indexBounds([], shape), null);
  assert.deepEqual(unionBounds(b, [0, 0, 0, 0, 5, 5]), [0, 2, 0, 4, 1, 5]);
  assert.deepEqual(unionBounds(null, b), b);
  assert.deepEqual(volumeBounds(Float32Array.from(data, (v) => v * 0.5), shape, (v) => v > 0.4), b);
  const ax = planeSpec("axial", shape, [1, 1, 1]);
  assert.deepEqual(planeRect(ax, 1, b), { r0: 2, r1: 4, c0: 1, c1: 3 });
  assert.equal(planeRect(ax, 3, b), null);
  const co = planeSpec("coronal", shape, [1, 1, 1]);
  assert.deepEqual(planeRect(co, 3, b), { r0: 1, r1: 2, c0: 1, c1: 3 }, "rows flipped: k 1..2 -> rows 2..1");
  assert.equal(planeRect(co, 1, b), null);
  const sa = planeSpec("sagittal", shape, [1, 1, 1]);
  assert.deepEqual(planeRect(sa, 2, b), { r0: 1, r1: 2, c0: 2, c1: 4 });
  assert.deepEqual(planeRect(sa, 0, undefined), { r0: 0, r1: 3, c0: 0, c1: 4 });
});
