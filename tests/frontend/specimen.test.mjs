import { test } from "node:test";
import assert from "node:assert/strict";
import { createApi } from "../../frontend/static/viewer/api.mjs";
import { maskPayload } from "../../frontend/static/viewer/maskcodec.mjs";

test("a corrected specimen surface is posted in the reader-mask wire format with its parent version", async () => {
  const calls = [];
  const fetchImpl = async (url, init) => {
    calls.push({ url, init });
    return new Response(JSON.stringify({ surface: { version: 2 }, margin: { status: "positive" } }), { status: 201, headers: { "Content-Type": "application/json" } });
  };
  const api = createApi("/api/cases/C1/", { fetchImpl });
  const mask = new Uint8Array([0, 1, 1, 0, 0, 0, 1, 1]);
  const answer = await api.saveSpecimenSurface(maskPayload(mask, [2, 2, 2], 7));
  assert.equal(answer.margin.status, "positive");
  assert.equal(calls[0].url, "/api/cases/C1/specimen-surfaces/");
  assert.equal(calls[0].init.method, "POST");
  const body = JSON.parse(calls[0].init.body);
  assert.equal(body.parent_id, 7);
  assert.deepEqual(body.shape, [2, 2, 2]);
  assert.equal(body.encoding, "rle-u8-v1");
});
