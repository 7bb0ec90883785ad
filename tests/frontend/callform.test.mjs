import { test } from "node:test";
import assert from "node:assert/strict";
import { buildCallBody, FACES } from "../../frontend/static/viewer/callform.mjs";
import { VisibleTimer } from "../../frontend/static/viewer/timer.mjs";
import { formatDuration } from "../../frontend/static/viewer/dom.mjs";

test("call body: required fields, optional face calls, rounded time", () => {
  const body = buildCallBody({ status: "close", confidence: "4", faceCalls: { "+x": "positive", "-y": "", "+z": "bogus" }, comment: "  near lateral ", seconds: 83.456, segmentationId: 12 });
  assert.deepEqual(body, { status: "close", confidence: 4, comment: "near lateral", time_spent_s: 83.5, segmentation_id: 12, face_calls: { "+x": "positive" } });
  const plain = buildCallBody({ status: "negative", confidence: 1 });
  assert.equal("face_calls" in plain, false);
  assert.equal(plain.segmentation_id, null);
  assert.throws(() => buildCallBody({ confidence: 3 }), /margin status/);
  assert.throws(() => buildCallBody({ status: "positive" }), /confidence/);
  assert.throws(() => buildCallBody({ status: "positive", confidence: 6 }), /confidence/);
  assert.deepEqual(FACES, ["+x", "-x", "+y", "-y", "+z", "-z"]);
});

test("the timer counts only visible time", () => {
  let now = 0;
  const t = new VisibleTimer({ now: () => now });
  now = 5000;
  assert.equal(t.seconds, 5);
  t.setVisible(false);
  now = 65000;
  assert.equal(t.seconds, 5);
  t.setVisible(true);
  t.setVisible(true);
  now = 66500;
  assert.equal(t.seconds, 6.5);
  const hidden = new VisibleTimer({ now: () => now, visible: false });
  now = 99999;
  assert.equal(hidden.seconds, 0);
  assert.equal(hidden.running, false);
});

test("durations format as m:ss and h:mm:ss", () => {
  assert.equal(formatDuration(0), "0:00");
  assert.equal(formatDuration(83.9), "1:23");
  assert.equal(formatDuration(3725), "1:02:05");
});
