import { test } from "node:test";
import assert from "node:assert/strict";
import { retryDelayMs, sliceFiles } from "../../frontend/static/frontend/upload_chunks.mjs";

const files = [new Blob(["abc"]), new Blob([""]), new Blob(["defgh"]), new Blob(["ij"])];

test("a chunk is the concatenation's bytes across file boundaries", async () => {
  assert.equal(await sliceFiles(files, 0, 10).text(), "abcdefghij");
  assert.equal(await sliceFiles(files, 2, 6).text(), "cdef");
  assert.equal(await sliceFiles(files, 3, 8).text(), "defgh");
  assert.equal(await sliceFiles(files, 8, 10).text(), "ij");
  assert.equal((await sliceFiles(files, 10, 12).text()), "");
});

test("chunks laid end to end give back every byte once", async () => {
  let joined = "";
  for (let offset = 0; offset < 10; offset += 3) joined += await sliceFiles(files, offset, Math.min(10, offset + 3)).text();
  assert.equal(joined, "abcdefghij");
});

test("retries back off and are capped", () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(retryDelayMs), [500, 1000, 2000, 4000, 8000, 8000, 8000]);
});
