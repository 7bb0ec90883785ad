/**
 * Development / test harness for the viewer: a dependency-free HTTP server that serves
 * frontend/static/viewer/ under /static/viewer/, a page like the Django template at
 * /cases/<code>/, and a fake case API that follows the contract in
 * frontend/static/viewer/README.md, with synthetic volumes.
 *
 *   node tests/frontend/harness/server.mjs [--port 8765] [--shape 96,256,256] [--spacing 0.5,0.25,0.25]
 *
 * Page options (query string of /cases/DEMO/): model=0 (reader may not see the model),
 * gt=1 (show ground truth), suv=0 (no SUV factor), call=0 (hide the call form),
 * seg=1 (start with a saved segmentation), draft=1 (start with a newer draft).
 * Test helpers: GET /__log (requests with bodies' sizes), POST /__reset.
 */

import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import { fileURLToPath } from "node:url";
import { generate } from "./synthetic.mjs";
import { decodeMask, encodeMask } from "../../../frontend/static/viewer/maskcodec.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const STATIC_ROOT = path.resolve(here, "../../../frontend/static/viewer");
const CSRF = "harness-csrf-token-123";

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, n, all) => (a.startsWith("--") ? [...acc, [a.slice(2), all[n + 1]]] : acc), []),
);
const port = Number(args.port || 8765);
const shape = (args.shape || "96,256,256").split(",").map(Number);
const spacing = (args.spacing || "0.5,0.25,0.25").split(",").map(Number);

const t0 = Date.now();
const data = generate({ shape, spacing });
const gz = (typed) => zlib.gzipSync(Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength), { level: 1 });
const volumes = {
  ct: { body: gz(data.ct), dtype: "int16" },
  pet: { body: gz(data.pet), dtype: "float32" },
  specimen: { body: gz(data.specimen), dtype: "uint8" },
  model_mask: { body: gz(data.model), dtype: "uint8" },
  uncertainty: { body: gz(data.uncertainty), dtype: "float32" },
  ground_truth: { body: gz(data.gt), dtype: "uint8" },
};
console.log(`synthetic case ${shape.join("x")} ready in ${Date.now() - t0} ms`);

const N = shape[0] * shape[1] * shape[2];
let store;
function reset() {
  store = { segmentations: [], draft: null, reads: [], log: [] };
}
reset();

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req) {
  return new Promise((resolve) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
  });
}

function sendVolume(res, body, dtype) {
  res.writeHead(200, {
    "Content-Type": "application/octet-stream",
    "Content-Encoding": "gzip",
    "Content-Length": body.length,
    "X-Volume-Shape": shape.join(","),
    "X-Volume-Dtype": dtype,
    "Cache-Control": "no-store",
  });
  res.end(body);
}

const MIME = { ".mjs": "text/javascript", ".js": "text/javascript", ".css": "text/css", ".md": "text/plain", ".html": "text/html" };

