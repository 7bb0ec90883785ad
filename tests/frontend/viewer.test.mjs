import { test } from "node:test";
import assert from "node:assert/strict";
import { Viewer } from "../../frontend/static/viewer/viewer.mjs";
import { createGrid, flatIndex } from "../../frontend/static/viewer/geometry.mjs";
import { fakeCanvas } from "./fakes.mjs";

const grid = createGrid({ shape: [10, 40, 50], spacing: [2, 0.5, 0.5], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] });
const N = 10 * 40 * 50;

function make(opts = {}) {
  const canvases = { axial: fakeCanvas(), coronal: fakeCanvas(), sagittal: fakeCanvas() };
  const v = new Viewer(grid, canvases, { suvFactor: 0.001, createCanvas: fakeCanvas, ...opts });
  for (const name of ["axial", "coronal", "sagittal"]) v.resize(name, 300, 200, 1);
  const ct = new Int16Array(N).fill(40);
  const pet = new Float32Array(N);
  for (let i = 0; i < N; i++) pet[i] = (i % 50) * 200; // SUV = 0.2 * column
  v.setVolume("ct", ct);
  v.setVolume("pet", pet);
  return v;
}

test("starts at the centre with the specimen preset; slices follow the cursor", () => {
  const v = make();
  assert.deepEqual(v.cursor, [5, 20, 25]);
  assert.deepEqual(v.slices, { axial: 5, coronal: 20, sagittal: 25 });
  assert.equal(v.wl.preset, "specimen");
  v.setSlice("coronal", 7);
  assert.deepEqual(v.cursor, [5, 7, 25]);
  v.scrollSlice("axial", 100);
  assert.equal(v.slices.axial, 9, "clamped to the last slice");
  v.setCursorFromView("sagittal", 3.5, 0.2); // col 3 = j, row 0 = top = k 9
  assert.deepEqual(v.cursor, [9, 3, 25]);
});

test("volumes must match the grid; PET window defaults from the data", () => {
  const v = make();
  assert.throws(() => v.setVolume("ct", new Int16Array(5)));
  assert.ok(v.pet.max > 8 && v.pet.max <= 10, `max ${v.pet.max}`);
  assert.ok(v.pet.min > 0 && v.pet.min < v.pet.max);
  assert.equal(v.pet.units, "SUV");
  assert.equal(make({ suvFactor: null }).pet.units, "Bq/ml");
});

test("probe reads position, HU, SUV and mask membership", () => {
  const v = make();
  const p = v.probe([1, 2, 30]);
  assert.deepEqual(p.mm, [15, 1, 2]);
  assert.equal(p.hu, 40);
  assert.ok(Math.abs(p.pet - 6) < 1e-9);
  assert.equal(p.mine, false);
  assert.equal(v.probe([10, 0, 0]), null);
});

test("brush stroke paints the active slice; undo and redo restore it", () => {
  const v = make();
  let events = 0;
  v.addEventListener("mask", () => events++);
  v.setTool("brush");
  v.setBrushRadius(1);
  v.beginStroke("axial", 10.5, 10.5);
  v.continueStroke(30.5, 10.5);
  const changed = v.endStroke();
  assert.ok(changed > 80, `changed ${changed}`);
  const sum = () => v.mask.reduce((a, b) => a + b, 0);
  assert.equal(sum(), changed);
  for (let i = 0; i < N; i++) if (v.mask[i]) assert.equal(Math.floor(i / 2000), 5);
  const rev = v.revision;
  assert.ok(v.undo());
  assert.equal(sum(), 0);
  assert.ok(v.redo());
  assert.equal(sum(), changed);
  assert.ok(v.revision > rev);
  assert.equal(events, 3);
});

test("PET brush respects the SUV threshold", () => {
  const v = make();
  v.setPetThreshold(5); // columns >= 25
  v.setBrushRadius(3);
  v.beginStroke("axial", 25.5, 20.5, "petbrush");
  v.endStroke();
  for (let i = 0; i < N; i++) if (v.mask[i]) assert.ok(i % 50 >= 25);
  assert.ok(v.mask.some((x) => x));
});

test("polygon closes into a filled region; clear slice erases only that slice", () => {
  const v = make();
  v.setTool("polygon");
  for (const [u, vv] of [[5, 5], [15, 5], [15, 15], [5, 15]]) v.addPolygonPoint("axial", u, vv);
  assert.equal(v.closePolygon(), 100);
  v.setSlice("axial", 6);
  v.addPolygonPoint("axial", 0, 0);
  v.addPolygonPoint("axial", 4, 0);
  v.addPolygonPoint("axial", 4, 4);
  assert.equal(v.closePolygon(), 10, "triangle incl. the pixels whose centres lie on the diagonal edge");
  assert.equal(v.clearSlice("axial"), 10);
  assert.equal(v.mask.reduce((a, b) => a + b, 0), 100);
  v.addPolygonPoint("axial", 0, 0);
  v.setSlice("axial", 7);
  assert.equal(v.polygon, null, "changing slice cancels the polygon");
});

