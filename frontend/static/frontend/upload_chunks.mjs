// The chunked upload's byte arithmetic, free of the page (unit-tested in node).

// The bytes [start, end) of the files laid end to end, as a Blob (slices are read lazily by the browser).
export function sliceFiles(files, start, end) {
  const parts = [];
  let position = 0;
  for (const file of files) {
    const from = Math.max(start, position);
    const to = Math.min(end, position + file.size);
    if (from < to) parts.push(file.slice(from - position, to - position));
    position += file.size;
    if (position >= end) break;
  }
  return new Blob(parts);
}

// Wait before retry number ``failures`` (1, 2, ...): 0.5 s doubling, at most 8 s.
export function retryDelayMs(failures) {
  return Math.min(8000, 500 * 2 ** Math.max(0, failures - 1));
}
