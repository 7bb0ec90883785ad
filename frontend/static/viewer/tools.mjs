/**
 * Mouse and keyboard interaction: turns pointer, wheel and key events on the view
 * canvases into Viewer calls and lists the bindings shown in the help panel.
 *
 * Default bindings follow OHIF v3 and 3D Slicer: left drag = window/level, right drag = zoom,
 * middle drag = pan, wheel = slice. The crosshair has its own tool (N) and Shift+click.
 * Editing tools (brush, eraser, PET brush, polygon) and the ruler / ellipse ROI take the
 * left button only while selected; right and middle keep zoom and pan.
 */

import { dragWindowLevel, PRESETS } from "./windowing.mjs";

/** Keyboard shortcuts: [keys, description], shown in the help panel. */
export const SHORTCUTS = Object.freeze([
  ["Left drag", "Window / level (default W/L tool)"],
  ["Right drag", "Zoom (drag up = in)"],
  ["Middle drag, Space + drag", "Pan"],
  ["Wheel, ↑ / ↓", "Next / previous slice"],
  ["Shift + click / drag", "Set the crosshair in all views (any tool)"],
  ["Double-click", "Maximise this view / restore the layout"],
  ["PgUp / PgDn", "10 slices"],
  ["Ctrl + wheel, + / −", "Zoom about the pointer"],
  ["0 / R", "Reset this view / all views"],
  ["W N Z B E T P M L", "W/L, Crosshair, Zoom, Brush, Eraser, PET brush, Polygon, Ruler, Ellipse ROI"],
  ["Space (not in a field)", "Cine: play / pause the active view"],
  ["[ / ]", "Brush radius − / +"],
  ["Double-click / Enter", "Close the polygon (Alt: erase)"],
  ["Esc", "Cancel polygon / ruler"],
  ["Ctrl + Z", "Undo"],
  ["Ctrl + Y, Ctrl + Shift + Z", "Redo"],
  ["Ctrl + S", "Save mask"],
  [PRESETS.map((p) => p.key).join(" "), `CT presets (${PRESETS.map((p) => p.label).join(", ")})`],
  ["F", "Fused / CT / PET"],
  ["O", "Show / hide my mask"],
  ["C", "Show / hide crosshair"],
  ["J", "Jump to the closest margin"],
  ["?", "Show / hide this help"],
]);

const TOOL_KEYS = { n: "navigate", w: "wl", z: "zoom", b: "brush", e: "eraser", t: "petbrush", p: "polygon", m: "ruler", l: "roi" };
const BRUSH_TOOLS = new Set(["brush", "eraser", "petbrush"]);

function localPoint(canvas, e) {
  const rect = canvas.getBoundingClientRect();
  return { x: e.clientX - rect.left, y: e.clientY - rect.top };
}

/** What a press does: "pan", "zoom", "crosshair", "wl", or the selected left-button tool. */
export function dragKind({ button, shiftKey = false, space = false, tool }) {
  if (button === 1 || space) return "pan";
  if (button === 2) return "zoom";
  if (button !== 0) return null;
  if (shiftKey) return "crosshair";
  if (tool === "navigate") return "crosshair";
  if (BRUSH_TOOLS.has(tool)) return "stroke";
  return tool; // wl, zoom, pan, polygon, ruler, roi
}

