import { test } from "node:test";
import assert from "node:assert/strict";
import { Viewer, TOOLS } from "../../frontend/static/viewer/viewer.mjs";
import { createGrid, planeSpec } from "../../frontend/static/viewer/geometry.mjs";
import { dragKind, SHORTCUTS } from "../../frontend/static/viewer/tools.mjs";
import { ellipseVoxels, ellipseStats, sphereMean, PEAK_RADIUS_MM } from "../../frontend/static/viewer/roi.mjs";
import { projectMax, outline } from "../../frontend/static/viewer/mip.mjs";
import { colorbarTicks, formatTick } from "../../frontend/static/viewer/panels.mjs";
import { faceLabel } from "../../frontend/static/viewer/callform.mjs";
import { fakeCanvas } from "./fakes.mjs";

const grid = createGrid({ shape: [10, 40, 50], spacing: [2, 0.5, 0.5], origin: [0, 0, 0] });
const N = 10 * 40 * 50;

function make() {
  const canvases = { axial: fakeCanvas(), coronal: fakeCanvas(), sagittal: fakeCanvas() };
  const v = new Viewer(grid, canvases, { suvFactor: 0.001, createCanvas: fakeCanvas });
  for (const name of ["axial", "coronal", "sagittal"]) v.resize(name, 300, 200, 1);
  v.setVolume("ct", new Int16Array(N).fill(40));
  const pet = new Float32Array(N);
  for (let i = 0; i < N; i++) pet[i] = (i % 50) * 200; // SUV = 0.2 * column
  v.setVolume("pet", pet);
  return v;
}

test("OHIF / Slicer bindings: left W/L by default, right zoom, middle pan, Shift+click crosshair", () => {
  assert.equal(make().tool, "wl");
  assert.equal(dragKind({ button: 0, tool: "wl" }), "wl");
  assert.equal(dragKind({ button: 2, tool: "wl" }), "zoom");
  assert.equal(dragKind({ button: 1, tool: "wl" }), "pan");
  assert.equal(dragKind({ button: 0, tool: "wl", shiftKey: true }), "crosshair");
  assert.equal(dragKind({ button: 0, tool: "navigate" }), "crosshair");
  assert.equal(dragKind({ button: 0, tool: "brush" }), "stroke");
  assert.equal(dragKind({ button: 2, tool: "brush" }), "zoom", "editing tools take the left button only");
  assert.equal(dragKind({ button: 1, tool: "polygon" }), "pan");
  assert.equal(dragKind({ button: 0, tool: "roi" }), "roi");
  assert.ok(TOOLS.includes("roi") && TOOLS.includes("zoom"));
  const help = SHORTCUTS.map(([k, d]) => `${k} ${d}`).join("\n");
  for (const phrase of ["Left drag", "Right drag", "Middle drag", "Wheel", "Shift + click", "Double-click"]) assert.ok(help.includes(phrase), phrase);
});

test("ellipse voxels: a circle of radius 4 px covers about pi r^2 pixels", () => {
  const spec = planeSpec("axial", grid.shape, grid.spacing);
  const vox = ellipseVoxels(spec, 3, { u: 10, v: 10 }, { u: 18, v: 18 });
  assert.ok(Math.abs(vox.length - Math.PI * 16) < 6, String(vox.length));
  assert.ok(vox.every(([k]) => k === 3));
  assert.deepEqual(ellipseVoxels(spec, 3, { u: 10, v: 10 }, { u: 10, v: 18 }), []);
});

test("ROI statistics: SUVmax, SUVmean and area on a PET ramp; SUVpeak is a 1 cm3 sphere mean around the max", () => {
  const v = make();
  v.beginRoi("axial", 10, 10);
  v.moveRoi(20, 20);
  v.endRoi();
  const s = v.rois[0].stats;
  assert.equal(s.units, "SUV");
  assert.ok(Math.abs(s.max - 0.2 * 19) < 1e-6, String(s.max));
  assert.ok(Math.abs(s.mean - 0.2 * 14.5) < 0.05, String(s.mean));
  assert.ok(Math.abs(s.areaMm2 - s.n * 0.25) < 1e-9);
  assert.ok(Math.abs(PEAK_RADIUS_MM - 6.2035) < 1e-3);
  // On a linear ramp a sphere centred on the max (column 19) averages column 19 (clipped nowhere here).
  assert.ok(Math.abs(s.peak - 0.2 * 19) < 1e-3, String(s.peak));
  assert.equal(s.huMean, 40);
  v.clearRois();
  assert.equal(v.rois.length, 0);
});

test("sphere mean counts only voxels within the radius", () => {
  const values = new Float32Array(27).fill(1);
  values[13] = 28; // centre of a 3x3x3 block
  assert.equal(sphereMean(values, [3, 3, 3], [1, 1, 1], [1, 1, 1], 0.5), 28);
  assert.equal(sphereMean(values, [3, 3, 3], [1, 1, 1], [1, 1, 1], 1), (28 + 6) / 7);
});

test("MIP projects the maximum along j, and outlines a projected mask", () => {
  const data = new Float32Array(2 * 3 * 4);
  data[(1 * 3 + 2) * 4 + 1] = 7;
  const p = projectMax(data, [2, 3, 4]);
  assert.equal(p.length, 8);
  assert.equal(p[1 * 4 + 1], 7);
  const mask = new Uint8Array([0, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 1, 1, 1]);
  const edge = outline(mask, 4, 4);
  assert.equal(edge[2 * 4 + 2], 0, "interior");
  assert.equal(edge[1 * 4 + 1], 1, "border");
});

test("colour bar ticks run from the display minimum to the maximum", () => {
  assert.deepEqual(colorbarTicks(1, 9), [1, 3, 5, 7, 9]);
  assert.equal(formatTick(2.5, "SUV"), "2.5");
  assert.equal(formatTick(12000, "Bq/ml"), "12k");
  assert.equal(formatTick(0.43, "Bq/ml"), "0.43", "small Bq/ml values keep two significant digits");
});

test("faces show anatomical names from the orientation, scanner labels otherwise", () => {
  assert.equal(faceLabel("+z", { "+z": "superior" }), "Superior (+z)");
  assert.equal(faceLabel("-x", { "-x": "-x" }), "-x");
  assert.equal(faceLabel("+y"), "+y");
});

test("the specimen surface is an editing target with its own undo history; my mask stays untouched", () => {
  const v = make();
  const specimen = new Uint8Array(N);
  v.setVolume("specimen", specimen);
  v.setTool("brush");
  v.setEditTarget("specimen");
  assert.equal(v.editTarget, "specimen");
  let events = 0;
  v.addEventListener("specimen", () => events++);
  v.beginStroke("axial", 25, 20);
  v.endStroke();
  const painted = specimen.reduce((a, b) => a + b, 0);
  assert.ok(painted > 0);
  assert.equal(v.mask.reduce((a, b) => a + b, 0), 0, "my mask unchanged");
  assert.equal(v.revision, 0, "the reader's mask session does not see surface edits");
  assert.equal(v.specimenRevision, 1);
  assert.equal(events, 1);
  assert.ok(v.history.canUndo);
  v.setEditTarget("mine");
  assert.ok(!v.history.canUndo, "my mask has its own history");
  v.setEditTarget("specimen");
  v.undo();
  assert.equal(specimen.reduce((a, b) => a + b, 0), 0);
});

test("the specimen surface cannot be a target before it is loaded", () => {
  const v = make();
  v.setEditTarget("specimen");
  assert.equal(v.editTarget, "mine");
});
