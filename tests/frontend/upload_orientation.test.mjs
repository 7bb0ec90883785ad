import { test } from "node:test";
import assert from "node:assert/strict";
import { orientationBody, orientationProblem, orientationTarget } from "../../frontend/static/frontend/upload_orientation.mjs";

test("nothing chosen means no orientation; empty choices are dropped", () => {
  assert.equal(orientationBody("", { superior: "", lateral: "" }), null);
  assert.deepEqual(orientationBody("", { superior: "+z", lateral: "", anterior: "-y" }),
    { directions: { superior: "+z", anterior: "-y" } });
  assert.deepEqual(orientationBody("short-superior-long-lateral", { "short suture": "-z", "long suture": "" }),
    { convention: "short-superior-long-lateral", markers: { "short suture": "-z" } });
});

test("two choices on one scanner axis are refused before uploading", () => {
  assert.equal(orientationProblem(null), null);
  assert.equal(orientationProblem({ directions: { superior: "+z", lateral: "-x" } }), null);
  assert.match(orientationProblem({ directions: { superior: "+z", lateral: "-z" } }), /superior and lateral .* z axis/);
  assert.match(orientationProblem({ convention: "c", markers: { "short suture": "+x", "long suture": "+x" } }), /x axis/);
});

test("the orientation goes to the one case imported, never to several", () => {
  const body = { directions: { superior: "+z" } };
  assert.deepEqual(orientationTarget(null, ["PC-1"]), { action: "none" });
  assert.deepEqual(orientationTarget(body, ["PC-1"]), { action: "record", code: "PC-1" });
  assert.equal(orientationTarget(body, ["PC-1", "PC-2"]).action, "skip");
  assert.match(orientationTarget(body, ["PC-1", "PC-2"]).reason, /2 specimens/);
  assert.equal(orientationTarget(body, []).action, "skip");
});