test("start from model copies the model mask and is undoable", () => {
  const v = make();
  const model = new Uint8Array(N);
  model.fill(1, 3000, 3100);
  v.setVolume("model", model);
  assert.equal(v.overlays.model.available, true);
  assert.equal(v.startFromModel(), 100);
  assert.deepEqual(v.mask, model);
  v.undo();
  assert.equal(v.mask.reduce((a, b) => a + b, 0), 0);
});

test("margin: jump moves the cursor to the closest tumour point", () => {
  const v = make();
  assert.equal(v.jumpToMargin(), false);
  v.setMargin({ closest_margin_mm: 0.8, closest_point: { tumour_kji: [3, 30, 45], surface_kji: [3, 31, 47] } });
  assert.ok(v.overlays.margin.available);
  assert.ok(v.jumpToMargin());
  assert.deepEqual(v.cursor, [3, 30, 45]);
});

test("rulers measure in mm with the view's spacing", () => {
  const v = make();
  v.beginRuler("coronal", 0, 0);
  v.moveRuler(6, 2); // 6 columns x 0.5 mm, 2 rows x 2 mm
  const r = v.endRuler();
  assert.ok(Math.abs(r.mm - 5) < 1e-9);
  assert.equal(v.rulers.length, 1);
  v.beginRuler("coronal", 1, 1);
  v.endRuler();
  assert.equal(v.rulers.length, 1, "a click without drag adds no ruler");
});

test("window/level, presets, modes and zoom", () => {
  const v = make();
  v.setWindowLevel(0, 99999);
  assert.deepEqual([v.wl.window, v.wl.level], [1, 6000]);
  v.applyPreset("soft");
  assert.deepEqual([v.wl.window, v.wl.level, v.wl.preset], [400, 40, "soft"]);
  v.cycleMode();
  assert.equal(v.mode, "ct");
  v.setMode("nonsense");
  assert.equal(v.mode, "ct");
  v.zoom("axial", 2, 150, 100);
  assert.equal(v.viewState.axial.zoom, 2);
  v.resetView();
  assert.equal(v.viewState.axial.zoom, 1);
});

test("flush renders images, records the first image time, and layers follow overlay settings", async () => {
  const v = make({ moduleStart: 0 });
  v.setMargin({ closest_margin_mm: 0.8, closest_point: { tumour_kji: [5, 30, 45], surface_kji: [5, 31, 47] } });
  v.flush();
  assert.ok(v.timings.firstImageMs >= 0);
  assert.equal(await v.firstImage, v.timings.firstImageMs);
  assert.equal(v.layers().overlays.length, 0, "no overlays: my mask is empty, nothing else loaded");
  v.setVolume("specimen", new Uint8Array(N).fill(1, 0, 4000));
  v.mask[3] = 1;
  v.loadMask(v.mask.slice());
  v.setOverlay("mine", { style: "contour" });
  const L2 = v.layers();
  assert.equal(L2.overlays.length, 2);
  assert.deepEqual(L2.overlays[0].bounds, [0, 1, 0, 39, 0, 49]);
  assert.equal(L2.overlays[1].fill, false);
  assert.equal(L2.overlays[1].contour, true);
  assert.ok(v.benchmarkRender(2) >= 0);
  // A rendered axial image: pixel colours are grey for CT 40 HU at the specimen window.
  const out = v.renderers.axial.out32;
  assert.equal(out.length, 50 * 40);
});

test("overlay passes are limited to the bounding box of each mask, kept up to date by edits", () => {
  const v = make();
  const model = new Uint8Array(N);
  model[flatIndex(grid.shape, 5, 10, 10)] = 1;
  v.setVolume("model", model);
  assert.deepEqual(v.bounds.model, [5, 5, 10, 10, 10, 10]);
  assert.equal(v.bounds.mine, null);
  assert.equal(v.layers().overlays.length, 1, "empty own mask is skipped");
  v.beginStroke("axial", 30.5, 30.5, "brush");
  assert.equal(v.bounds.mine, undefined, "whole plane while painting");
  v.endStroke();
  const b = v.bounds.mine;
  assert.ok(b[0] === 5 && b[1] === 5 && b[2] <= 30 && b[3] >= 30);
  v.startFromModel();
  assert.ok(v.bounds.mine[2] <= 10 && v.bounds.mine[3] >= 30, "union of the stroke and the model");
  v.undo();
  v.undo();
  assert.ok(v.bounds.mine, "undo keeps a conservative box");
  v.loadMask(new Uint8Array(N));
  assert.equal(v.bounds.mine, null);
});
