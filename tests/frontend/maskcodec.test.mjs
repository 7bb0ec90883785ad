import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { crc32 as zlibCrc32 } from "node:zlib";
import {
  ENCODING, runLengths, encodeRle, decodeRle, base64Encode, base64Decode, encodeMask, decodeMask, maskPayload,
  crc32, countNonzero,
} from "../../frontend/static/viewer/maskcodec.mjs";

test("runs alternate starting with zeros (possibly empty)", () => {
  assert.deepEqual([...runLengths(Uint8Array.from([0, 0, 1, 1, 1, 0]))], [2, 3, 1]);
  assert.deepEqual([...runLengths(Uint8Array.from([1, 1, 0]))], [0, 2, 1]);
  assert.deepEqual([...runLengths(Uint8Array.from([0, 0, 0]))], [3]);
  assert.deepEqual([...runLengths(Uint8Array.from([5, 0, 9]))], [0, 1, 1, 1], "nonzero counts as 1");
  assert.deepEqual([...runLengths(new Uint8Array(0))], [0]);
});

test("run lengths are little-endian uint32 bytes", () => {
  const bytes = encodeRle(Uint8Array.from([1, 1, 0]));
  assert.deepEqual([...bytes], [0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0]);
  const big = new Uint8Array(70000);
  big[69999] = 1;
  assert.deepEqual([...encodeRle(big)], [0x6f, 0x11, 0x01, 0x00, 1, 0, 0, 0]);
});

test("decode validates length and corruption", () => {
  assert.deepEqual([...decodeRle(encodeRle(Uint8Array.from([0, 1, 1, 0, 1])), 5)], [0, 1, 1, 0, 1]);
  assert.throws(() => decodeRle(Uint8Array.from([1, 0, 0]), 1), /multiple of 4/);
  assert.throws(() => decodeRle(encodeRle(new Uint8Array(5)), 6), /cover 5 of 6/);
  assert.throws(() => decodeRle(encodeRle(new Uint8Array(5)), 4), /exceed/);
});

test("base64 matches Node's Buffer for all remainders and decodes back", () => {
  for (const n of [0, 1, 2, 3, 4, 5, 255, 256, 257, 49151, 49152, 49153, 100001]) {
    const bytes = new Uint8Array(n);
    for (let i = 0; i < n; i++) bytes[i] = (i * 131 + 7) & 255;
    const b64 = base64Encode(bytes);
    assert.equal(b64, Buffer.from(bytes).toString("base64"), `n=${n}`);
    assert.deepEqual(Buffer.from(base64Decode(b64)), Buffer.from(bytes));
  }
  assert.deepEqual([...base64Decode("AQI=\n")], [1, 2]);
  assert.throws(() => base64Decode("A$=="));
});

test("large random-ish masks round-trip without stack overflow", () => {
  const shape = [64, 256, 256];
  const n = shape[0] * shape[1] * shape[2];
  const mask = new Uint8Array(n);
  let seed = 12345;
  for (let i = 0; i < n; i++) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    if (seed % 3 === 0) mask[i] = 1; // many short runs: about 2.8 M runs, 11 MB before base64
  }
  const payload = maskPayload(mask, shape, 4);
  assert.equal(payload.encoding, ENCODING);
  assert.equal(payload.parent_id, 4);
  assert.deepEqual(payload.shape, shape);
  assert.deepEqual(Buffer.from(base64Decode(payload.data)), Buffer.from(encodeRle(mask)));
  const back = decodeMask(payload.data, n);
  assert.equal(crc32(back), crc32(mask));
  assert.equal(countNonzero(back), countNonzero(mask));
  assert.equal(maskPayload(mask, shape).parent_id, null);
});

test("a blob mask encodes compactly", () => {
  const mask = new Uint8Array(100 * 100 * 100);
  for (let k = 40; k < 60; k++) for (let j = 40; j < 60; j++) mask.fill(1, (k * 100 + j) * 100 + 40, (k * 100 + j) * 100 + 60);
  assert.equal(encodeRle(mask).length, 4 * 801);
  assert.deepEqual(decodeMask(encodeMask(mask), mask.length), mask);
});

test("crc32 equals zlib.crc32 (as Python's zlib.crc32)", () => {
  const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i * 7) & 1);
  assert.equal(crc32(bytes), zlibCrc32(bytes));
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array(0)), 0);
});
