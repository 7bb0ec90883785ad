import { test } from "node:test";
import assert from "node:assert/strict";
import zlib from "node:zlib";
import { createApi, getCookie, ApiError } from "../../frontend/static/viewer/api.mjs";
import { encodeMask } from "../../frontend/static/viewer/maskcodec.mjs";

globalThis.document = { cookie: "sessionid=abc; csrftoken=tok%2B1; other=x" };

function recorder(handler) {
  const calls = [];
  const fetchImpl = async (url, init = {}) => {
    calls.push({ url, init });
    return handler(url, init);
  };
  return { calls, fetchImpl };
}

const jsonResponse = (status, body) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

test("cookie parsing", () => {
  assert.equal(getCookie("csrftoken"), "tok+1");
  assert.equal(getCookie("missing"), "");
  assert.equal(getCookie("a", "a=1"), "1");
});

test("unsafe requests carry the CSRF header and JSON body; GET does not send a body", async () => {
  const { calls, fetchImpl } = recorder(() => jsonResponse(201, { id: 5, version: 2, created: "now" }));
  const api = createApi("/api/cases/C1", { fetchImpl });
  const res = await api.saveSegmentation({ parent_id: 4 });
  assert.deepEqual(res, { id: 5, version: 2, created: "now" });
  assert.equal(calls[0].url, "/api/cases/C1/segmentations/");
  assert.equal(calls[0].init.method, "POST");
  assert.equal(calls[0].init.headers["X-CSRFToken"], "tok+1");
  assert.equal(calls[0].init.headers["Content-Type"], "application/json");
  assert.deepEqual(JSON.parse(calls[0].init.body), { parent_id: 4 });
  await api.getCase();
  assert.equal(calls[1].url, "/api/cases/C1/");
  assert.equal(calls[1].init.body, undefined);
  await api.putDraft({ a: 1 }, { keepalive: true });
  assert.equal(calls[2].init.method, "PUT");
  assert.equal(calls[2].init.keepalive, true);
  await api.submitRead({ status: "close" });
  await api.amendRead(7, { status: "close" });
  assert.deepEqual(calls.slice(3).map((c) => c.url), ["/api/cases/C1/reads/", "/api/cases/C1/reads/7/amend/"]);
});

test("errors carry status, detail and body; a missing draft is null", async () => {
  const api = createApi("/api/cases/C1/", {
    fetchImpl: async (url) => (url.endsWith("draft/") ? jsonResponse(404, { detail: "no draft" }) : jsonResponse(409, { detail: "already submitted", read_id: 3 })),
  });
  assert.equal(await api.getDraft(), null);
  await assert.rejects(api.submitRead({}), (err) => err instanceof ApiError && err.status === 409 && err.detail === "already submitted" && err.body.read_id === 3);
});

test("volumes: typed arrays from headers, shape check, raw gzip fallback, JSON segmentation", async () => {
  const ct = Int16Array.from([-1000, 0, 40, 3000, -5, 7]);
  const bytes = Buffer.from(ct.buffer);
  const api = createApi("/api/x/", {
    fetchImpl: async (url) => {
      if (url === "ct") return new Response(bytes, { headers: { "X-Volume-Shape": "1,2,3", "X-Volume-Dtype": "int16" } });
      if (url === "gz") return new Response(zlib.gzipSync(bytes), { headers: { "X-Volume-Shape": "1,2,3", "X-Volume-Dtype": "int16" } });
      if (url === "bad") return new Response(bytes.subarray(0, 10), { headers: { "X-Volume-Shape": "1,2,3", "X-Volume-Dtype": "int16" } });
      if (url === "noheaders") return new Response(Buffer.from(Float32Array.from([1.5, 2]).buffer));
      if (url === "seg") return jsonResponse(200, { shape: [1, 2, 3], encoding: "rle-u8-v1", data: encodeMask(Uint8Array.from([0, 1, 1, 0, 0, 1])) });
      return jsonResponse(404, { detail: "nope" });
    },
  });
  const a = await api.loadVolume("ct");
  assert.ok(a.data instanceof Int16Array);
  assert.deepEqual([...a.data], [...ct]);
  assert.deepEqual(a.shape, [1, 2, 3]);
  assert.deepEqual([...(await api.loadVolume("gz")).data], [...ct]);
  await assert.rejects(api.loadVolume("bad"), /expected 12/);
  const f = await api.loadVolume("noheaders", { expect: { dtype: "float32", shape: [1, 1, 2] } });
  assert.deepEqual([...f.data], [1.5, 2]);
  const s = await api.loadVolume("seg");
  assert.deepEqual([...s.data], [0, 1, 1, 0, 0, 1]);
  await assert.rejects(api.loadVolume("missing"), (err) => err.status === 404);
});

import { float16ToFloat32 } from "../../frontend/static/viewer/api.mjs";

test("float16 bit patterns decode to the values numpy writes", () => {
  // numpy: np.array([0, 1, -2, 0.5, 65504, 6.1035e-05], np.float16).view(np.uint16)
  const bits = new Uint16Array([0x0000, 0x3c00, 0xc000, 0x3800, 0x7bff, 0x0400]);
  const values = float16ToFloat32(bits);
  assert.deepEqual(Array.from(values.slice(0, 5)), [0, 1, -2, 0.5, 65504]);
  assert.ok(Math.abs(values[5] - 6.1035e-5) < 1e-8);
});
