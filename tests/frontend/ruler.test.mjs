import { test } from "node:test";
import assert from "node:assert/strict";
import { distanceMm, planeDistanceMm, formatMm } from "../../frontend/static/viewer/ruler.mjs";

test("3D distance uses the anisotropic spacing [sz, sy, sx]", () => {
  assert.equal(distanceMm([0, 0, 0], [0, 0, 4], [2, 0.5, 0.25]), 1);
  assert.equal(distanceMm([0, 0, 0], [0, 4, 0], [2, 0.5, 0.25]), 2);
  assert.equal(distanceMm([1, 0, 0], [0, 0, 0], [2, 0.5, 0.25]), 2);
  assert.equal(distanceMm([0, 0, 0], [3, 8, 0], [1, 0.5, 1]), 5);
});

test("in-plane distance uses column and row spacing", () => {
  assert.equal(planeDistanceMm({ u: 0, v: 0 }, { u: 3, v: 2 }, 1, 2), 5);
  assert.equal(planeDistanceMm({ u: 1.5, v: 1 }, { u: 1.5, v: 1 }, 1, 1), 0);
});

test("distance text", () => {
  assert.equal(formatMm(0.834), "0.83 mm");
  assert.equal(formatMm(12.34), "12.3 mm");
  assert.equal(formatMm(NaN), "–");
});
