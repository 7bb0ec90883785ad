/**
 * Undo/redo for mask edits, stored as sparse diffs (changed voxel indices with their
 * values before and after), with a bound on both the number of steps and the total
 * number of voxels kept; the oldest steps are dropped first. Pure module: no DOM.
 */

/** Collects the voxels one edit changes; `finish()` returns a compact diff or null. */
export class DiffRecorder {
  constructor(meta = {}) {
    this.meta = meta;
    this.length = 0;
    this.indices = new Uint32Array(1024);
    this.before = new Uint8Array(1024);
    this.after = new Uint8Array(1024);
  }

  record(index, before, after) {
    if (this.length === this.indices.length) this.#grow();
    this.indices[this.length] = index;
    this.before[this.length] = before;
    this.after[this.length] = after;
    this.length++;
  }

  #grow() {
    const size = this.indices.length * 2;
    const grow = (a, T) => {
      const b = new T(size);
      b.set(a);
      return b;
    };
    this.indices = grow(this.indices, Uint32Array);
    this.before = grow(this.before, Uint8Array);
    this.after = grow(this.after, Uint8Array);
  }

  /** The diff ({indices, before, after, length, ...meta}) or null when nothing changed. */
  finish() {
    if (!this.length) return null;
    return {
      ...this.meta,
      length: this.length,
      indices: this.indices.slice(0, this.length),
      before: this.before.slice(0, this.length),
      after: this.after.slice(0, this.length),
    };
  }
}

/** Apply a diff forwards (redo) or backwards (undo) to `mask`. */
export function applyDiff(mask, diff, backwards) {
  const { indices, length } = diff;
  if (backwards) {
    const before = diff.before;
    for (let n = length - 1; n >= 0; n--) mask[indices[n]] = before[n];
  } else {
    const after = diff.after;
    for (let n = 0; n < length; n++) mask[indices[n]] = after[n];
  }
}

/** Undo/redo stacks of diffs, bounded by `maxSteps` and `maxVoxels` (sum of diff lengths on both stacks). */
export class History {
  constructor({ maxSteps = 200, maxVoxels = 8_000_000 } = {}) {
    this.maxSteps = maxSteps;
    this.maxVoxels = maxVoxels;
    this.undoStack = [];
    this.redoStack = [];
    this.voxels = 0;
    this.dropped = 0;
  }

  get canUndo() {
    return this.undoStack.length > 0;
  }

  get canRedo() {
    return this.redoStack.length > 0;
  }

  /**
   * Record an edit that has already been applied. Clears the redo stack. Returns false
   * (and empties the history) when the diff alone is larger than the voxel budget.
   */
  push(diff) {
    if (!diff) return true;
    this.#dropRedo();
    if (diff.length > this.maxVoxels) {
      this.clear();
      this.dropped++;
      return false;
    }
    this.undoStack.push(diff);
    this.voxels += diff.length;
    while (this.undoStack.length > this.maxSteps || this.voxels > this.maxVoxels) {
      this.voxels -= this.undoStack.shift().length;
      this.dropped++;
    }
    return true;
  }

  /** Revert the latest edit on `mask`; returns its diff or null. */
  undo(mask) {
    const diff = this.undoStack.pop();
    if (!diff) return null;
    applyDiff(mask, diff, true);
    this.redoStack.push(diff);
    return diff;
  }

  /** Re-apply the latest undone edit on `mask`; returns its diff or null. */
  redo(mask) {
    const diff = this.redoStack.pop();
    if (!diff) return null;
    applyDiff(mask, diff, false);
    this.undoStack.push(diff);
    return diff;
  }

  clear() {
    this.undoStack = [];
    this.redoStack = [];
    this.voxels = 0;
  }

  #dropRedo() {
    for (const d of this.redoStack) this.voxels -= d.length;
    this.redoStack = [];
  }
}
