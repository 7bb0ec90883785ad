/**
 * Persistence of the reader's mask: saving versions (POST, parent = current version),
 * the server-side draft (PUT every ~10 s while there are changes not yet in a draft, and
 * on tab hide / page hide with fetch keepalive), and restoring the draft on open.
 *
 * A draft is restored when its parent_id is the reader's current saved version (or both
 * are null) and its content differs from that version: it then holds newer, unsaved
 * work. A draft whose parent is an older version is ignored.
 */

import { decodeMask, maskPayload, crc32 } from "./maskcodec.mjs";

const KEEPALIVE_LIMIT = 60 * 1024; // browsers cap keepalive bodies at 64 KiB in total

export class MaskSession extends EventTarget {
  constructor({ api, viewer, segmentation = null, autosaveMs = 10000 }) {
    super();
    this.api = api;
    this.viewer = viewer;
    this.current = segmentation ? { id: segmentation.id, version: segmentation.version } : null;
    this.autosaveMs = autosaveMs;
    this.savedRevision = viewer.revision;
    this.draftRevision = viewer.revision;
    this.savedMask = null;
    this.saving = null;
    this.drafting = null;
    this.lastSavedAt = null;
    this.lastDraftAt = null;
    this.error = null;
    this.draftError = null;
    this.timer = null;
  }

  /** Unsaved edits relative to the current saved version (or to the empty start). */
  get dirty() {
    return this.viewer.revision !== this.savedRevision;
  }

  get needsDraft() {
    return this.dirty && this.viewer.revision !== this.draftRevision;
  }

  /** Call after the saved version (or the empty mask) has been loaded into the viewer. */
  markLoaded() {
    this.savedRevision = this.viewer.revision;
    this.draftRevision = this.viewer.revision;
    this.savedMask = this.viewer.mask.slice();
    this.#emit();
  }

  /** Restore a newer server draft. Returns {restored, updated} or {restored: false, reason}. */
  async restoreDraft() {
    let draft;
    try {
      draft = await this.api.getDraft();
    } catch (err) {
      return { restored: false, reason: `could not read the draft (${err.message})` };
    }
    if (!draft || !draft.data) return { restored: false, reason: "no draft" };
    if ((draft.parent_id ?? null) !== (this.current?.id ?? null)) return { restored: false, reason: "draft is older than the saved version" };
    const shape = this.viewer.shape;
    if (!draft.shape || draft.shape.some((n, a) => n !== shape[a])) return { restored: false, reason: "draft has another shape" };
    let mask;
    try {
      mask = decodeMask(draft.data, this.viewer.voxels);
    } catch (err) {
      return { restored: false, reason: err.message };
    }
    if (crc32(mask) === crc32(this.viewer.mask)) return { restored: false, reason: "draft equals the saved version" };
    this.viewer.loadMask(mask);
    this.draftRevision = this.viewer.revision;
    this.#emit();
    return { restored: true, updated: draft.updated || draft.modified || draft.created || null };
  }

  /** Go back to the saved version and overwrite the draft with it. */
  async discardDraft() {
    if (!this.savedMask) return;
    this.viewer.loadMask(this.savedMask);
    this.savedRevision = this.viewer.revision;
    await this.saveDraft({ force: true });
  }

  /** POST a new version. Resolves to the API response; rejects with ApiError. */
  save() {
    if (this.saving) return this.saving;
    const revision = this.viewer.revision;
    const snapshot = this.viewer.mask.slice();
    const payload = maskPayload(snapshot, this.viewer.shape, this.current?.id ?? null);
    this.saving = this.api
      .saveSegmentation(payload)
      .then((res) => {
        this.current = { id: res.id, version: res.version };
        this.savedRevision = revision;
        this.savedMask = snapshot;
        this.lastSavedAt = new Date();
        this.error = null;
        return res;
      })
      .catch((err) => {
        this.error = err;
        throw err;
      })
      .finally(() => {
        this.saving = null;
        this.#emit();
      });
    this.#emit();
    return this.saving;
  }

  /** PUT the draft if needed (or `force`). Never throws; returns true when a draft was stored. */
  async saveDraft({ keepalive = false, force = false } = {}) {
    if (!force && !this.needsDraft) return false;
    if (this.drafting && !keepalive) return this.drafting;
    const revision = this.viewer.revision;
    const payload = maskPayload(this.viewer.mask, this.viewer.shape, this.current?.id ?? null);
    const small = JSON.stringify(payload).length < KEEPALIVE_LIMIT;
    const run = async () => {
      try {
        await this.api.putDraft(payload, { keepalive: keepalive && small });
        this.draftRevision = revision;
        this.lastDraftAt = new Date();
        this.draftError = null;
        return true;
      } catch (err) {
        this.error = err;
        this.draftError = err;
        return false;
      } finally {
        this.drafting = null;
        this.#emit();
      }
    };
    this.drafting = run();
    return this.drafting;
  }

  /** Start the autosave timer and the page-hide hooks. */
  start(target = globalThis) {
    this.timer = setInterval(() => this.saveDraft(), this.autosaveMs);
    const flush = () => {
      if (this.needsDraft) this.saveDraft({ keepalive: true });
    };
    target.document?.addEventListener("visibilitychange", () => {
      if (target.document.visibilityState === "hidden") flush();
    });
    target.addEventListener?.("pagehide", flush);
  }

  stop() {
    clearInterval(this.timer);
  }

  #emit() {
    this.dispatchEvent(new CustomEvent("state"));
  }
}
