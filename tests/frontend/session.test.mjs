import { test } from "node:test";
import assert from "node:assert/strict";
import { MaskSession } from "../../frontend/static/viewer/session.mjs";
import { encodeMask, decodeMask } from "../../frontend/static/viewer/maskcodec.mjs";

function fakeViewer() {
  return {
    shape: [2, 3, 4],
    voxels: 24,
    mask: new Uint8Array(24),
    revision: 0,
    loadMask(d) {
      this.mask.set(d);
      this.revision++;
    },
    edit(i, v = 1) {
      this.mask[i] = v;
      this.revision++;
    },
  };
}

function fakeApi({ draft = null } = {}) {
  const api = {
    posts: [],
    puts: [],
    nextId: 10,
    draft,
    async saveSegmentation(p) {
      api.posts.push(p);
      return { id: api.nextId++, version: api.posts.length, created: "t" };
    },
    async putDraft(p, opts) {
      api.puts.push({ p, opts });
      return {};
    },
    async getDraft() {
      return api.draft;
    },
  };
  return api;
}

test("save posts the mask with the current version as parent and clears dirty", async () => {
  const viewer = fakeViewer();
  const api = fakeApi();
  const s = new MaskSession({ api, viewer, segmentation: { id: 4, version: 3 } });
  s.markLoaded();
  assert.equal(s.dirty, false);
  viewer.edit(5);
  assert.equal(s.dirty, true);
  const res = await s.save();
  assert.equal(res.version, 1);
  assert.equal(api.posts[0].parent_id, 4);
  assert.deepEqual(api.posts[0].shape, [2, 3, 4]);
  assert.equal(api.posts[0].encoding, "rle-u8-v1");
  assert.equal(decodeMask(api.posts[0].data, 24)[5], 1);
  assert.equal(s.dirty, false);
  assert.deepEqual(s.current, { id: 10, version: 1 });
  viewer.edit(6);
  await s.save();
  assert.equal(api.posts[1].parent_id, 10);
});

test("edits made while a save is in flight stay dirty", async () => {
  const viewer = fakeViewer();
  const api = fakeApi();
  const s = new MaskSession({ api, viewer });
  s.markLoaded();
  viewer.edit(1);
  const p = s.save();
  viewer.edit(2);
  await p;
  assert.equal(s.dirty, true);
});

test("drafts are stored only when there are new unsaved edits; keepalive only for small bodies", async () => {
  const viewer = fakeViewer();
  const api = fakeApi();
  const s = new MaskSession({ api, viewer });
  s.markLoaded();
  assert.equal(await s.saveDraft(), false);
  viewer.edit(3);
  assert.equal(await s.saveDraft({ keepalive: true }), true);
  assert.equal(api.puts[0].opts.keepalive, true);
  assert.equal(api.puts[0].p.parent_id, null);
  assert.equal(await s.saveDraft(), false, "nothing new since the last draft");
  assert.equal(s.dirty, true, "a draft is not a saved version");
});

test("a draft on the current version that differs is restored; older or equal drafts are ignored", async () => {
  const draftMask = new Uint8Array(24);
  draftMask[7] = 1;
  const body = (parent) => ({ parent_id: parent, shape: [2, 3, 4], encoding: "rle-u8-v1", data: encodeMask(draftMask), updated: "2025-01-01T10:00:00Z" });

  let viewer = fakeViewer();
  let s = new MaskSession({ api: fakeApi({ draft: body(4) }), viewer, segmentation: { id: 4, version: 2 } });
  s.markLoaded();
  const r = await s.restoreDraft();
  assert.equal(r.restored, true);
  assert.equal(r.updated, "2025-01-01T10:00:00Z");
  assert.equal(viewer.mask[7], 1);
  assert.equal(s.dirty, true);
  assert.equal(s.needsDraft, false);
  await s.discardDraft();
  assert.equal(viewer.mask[7], 0);
  assert.equal(s.dirty, false);

  viewer = fakeViewer();
  s = new MaskSession({ api: fakeApi({ draft: body(3) }), viewer, segmentation: { id: 4, version: 2 } });
  s.markLoaded();
  assert.equal((await s.restoreDraft()).restored, false);
  assert.equal(viewer.mask[7], 0);

  viewer = fakeViewer();
  viewer.mask[7] = 1;
  s = new MaskSession({ api: fakeApi({ draft: body(null) }), viewer });
  s.markLoaded();
  assert.equal((await s.restoreDraft()).reason, "draft equals the saved version");

  viewer = fakeViewer();
  s = new MaskSession({ api: fakeApi({ draft: { ...body(null), shape: [1, 1, 24] } }), viewer });
  assert.equal((await s.restoreDraft()).restored, false);
  s = new MaskSession({ api: fakeApi({ draft: null }), viewer });
  assert.equal((await s.restoreDraft()).reason, "no draft");
});