function page(code, q) {
  const config = {
    caseCode: code,
    apiBase: `/api/cases/${code}/`,
    user: { username: "dr.reader", role: "reader" },
    canSeeModel: q.get("model") !== "0",
    canSeeGroundTruth: q.get("gt") === "1",
    readContext: { readId: null, studyId: null, ...(q.get("call") === "0" ? { canCall: false } : {}) },
  };
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Case ${code}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>html,body{margin:0;background:#0c0f13}</style></head>
<body>
<div id="viewer-root"></div>
<script id="viewer-config" type="application/json">${JSON.stringify(config).replace(/</g, "\\u003c")}</script>
<script type="module" src="/static/viewer/main.mjs"></script>
</body></html>`;
}

function caseJson(code, q) {
  const latest = store.segmentations[store.segmentations.length - 1] || null;
  return {
    code,
    status: "ready",
    working_grid: { shape, spacing, origin: [-12.5, 4, 100], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] },
    pet_units: "Bq/ml",
    suv_factor: q.suv === "0" ? null : data.suvFactor,
    suv_unavailable_reason: q.suv === "0" ? "patient weight missing from the PET series" : null,
    volumes: Object.fromEntries(Object.keys(volumes).map((v) => [v, `/api/cases/${code}/volumes/${v}`])),
    model: { version: "ensemble-5fold-v1", run_status: "succeeded", progress: 1 },
    margin: data.margin,
    my_segmentation: latest ? { id: latest.id, version: latest.version, url: `/api/cases/${code}/segmentations/${latest.id}/volume` } : null,
  };
}

function checkPayload(body) {
  if (!body || !Array.isArray(body.shape) || body.shape.join() !== shape.join()) return "wrong shape";
  if (body.encoding !== "rle-u8-v1") return "unknown encoding";
  try {
    return decodeMask(body.data, N);
  } catch (err) {
    return err.message;
  }
}

let pageQuery = {};

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, `http://${req.headers.host}`);
  const p = url.pathname;
  const entry = { method: req.method, path: p, at: Date.now() };
  store.log.push(entry);
  try {
    if (p.startsWith("/static/viewer/")) {
      const file = path.resolve(STATIC_ROOT, "." + p.slice("/static/viewer".length));
      if (!file.startsWith(STATIC_ROOT) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) return json(res, 404, { detail: "not found" });
      res.writeHead(200, { "Content-Type": MIME[path.extname(file)] || "application/octet-stream", "Cache-Control": "no-store" });
      return res.end(fs.readFileSync(file));
    }
    if (p === "/__log") return json(res, 200, store.log.filter((e) => !e.path.startsWith("/__")));
    if (p === "/__store") return json(res, 200, { segmentations: store.segmentations.map(({ mask, ...s }) => s), draft: store.draft && { parent_id: store.draft.parent_id, updated: store.draft.updated }, reads: store.reads });
    if (p === "/__reset" && req.method === "POST") {
      reset();
      return json(res, 200, {});
    }
    let m = p.match(/^\/cases\/([\w-]+)\/$/);
    if (m) {
      pageQuery = Object.fromEntries(url.searchParams);
      if (url.searchParams.get("seg") === "1" && !store.segmentations.length) {
        store.segmentations.push({ id: 41, version: 1, parent_id: null, mask: data.model.slice(), created: new Date().toISOString() });
      }
      if (url.searchParams.get("draft") === "1" && !store.draft) {
        const parent = store.segmentations[store.segmentations.length - 1] || null;
        const mask = (parent ? parent.mask : new Uint8Array(N)).slice();
        mask.fill(1, N / 2, N / 2 + 5000);
        store.draft = { parent_id: parent ? parent.id : null, shape, encoding: "rle-u8-v1", data: encodeMask(mask), updated: new Date().toISOString() };
      }
      res.writeHead(200, { "Content-Type": "text/html; charset=utf-8", "Set-Cookie": `csrftoken=${CSRF}; Path=/; SameSite=Lax` });
      return res.end(page(m[1], url.searchParams));
    }
    m = p.match(/^\/api\/cases\/([\w-]+)\/(.*)$/);
    if (!m) return json(res, 404, { detail: "not found" });
    const [, code, rest] = m;
    if (req.method !== "GET" && req.headers["x-csrftoken"] !== CSRF) return json(res, 403, { detail: "CSRF token missing or incorrect." });
    if (rest === "" && req.method === "GET") return json(res, 200, caseJson(code, pageQuery));
    m = rest.match(/^volumes\/(\w+)$/);
    if (m && volumes[m[1]]) return sendVolume(res, volumes[m[1]].body, volumes[m[1]].dtype);
    m = rest.match(/^segmentations\/(\d+)\/volume$/);
    if (m) {
      const seg = store.segmentations.find((s) => s.id === Number(m[1]));
      return seg ? sendVolume(res, gz(seg.mask), "uint8") : json(res, 404, { detail: "no such segmentation" });
    }
    const raw = req.method === "GET" ? "" : await readBody(req);
    entry.bytes = raw.length;
    const body = raw ? JSON.parse(raw) : null;
    entry.body = body && !body.data ? body : body ? { ...body, data: `<${body.data.length} chars>` } : null;
    if (rest === "segmentations/" && req.method === "POST") {
      const mask = checkPayload(body);
      if (typeof mask === "string") return json(res, 400, { detail: mask });
      const id = 100 + store.segmentations.length;
      const version = store.segmentations.length + 1;
      const created = new Date().toISOString();
      store.segmentations.push({ id, version, parent_id: body.parent_id, mask, created, voxels: mask.reduce((a, v) => a + v, 0) });
      return json(res, 201, { id, version, created });
    }
    if (rest === "segmentations/draft/") {
      if (req.method === "GET") return store.draft ? json(res, 200, store.draft) : json(res, 404, { detail: "no draft" });
      if (req.method === "PUT") {
        const mask = checkPayload(body);
        if (typeof mask === "string") return json(res, 400, { detail: mask });
        store.draft = { ...body, updated: new Date().toISOString() };
        return json(res, 200, { updated: store.draft.updated });
      }
    }
    if (rest === "reads/" && req.method === "POST") {
      if (!["positive", "close", "negative"].includes(body.status) || !(body.confidence >= 1 && body.confidence <= 5)) return json(res, 400, { detail: "status and confidence are required" });
      if (store.reads.length) return json(res, 409, { detail: "You have already submitted a call for this case", read_id: store.reads[0].id });
      const read = { id: 7, ...body, amendments: [] };
      store.reads.push(read);
      return json(res, 201, { id: read.id, status: read.status });
    }
    m = rest.match(/^reads\/(\d+)\/amend\/$/);
    if (m && req.method === "POST") {
      const read = store.reads.find((r) => r.id === Number(m[1]));
      if (!read) return json(res, 404, { detail: "no such read" });
      read.amendments.push(body);
      return json(res, 201, { id: read.id, status: body.status, amended: true });
    }
    return json(res, 404, { detail: `no route ${req.method} ${rest}` });
  } catch (err) {
    console.error(err);
    return json(res, 500, { detail: String(err) });
  }
});

server.listen(port, "127.0.0.1", () => console.log(`harness on http://127.0.0.1:${port}/cases/DEMO/`));