/** Wire pointer and wheel events of one view canvas to the viewer; `onDoubleClick(view)` maximises. */
export function attachPointer(viewer, view, canvas, keys, { onDoubleClick } = {}) {
  let drag = null;
  let wheelAccumulator = 0;

  canvas.addEventListener("contextmenu", (e) => e.preventDefault());

  canvas.addEventListener("pointerdown", (e) => {
    canvas.focus({ preventScroll: true });
    viewer.setActiveView(view);
    const p = localPoint(canvas, e);
    const img = viewer.screenToImage(view, p.x, p.y);
    const tool = viewer.tool;
    const kind = dragKind({ button: e.button, shiftKey: e.shiftKey, space: keys.space, tool });
    if (kind === "pan" || kind === "zoom") {
      drag = { type: kind, x: p.x, y: p.y, x0: p.x, y0: p.y };
      if (keys.space) keys.panned = true;
      e.preventDefault();
    } else if (kind === "wl") {
      drag = { type: "wl", x: p.x, y: p.y, start: { ...viewer.wl } };
    } else if (kind === "stroke") {
      if (viewer.editable === false) return;
      viewer.beginStroke(view, img.u, img.v, tool);
      drag = { type: "stroke" };
    } else if (kind === "polygon") {
      if (e.detail < 2) viewer.addPolygonPoint(view, img.u, img.v);
    } else if (kind === "ruler") {
      viewer.beginRuler(view, img.u, img.v);
      drag = { type: "ruler" };
    } else if (kind === "roi") {
      viewer.beginRoi(view, img.u, img.v);
      drag = { type: "roi" };
    } else if (kind === "crosshair") {
      viewer.setCursorFromView(view, img.u, img.v);
      drag = { type: "navigate" };
    }
    if (drag) canvas.setPointerCapture(e.pointerId);
  });

  canvas.addEventListener("pointermove", (e) => {
    const p = localPoint(canvas, e);
    const img = viewer.screenToImage(view, p.x, p.y);
    if (drag) {
      if (drag.type === "pan") {
        viewer.pan(view, p.x - drag.x, p.y - drag.y);
        drag.x = p.x;
        drag.y = p.y;
      } else if (drag.type === "zoom") {
        viewer.zoom(view, Math.exp(-(p.y - drag.y) * 0.01), drag.x0, drag.y0);
        drag.y = p.y;
      } else if (drag.type === "wl") {
        const wl = dragWindowLevel(drag.start, p.x - drag.x, p.y - drag.y);
        viewer.setWindowLevel(wl.window, wl.level);
      } else if (drag.type === "stroke") {
        viewer.continueStroke(img.u, img.v);
      } else if (drag.type === "ruler") {
        viewer.moveRuler(img.u, img.v);
      } else if (drag.type === "roi") {
        viewer.moveRoi(img.u, img.v);
      } else if (drag.type === "navigate") {
        viewer.setCursorFromView(view, img.u, img.v);
      }
    }
    viewer.setHover(view, img.u, img.v);
  });

  const end = (e) => {
    if (!drag) return;
    if (drag.type === "stroke") viewer.endStroke();
    if (drag.type === "ruler") viewer.endRuler();
    if (drag.type === "roi") viewer.endRoi();
    drag = null;
    if (canvas.hasPointerCapture(e.pointerId)) canvas.releasePointerCapture(e.pointerId);
  };
  canvas.addEventListener("pointerup", end);
  canvas.addEventListener("pointercancel", end);
  canvas.addEventListener("pointerleave", () => {
    if (!drag) viewer.setHover(null);
  });

  canvas.addEventListener("dblclick", (e) => {
    e.preventDefault();
    if (viewer.tool === "polygon") viewer.closePolygon(e.altKey);
    else onDoubleClick?.(view);
  });

  canvas.addEventListener(
    "wheel",
    (e) => {
      e.preventDefault();
      viewer.setActiveView(view);
      const dy = e.deltaMode === 1 ? e.deltaY * 40 : e.deltaMode === 2 ? e.deltaY * 400 : e.deltaY;
      if (e.ctrlKey || e.metaKey) {
        const p = localPoint(canvas, e);
        viewer.zoom(view, Math.exp(-dy * 0.0015), p.x, p.y);
        return;
      }
      // Mouse wheels send ~100 px per notch: one slice per event; touchpads accumulate.
      let steps = 0;
      if (Math.abs(dy) >= 50) steps = Math.sign(dy);
      else {
        wheelAccumulator += dy;
        if (Math.abs(wheelAccumulator) >= 50) {
          steps = Math.sign(wheelAccumulator);
          wheelAccumulator = 0;
        }
      }
      if (steps) viewer.scrollSlice(view, -steps * (e.shiftKey ? 5 : 1));
    },
    { passive: false },
  );
}

