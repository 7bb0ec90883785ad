/**
 * Start-up of the case viewer: the test hook `window.petctViewer` (README.md), the page's
 * configuration (json_script "viewer-config") and the stylesheet.
 */

import { VIEWS } from "./geometry.mjs";
import { crc32, countNonzero } from "./maskcodec.mjs";
import { h } from "./dom.mjs";

/**
 * The test hook and the timings it reports; `resolveReady` / `rejectReady` settle `hook.ready`.
 * `main.mjs` fills in `viewer`, `session`, `layout`, `saveMask`, `showTab`, `timer` and `reloadModel`.
 */
export function createHook(moduleStart) {
  const timings = { moduleStartMs: moduleStart, caseLoadedMs: null, firstImageMs: null, volumesLoadedMs: null, readyMs: null };
  let resolveReady;
  let rejectReady;
  const ready = new Promise((res, rej) => {
    resolveReady = res;
    rejectReady = rej;
  });
  ready.catch(() => {});

  const hook = {
    /** Resolves to a copy of `timings` once everything is loaded and drawn. */
    ready,
    timings,
    viewer: null,
    session: null,
    /** Mean ms per full render (image + compose) of a view. */
    benchmarkRender: (n = 50, view = "axial") => hook.viewer.benchmarkRender(n, view),
    /** zlib.crc32 of the mask bytes (0/1, C order), unsigned. */
    getMaskChecksum: () => (hook.viewer ? crc32(hook.viewer.mask) : null),
    getMaskVoxelCount: () => (hook.viewer ? countNonzero(hook.viewer.mask) : null),
    /** Page (client) coordinates of the centre of voxel [k, j, i] as drawn in `view`. */
    voxelToClient(view, kji) {
      const v = hook.viewer;
      const p = v.specs[view].fromKji(...kji);
      const t = v.transform(view);
      const rect = v.canvases[view].getBoundingClientRect();
      return { x: rect.left + t.x0 + (p.col + 0.5) * t.sx, y: rect.top + t.y0 + (p.row + 0.5) * t.sy };
    },
    get state() {
      const v = hook.viewer;
      if (!v) return null;
      return {
        slices: { ...v.slices },
        cursor: [...v.cursor],
        window: v.wl.window,
        level: v.wl.level,
        preset: v.wl.preset,
        tool: v.tool,
        mode: v.mode,
        activeView: v.activeView,
        zoom: Object.fromEntries(VIEWS.map((n) => [n, v.viewState[n].zoom])),
        pan: Object.fromEntries(VIEWS.map((n) => [n, [v.viewState[n].panX, v.viewState[n].panY]])),
        brushRadiusMm: v.brushRadiusMm,
        petThreshold: v.petThreshold,
        pet: { ...v.pet },
        overlays: Object.fromEntries(Object.entries(v.overlays).map(([k, o]) => [k, { visible: o.visible, available: o.available, style: o.style, color: o.color }])),
        rulers: v.rulers.map((r) => ({ view: r.view, slice: r.slice, mm: r.mm })),
        dirty: hook.session ? hook.session.dirty : false,
        segmentation: hook.session?.current ? { ...hook.session.current } : null,
        canUndo: v.history.canUndo,
        canRedo: v.history.canRedo,
        editTarget: v.editTarget,
        specimenRevision: v.specimenRevision,
        rois: v.rois.map((r) => ({ view: r.view, slice: r.slice, ...r.stats })),
        layout: hook.layout ? hook.layout.state : null,
        cinePlaying: hook.layout ? hook.layout.playing : false,
      };
    },
  };
  return { hook, timings, resolveReady, rejectReady };
}

export function ensureStylesheet() {
  const href = new URL("./viewer.css", import.meta.url).href;
  if ([...document.querySelectorAll('link[rel="stylesheet"]')].some((l) => l.href === href)) return;
  document.head.append(h("link", { rel: "stylesheet", href }));
}

export function readConfig() {
  const node = document.getElementById("viewer-config");
  if (!node) throw new Error('missing <script id="viewer-config"> (json_script)');
  return JSON.parse(node.textContent);
}
