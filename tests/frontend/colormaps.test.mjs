import { test } from "node:test";
import assert from "node:assert/strict";
import {
  hot, inferno, grey, getColormap, COLORMAP_NAMES, packColor, unpackColor, packLut, parseHexColor, lutCss,
} from "../../frontend/static/viewer/colormaps.mjs";

test("every colour map has 256 RGB entries", () => {
  for (const name of COLORMAP_NAMES) assert.equal(getColormap(name).length, 768);
  assert.throws(() => getColormap("jet"));
});

test("hot runs black -> red -> yellow -> white monotonically", () => {
  const lut = hot();
  assert.deepEqual([...lut.slice(0, 3)], [0, 0, 0]);
  assert.deepEqual([...lut.slice(765)], [255, 255, 255]);
  const mid = 96 * 3; // x = 0.376: red saturated, green starting
  assert.equal(lut[mid], 255);
  assert.ok(lut[mid + 1] < 255 && lut[mid + 2] === 0);
  for (let n = 1; n < 256; n++) for (let c = 0; c < 3; c++) assert.ok(lut[3 * n + c] >= lut[3 * (n - 1) + c]);
});

test("inferno matches matplotlib's end points and brightens monotonically", () => {
  const lut = inferno();
  assert.deepEqual([...lut.slice(0, 3)], [0, 0, 4]);
  assert.deepEqual([...lut.slice(765)], [252, 255, 164]);
  const lum = (n) => 0.2126 * lut[3 * n] + 0.7152 * lut[3 * n + 1] + 0.0722 * lut[3 * n + 2];
  for (let n = 8; n < 256; n += 8) assert.ok(lum(n) > lum(n - 8), `luminance at ${n}`);
});

test("grey ramp", () => {
  const lut = grey();
  assert.deepEqual([...lut.slice(3 * 77, 3 * 78)], [77, 77, 77]);
});

test("packed pixels round-trip and match ImageData byte order", () => {
  const p = packColor(10, 20, 30, 40);
  assert.deepEqual(unpackColor(p), [10, 20, 30, 40]);
  const bytes = new Uint8Array(new Uint32Array([p]).buffer);
  assert.deepEqual([...bytes], [10, 20, 30, 40]);
  const packed = packLut(hot(), 200);
  assert.equal(packed.length, 256);
  assert.deepEqual(unpackColor(packed[255]), [255, 255, 255, 200]);
});

test("hex colours parse", () => {
  assert.deepEqual(parseHexColor("#ff8000"), [255, 128, 0]);
  assert.deepEqual(parseHexColor("0f0"), [0, 255, 0]);
  assert.throws(() => parseHexColor("#12"));
  assert.equal(lutCss(grey(), 300), "rgb(255, 255, 255)");
});