const TEXT_INPUTS = new Set(["text", "number", "search", "email", "password", "url", "tel", "date", "time"]);
const ARROWS = new Set(["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "PageUp", "PageDown", "Home", "End"]);

/**
 * Whether the focused element handles this key itself, so the viewer must not:
 * text fields take every key, radios / sliders / selects their arrows, and buttons,
 * checkboxes and summaries Space and Enter.
 */
export function nativeHandles(target, key) {
  if (!target || !target.tagName) return false;
  const tag = target.tagName;
  if (tag === "TEXTAREA" || target.isContentEditable) return true;
  const type = tag === "INPUT" ? (target.type || "text") : "";
  if (tag === "INPUT" && TEXT_INPUTS.has(type)) return true;
  if (tag === "SELECT" || type === "radio" || type === "range") return ARROWS.has(key) || key === " " || key === "Enter";
  if (tag === "BUTTON" || tag === "SUMMARY" || tag === "A" || tag === "INPUT") return key === " " || key === "Enter";
  return false;
}

/**
 * Global keyboard shortcuts. `actions` supplies what lives outside the viewer:
 * {save(), toggleHelp(), toggleMyMask()}. Returns the shared key state ({space}).
 */
export function attachKeyboard(viewer, actions, target = window) {
  const keys = { space: false };
  target.addEventListener("keydown", (e) => {
    const k = e.key;
    const ctrl = e.ctrlKey || e.metaKey;
    if (ctrl && (k === "s" || k === "S")) {
      e.preventDefault();
      actions.save?.();
      return;
    }
    if (nativeHandles(e.target, k)) return;
    const view = viewer.activeView;
    let handled = true;
    if (ctrl && (k === "z" || k === "Z")) {
      if (e.shiftKey) viewer.redo();
      else viewer.undo();
    } else if (ctrl && (k === "y" || k === "Y")) viewer.redo();
    else if (k === "Enter" && viewer.polygon) viewer.closePolygon(e.altKey);
    else if (ctrl || e.altKey) handled = false;
    else if (k === "ArrowUp") viewer.scrollSlice(view, 1);
    else if (k === "ArrowDown") viewer.scrollSlice(view, -1);
    else if (k === "PageUp") viewer.scrollSlice(view, 10);
    else if (k === "PageDown") viewer.scrollSlice(view, -10);
    else if (k === "+" || k === "=") viewer.zoom(view, 1.25);
    else if (k === "-" || k === "_") viewer.zoom(view, 0.8);
    else if (k === "0") viewer.resetView(view);
    else if (k === "r" || k === "R") viewer.resetView();
    else if (k === " ") {
      if (!keys.space && !e.repeat) keys.spaceAt = Date.now();
      keys.space = true;
    } else if (k === "[") viewer.setBrushRadius(viewer.brushRadiusMm - (viewer.brushRadiusMm > 1 ? 0.5 : 0.1));
    else if (k === "]") viewer.setBrushRadius(viewer.brushRadiusMm + (viewer.brushRadiusMm >= 1 ? 0.5 : 0.1));
    else if (k === "Escape") viewer.cancelDrafts();
    else if (k === "f" || k === "F") viewer.cycleMode();
    else if (k === "c" || k === "C") viewer.toggleCrosshair();
    else if (k === "j" || k === "J") viewer.jumpToMargin();
    else if (k === "o" || k === "O") actions.toggleMyMask?.();
    else if (k === "?" || k === "h" || k === "H") actions.toggleHelp?.();
    else if (TOOL_KEYS[k.toLowerCase()]) viewer.setTool(TOOL_KEYS[k.toLowerCase()]);
    else {
      const preset = PRESETS.find((p) => p.key === k);
      if (preset) viewer.applyPreset(preset.id);
      else handled = false;
    }
    if (handled) e.preventDefault();
  });
  target.addEventListener("keyup", (e) => {
    if (e.key !== " ") return;
    // A short tap (no pan drag meanwhile) toggles cine; holding Space while dragging pans.
    if (keys.space && !keys.panned && Date.now() - (keys.spaceAt || 0) < 300) actions.toggleCine?.();
    keys.space = false;
    keys.panned = false;
  });
  target.addEventListener("blur", () => (keys.space = false));
  return keys;
}
