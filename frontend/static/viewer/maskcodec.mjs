/**
 * The "rle-u8-v1" mask encoding of the segmentation API, base64 without call-stack
 * limits, and a zlib-compatible CRC-32 used as the test hook's mask checksum.
 *
 * rle-u8-v1: the flattened C-order binary mask (nonzero counts as 1) as alternating run
 * lengths of 0s and 1s, starting with a (possibly empty) run of 0s; each run length is a
 * little-endian uint32; the byte string is base64-encoded for JSON. Pure module: no DOM.
 */

export const ENCODING = "rle-u8-v1";

/** Run lengths (Uint32Array) of a mask, starting with a run of zeros. */
export function runLengths(mask) {
  let runs = new Uint32Array(1024);
  let count = 0;
  const n = mask.length;
  let pos = 0;
  let want = 0; // value of the current run
  while (pos < n) {
    const start = pos;
    if (want === 0) while (pos < n && mask[pos] === 0) pos++;
    else while (pos < n && mask[pos] !== 0) pos++;
    if (count === runs.length) {
      const bigger = new Uint32Array(runs.length * 2);
      bigger.set(runs);
      runs = bigger;
    }
    runs[count++] = pos - start;
    want ^= 1;
  }
  if (count === 0) return new Uint32Array([0]);
  return runs.slice(0, count);
}

/** rle-u8-v1 bytes (before base64) of a mask. */
export function encodeRle(mask) {
  const runs = runLengths(mask);
  const bytes = new Uint8Array(runs.length * 4);
  const view = new DataView(bytes.buffer);
  for (let n = 0; n < runs.length; n++) view.setUint32(4 * n, runs[n], true);
  return bytes;
}

/**
 * Decode rle-u8-v1 bytes into a new Uint8Array of 0/1 of `expectedLength` voxels.
 * Throws when the byte count is not a multiple of 4 or the runs do not add up.
 */
export function decodeRle(bytes, expectedLength) {
  if (bytes.length % 4 !== 0) throw new Error("corrupt mask: byte length is not a multiple of 4");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Uint8Array(expectedLength);
  let pos = 0;
  for (let n = 0; n < bytes.length / 4; n++) {
    const run = view.getUint32(4 * n, true);
    if (pos + run > expectedLength) throw new Error("corrupt mask: runs exceed the volume size");
    if (n & 1) out.fill(1, pos, pos + run);
    pos += run;
  }
  if (pos !== expectedLength) throw new Error(`corrupt mask: runs cover ${pos} of ${expectedLength} voxels`);
  return out;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DECODE = new Int16Array(128).fill(-1);
for (let n = 0; n < 64; n++) DECODE[ALPHABET.charCodeAt(n)] = n;

/** Standard base64 (with padding) of a Uint8Array of any size. */
export function base64Encode(bytes) {
  const parts = [];
  const CHUNK = 3 * 16384;
  for (let start = 0; start < bytes.length; start += CHUNK) {
    const end = Math.min(bytes.length, start + CHUNK);
    let s = "";
    let n = start;
    for (; n + 2 < end; n += 3) {
      const v = (bytes[n] << 16) | (bytes[n + 1] << 8) | bytes[n + 2];
      s += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + ALPHABET[(v >> 6) & 63] + ALPHABET[v & 63];
    }
    if (end - n === 1) {
      const v = bytes[n] << 16;
      s += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + "==";
    } else if (end - n === 2) {
      const v = (bytes[n] << 16) | (bytes[n + 1] << 8);
      s += ALPHABET[v >> 18] + ALPHABET[(v >> 12) & 63] + ALPHABET[(v >> 6) & 63] + "=";
    }
    parts.push(s);
  }
  return parts.join("");
}

/** Bytes of a base64 string (whitespace ignored; throws on other invalid characters). */
export function base64Decode(text) {
  const s = String(text).replace(/[\s]/g, "");
  let end = s.length;
  while (end > 0 && s[end - 1] === "=") end--;
  if (s.length % 4 === 1 || s.length - end > 2) throw new Error("invalid base64 length");
  const out = new Uint8Array(Math.floor((end * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let n = 0; n < end; n++) {
    const code = s.charCodeAt(n);
    const v = code < 128 ? DECODE[code] : -1;
    if (v < 0) throw new Error(`invalid base64 character at ${n}`);
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 255;
    }
  }
  return out.subarray(0, o);
}

/** base64 rle-u8-v1 text of a mask. */
export function encodeMask(mask) {
  return base64Encode(encodeRle(mask));
}

/** Mask (Uint8Array of 0/1) of `expectedLength` voxels from base64 rle-u8-v1 text. */
export function decodeMask(text, expectedLength) {
  return decodeRle(base64Decode(text), expectedLength);
}

/** JSON body for POST/PUT of the segmentation endpoints. */
export function maskPayload(mask, shape, parentId = null) {
  return { parent_id: parentId ?? null, shape: [...shape], encoding: ENCODING, data: encodeMask(mask) };
}

let CRC_TABLE = null;

/** CRC-32 (IEEE, as zlib.crc32 / binascii.crc32) of bytes, as an unsigned integer. */
export function crc32(bytes, seed = 0) {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let crc = (seed ^ 0xffffffff) >>> 0;
  for (let n = 0; n < bytes.length; n++) crc = CRC_TABLE[(crc ^ bytes[n]) & 255] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/** Number of nonzero voxels. */
export function countNonzero(mask) {
  let n = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i]) n++;
  return n;
}
