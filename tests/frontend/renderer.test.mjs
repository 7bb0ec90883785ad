import { test } from "node:test";
import assert from "node:assert/strict";
import {
  renderPlane, buildPetTables, petScaling, blendPacked, heatAlphaTable, GREY_PACKED,
} from "../../frontend/static/viewer/renderer.mjs";
import { planeSpec } from "../../frontend/static/viewer/geometry.mjs";
import { buildGreyLut } from "../../frontend/static/viewer/windowing.mjs";
import { packColor, unpackColor, getColormap, packLut } from "../../frontend/static/viewer/colormaps.mjs";

const shape = [2, 4, 5];
const N = 40;
const spec = planeSpec("axial", shape, [1, 1, 1]);

function layers(extra = {}) {
  const ct = new Int16Array(N).fill(40);
  const pet = new Float32Array(N);
  return {
    mode: "fused", ct, greyLut: buildGreyLut(400, 40), pet, ...petScaling(1, 5, 0.001), ...buildPetTables("hot", 0.5), overlays: [], ...extra,
  };
}

test("blend of two packed pixels", () => {
  const a = packColor(0, 100, 200);
  const b = packColor(200, 100, 0);
  assert.deepEqual(unpackColor(blendPacked(a, b, 128)), [100, 100, 100, 255]);
  assert.deepEqual(unpackColor(blendPacked(a, b, 0)), [0, 100, 200, 255]);
  assert.deepEqual(unpackColor(blendPacked(a, b, 256)), [200, 100, 0, 255]);
});

test("CT only: grey from the window", () => {
  const L = layers({ mode: "ct" });
  const out = renderPlane(new Uint32Array(20), spec, 0, L);
  assert.deepEqual(unpackColor(out[0]), [128, 128, 128, 255]);
});

test("fused: PET below min is transparent, above min is blended through the colour map", () => {
  const L = layers();
  L.pet[3] = 5000; // SUV 5 = max -> top of the colour map
  L.pet[4] = 500; // SUV 0.5 < min 1 -> CT only
  const out = renderPlane(new Uint32Array(20), spec, 0, L);
  assert.equal(out[4], GREY_PACKED[128]);
  const hot = packLut(getColormap("hot"));
  assert.equal(out[3], blendPacked(GREY_PACKED[128], hot[255], 128));
  assert.equal(L.blend[(128 << 8) | 255], out[3]);
});

test("PET only mode and missing CT", () => {
  const L = layers({ mode: "pet", ct: null });
  L.pet[0] = 3000; // SUV 3: index (3-1)/(5-1)*255 = 127.5 -> 127
  const out = renderPlane(new Uint32Array(20), spec, 0, L);
  assert.equal(out[0], packLut(getColormap("hot"))[127]);
  assert.deepEqual(unpackColor(out[1]), [0, 0, 0, 255]);
  const L2 = layers({ mode: "fused", ct: null });
  assert.equal(renderPlane(new Uint32Array(20), spec, 0, L2)[1], GREY_PACKED[0]);
});

test("mask overlay: contour pixels opaque, interior blended, outside untouched", () => {
  const shape2 = [1, 5, 5];
  const spec2 = planeSpec("axial", shape2, [1, 1, 1]);
  const mask = new Uint8Array(25);
  for (let r = 1; r <= 3; r++) for (let c = 1; c <= 3; c++) mask[r * 5 + c] = 1;
  const red = packColor(255, 0, 0);
  const L = { mode: "ct", ct: new Int16Array(25), greyLut: buildGreyLut(400, 0), overlays: [{ kind: "mask", data: mask, color: red, fill: true, contour: true, fillAlpha: 128 }] };
  const out = renderPlane(new Uint32Array(25), spec2, 0, L);
  assert.equal(out[0], GREY_PACKED[128]);
  assert.equal(out[1 * 5 + 1], red);
  assert.equal(out[2 * 5 + 2], blendPacked(GREY_PACKED[128], red, 128));
  L.overlays[0].fill = false;
  const out2 = renderPlane(new Uint32Array(25), spec2, 0, L);
  assert.equal(out2[2 * 5 + 2], GREY_PACKED[128]);
});

test("uncertainty heat overlay is transparent at low values", () => {
  const heat = new Float32Array(N);
  heat[0] = 1;
  heat[1] = 0.01;
  const colors = packLut(getColormap("inferno"));
  const L = layers({ mode: "ct", overlays: [{ kind: "heat", data: heat, min: 0, scale: 255, colors, alpha: heatAlphaTable(1) }] });
  const out = renderPlane(new Uint32Array(20), spec, 0, L);
  assert.equal(out[1], GREY_PACKED[128]);
  assert.equal(out[0], colors[255]);
});

// The 16 ms budget is asserted only with PETCT_PERF=1 (a loaded CI machine makes timing flaky);
// otherwise this is a smoke test with a generous bound.
test("a 512 x 512 fused plane with four overlays renders within the frame budget", () => {
  const shape3 = [3, 512, 512];
  const n = 3 * 512 * 512;
  const ct = new Int16Array(n);
  const pet = new Float32Array(n);
  const m1 = new Uint8Array(n);
  const m2 = new Uint8Array(n);
  const heat = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    ct[i] = (i * 37) % 400 - 200;
    pet[i] = (i % 512) * 20;
    const x = (i % 512) - 256;
    const y = ((i >> 9) % 512) - 256;
    m1[i] = x * x + y * y < 200 * 200 ? 1 : 0;
    m2[i] = x * x + y * y < 60 * 60 ? 1 : 0;
    heat[i] = Math.abs(Math.sqrt(x * x + y * y) - 60) < 4 ? 0.5 : 0;
  }
  const s = planeSpec("axial", shape3, [0.5, 0.2, 0.2]);
  const L = {
    mode: "fused", ct, greyLut: buildGreyLut(600, -50), pet, ...petScaling(1, 8, 0.001), ...buildPetTables("inferno", 0.5),
    overlays: [
      { kind: "mask", data: m1, color: packColor(90, 180, 255), fill: false, contour: true },
      { kind: "heat", data: heat, min: 0, scale: 255, colors: packLut(getColormap("inferno")), alpha: heatAlphaTable(0.6) },
      { kind: "mask", data: m2, color: packColor(245, 166, 35), fill: false, contour: true },
      { kind: "mask", data: m2, color: packColor(57, 217, 138), fill: true, contour: true, fillAlpha: 90 },
    ],
  };
  const out = new Uint32Array(512 * 512);
  for (let i = 0; i < 5; i++) renderPlane(out, s, 1, L);
  const t0 = performance.now();
  const reps = 20;
  for (let i = 0; i < reps; i++) renderPlane(out, s, 1, L);
  const ms = (performance.now() - t0) / reps;
  console.log(`# renderPlane 512x512 fused + 4 overlays: ${ms.toFixed(2)} ms`);
  assert.ok(ms < (process.env.PETCT_PERF === "1" ? 16 : 200), `${ms} ms`);
});
