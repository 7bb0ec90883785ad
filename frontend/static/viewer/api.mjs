/**
 * HTTP client for the case API (see README.md for the contract): case metadata, raw
 * voxel volumes, segmentation versions and drafts, and margin calls. Sends Django's
 * CSRF token from the `csrftoken` cookie on every unsafe request.
 */

import { decodeMask } from "./maskcodec.mjs";

const DTYPES = { float16: Uint16Array, int16: Int16Array, float32: Float32Array, uint8: Uint8Array, int8: Int8Array, uint16: Uint16Array, int32: Int32Array, float64: Float64Array };

/** Error from the API with the HTTP status and the server's `detail` text when given. */
export class ApiError extends Error {
  constructor(status, detail, body = null) {
    super(detail || `HTTP ${status}`);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
    this.body = body;
  }
}

/** Value of a cookie, or "" when absent. */
export function getCookie(name, cookieString = globalThis.document ? document.cookie : "") {
  for (const part of cookieString.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return "";
}

async function errorFrom(response) {
  let body = null;
  let detail = "";
  try {
    body = await response.json();
    detail = typeof body?.detail === "string" ? body.detail : body ? JSON.stringify(body) : "";
  } catch {
    detail = response.statusText;
  }
  return new ApiError(response.status, detail || `HTTP ${response.status}`, body);
}

async function gunzip(buffer) {
  const stream = new Blob([buffer]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).arrayBuffer();
}

/**
 * API client bound to one case. `apiBase` ends with a slash ("/api/cases/<code>/").
 */
export function createApi(apiBase, { fetchImpl = (...args) => fetch(...args) } = {}) {
  const base = apiBase.endsWith("/") ? apiBase : `${apiBase}/`;

  const headers = (json) => {
    const h = { Accept: "application/json" };
    if (json) h["Content-Type"] = "application/json";
    const token = getCookie("csrftoken");
    if (token) h["X-CSRFToken"] = token;
    return h;
  };

  async function send(method, url, body, { keepalive = false, allow404 = false } = {}) {
    const response = await fetchImpl(url, {
      method,
      credentials: "same-origin",
      headers: headers(body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      keepalive,
    });
    if (allow404 && response.status === 404) return null;
    if (!response.ok) throw await errorFrom(response);
    if (response.status === 204) return {};
    const type = response.headers.get("Content-Type") || "";
    return type.includes("json") ? response.json() : {};
  }

  /**
   * Fetch a raw volume. Returns {data: TypedArray, shape: [z, y, x], dtype}.
   * `expect` gives the dtype and shape to assume when the headers are missing; the byte
   * count is checked against the shape. Also accepts a gzip body the browser did not
   * decode, and a JSON rle-u8-v1 segmentation body ({shape, encoding, data}).
   * `priority` ("high" | "low" | "auto") is passed to fetch as a hint.
   */
  async function loadVolume(url, { expect = {}, signal, priority = "auto" } = {}) {
    const response = await fetchImpl(url, { credentials: "same-origin", signal, priority });
    if (!response.ok) throw await errorFrom(response);
    const type = response.headers.get("Content-Type") || "";
    if (type.includes("json")) {
      const body = await response.json();
      const shape = body.shape || expect.shape;
      const data = decodeMask(body.data, shape[0] * shape[1] * shape[2]);
      return { data, shape, dtype: "uint8" };
    }
    const shapeHeader = response.headers.get("X-Volume-Shape");
    const shape = shapeHeader ? shapeHeader.split(",").map((s) => parseInt(s, 10)) : expect.shape;
    const dtype = (response.headers.get("X-Volume-Dtype") || expect.dtype || "uint8").toLowerCase();
    const Type = DTYPES[dtype];
    if (!Type) throw new Error(`unsupported volume dtype ${dtype}`);
    if (!shape || shape.length !== 3) throw new Error(`volume ${url} has no shape`);
    const count = shape[0] * shape[1] * shape[2];
    let buffer = await response.arrayBuffer();
    if (buffer.byteLength !== count * Type.BYTES_PER_ELEMENT) {
      const head = new Uint8Array(buffer, 0, Math.min(2, buffer.byteLength));
      if (head[0] === 0x1f && head[1] === 0x8b) buffer = await gunzip(buffer);
    }
    if (buffer.byteLength !== count * Type.BYTES_PER_ELEMENT) {
      throw new Error(`volume ${url}: ${buffer.byteLength} bytes, expected ${count * Type.BYTES_PER_ELEMENT} for ${shape.join("x")} ${dtype}`);
    }
    if (dtype === "float16") return { data: float16ToFloat32(new Uint16Array(buffer)), shape, dtype: "float32" };
    return { data: new Type(buffer), shape, dtype };
  }

  return {
    base,
    getCase: () => send("GET", base),
    loadVolume,
    saveSegmentation: (payload) => send("POST", `${base}segmentations/`, payload),
    putDraft: (payload, { keepalive = false } = {}) => send("PUT", `${base}segmentations/draft/`, payload, { keepalive }),
    getDraft: () => send("GET", `${base}segmentations/draft/`, undefined, { allow404: true }),
    submitRead: (body) => send("POST", `${base}reads/`, body),
    // A corrected specimen surface ({parent_id, shape, encoding, data}); answers {surface, margin}.
    saveSpecimenSurface: (payload) => send("POST", `${base}specimen-surfaces/`, payload),
    getOrientation: () => send("GET", `${base}orientation/`),
    saveOrientation: (payload) => send("POST", `${base}orientation/`, payload),
    amendRead: (readId, body) => send("POST", `${base}reads/${encodeURIComponent(readId)}/amend/`, body),
  };
}


let halfTable = null;

/** IEEE 754 half-precision bit patterns to Float32Array (the server stores the uncertainty as float16). */
export function float16ToFloat32(bits) {
  if (!halfTable) {
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exponent = (h >> 10) & 0x1f;
      const fraction = h & 0x3ff;
      if (exponent === 0) halfTable[h] = sign * 2 ** -14 * (fraction / 1024);
      else if (exponent === 31) halfTable[h] = fraction ? NaN : sign * Infinity;
      else halfTable[h] = sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
    }
  }
  const out = new Float32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = halfTable[bits[i]];
  return out;
}
