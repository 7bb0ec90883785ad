import { test } from "node:test";
import assert from "node:assert/strict";
import {
  PRESETS, DEFAULT_PRESET, presetById, greyValue, buildGreyLut, LUT_OFFSET, LUT_SIZE,
  clampWindowLevel, dragWindowLevel, robustRange, minMax,
} from "../../frontend/static/viewer/windowing.mjs";

test("presets cover specimen, soft tissue, fat and full range with unique keys", () => {
  const ids = PRESETS.map((p) => p.id);
  assert.deepEqual(ids, ["specimen", "soft", "fat", "full"]);
  assert.ok(presetById(DEFAULT_PRESET));
  assert.equal(new Set(PRESETS.map((p) => p.key)).size, PRESETS.length);
  // Fat (-100 HU) and gland (+40 HU) are both inside the specimen window, air is black.
  const s = presetById("specimen");
  assert.ok(greyValue(-100, s.window, s.level) > 0 && greyValue(-100, s.window, s.level) < 255);
  assert.ok(greyValue(40, s.window, s.level) > greyValue(-100, s.window, s.level));
  assert.equal(greyValue(-1000, s.window, s.level), 0);
});

test("greyValue is a clamped linear ramp over [L - W/2, L + W/2]", () => {
  assert.equal(greyValue(-200, 400, 0), 0);
  assert.equal(greyValue(200, 400, 0), 255);
  assert.equal(greyValue(0, 400, 0), 128);
  assert.equal(greyValue(-5000, 400, 0), 0);
  assert.equal(greyValue(5000, 400, 0), 255);
});

test("grey LUT matches greyValue for every int16 value and several windows", () => {
  for (const [w, l] of [[400, 40], [1, 0], [600, -50], [3000, 500], [7.5, 3.2], [8000, 6000]]) {
    const lut = buildGreyLut(w, l);
    assert.equal(lut.length, LUT_SIZE);
    for (let hu = -32768; hu < 32768; hu += 1) {
      if (lut[hu + LUT_OFFSET] !== greyValue(hu, w, l)) assert.fail(`W${w} L${l} hu ${hu}: ${lut[hu + LUT_OFFSET]} != ${greyValue(hu, w, l)}`);
    }
  }
});

test("grey LUT reuses the output buffer", () => {
  const out = new Uint8Array(LUT_SIZE);
  assert.equal(buildGreyLut(400, 40, out), out);
  buildGreyLut(100, -1000, out);
  assert.equal(out[-1000 + LUT_OFFSET], 128);
});

test("window and level are clamped", () => {
  assert.deepEqual(clampWindowLevel(0, 0), { window: 1, level: 0 });
  assert.deepEqual(clampWindowLevel(1e6, -1e6), { window: 8000, level: -2000 });
  assert.deepEqual(clampWindowLevel(NaN, NaN), { window: 400, level: 40 });
});

test("dragging right widens the window and dragging down raises the level", () => {
  const wl = dragWindowLevel({ window: 400, level: 40 }, 10, 0);
  assert.ok(wl.window > 400);
  assert.equal(wl.level, 40);
  const wl2 = dragWindowLevel({ window: 400, level: 40 }, 0, 10);
  assert.ok(wl2.level > 40);
  assert.equal(dragWindowLevel({ window: 2, level: 0 }, -100, 0).window, 1);
});

test("robust range ignores outliers and non-finite values", () => {
  const data = new Float32Array(10000);
  for (let i = 0; i < data.length; i++) data[i] = i % 100;
  data[5] = 1e9;
  data[6] = NaN;
  const [lo, hi] = robustRange(data, { lowPercentile: 0, highPercentile: 99 });
  assert.equal(lo, 0);
  assert.ok(hi >= 97 && hi <= 99, `hi ${hi}`);
  assert.deepEqual(robustRange(new Float32Array(0)), [0, 1]);
  assert.deepEqual(minMax(Int16Array.from([3, -7, 12])), [-7, 12]);
});
