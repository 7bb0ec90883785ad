/**
 * Vector annotations drawn over a view after the image: crosshair, orientation letters,
 * slice label, scale bar, closest-margin marker, rulers, the polygon being drawn and the
 * brush outline. All coordinates are CSS pixels of the view canvas; `t` is a
 * viewTransform from geometry.mjs.
 */

import { imageToScreen } from "./geometry.mjs";
import { formatMm } from "./ruler.mjs";

const FONT = "12px system-ui, -apple-system, 'Segoe UI', sans-serif";

function label(ctx, text, x, y, { align = "left", baseline = "alphabetic", color = "#e6e9ef", bg = "rgba(14,17,22,0.72)" } = {}) {
  ctx.save();
  ctx.font = FONT;
  ctx.textAlign = align;
  ctx.textBaseline = baseline;
  const w = ctx.measureText(text).width;
  // Keep the label inside the canvas (CSS px = device px / scale of the current transform).
  const cssW = ctx.canvas.width / (ctx.getTransform().a || 1);
  let x0 = align === "center" ? x - w / 2 : align === "right" ? x - w : x;
  const shift = Math.min(0, cssW - 6 - (x0 + w)) + Math.max(0, 6 - x0);
  x0 += shift;
  x += shift;
  const y0 = baseline === "top" ? y : baseline === "middle" ? y - 8 : y - 12;
  ctx.fillStyle = bg;
  ctx.fillRect(x0 - 4, y0 - 2, w + 8, 18);
  ctx.fillStyle = color;
  ctx.fillText(text, x, y);
  ctx.restore();
}

/** Crosshair lines through image point (u, v) with a gap around the centre. */
export function drawCrosshair(ctx, t, u, v, color = "rgba(110, 190, 255, 0.55)") {
  const { x, y } = imageToScreen(t, u, v);
  const gap = 10;
  const left = Math.max(0, t.x0);
  const right = Math.min(t.cssW, t.x0 + t.drawW);
  const top = Math.max(0, t.y0);
  const bottom = Math.min(t.cssH, t.y0 + t.drawH);
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = 1;
  ctx.beginPath();
  const px = Math.round(x) + 0.5;
  const py = Math.round(y) + 0.5;
  if (x - gap > left) ctx.moveTo(left, py), ctx.lineTo(x - gap, py);
  if (x + gap < right) ctx.moveTo(x + gap, py), ctx.lineTo(right, py);
  if (y - gap > top) ctx.moveTo(px, top), ctx.lineTo(px, y - gap);
  if (y + gap < bottom) ctx.moveTo(px, y + gap), ctx.lineTo(px, bottom);
  ctx.stroke();
  ctx.restore();
}

/** Orientation letters at the edges, and an optional text in the top right corner. */
export function drawFrameText(ctx, cssW, cssH, letters, cornerText = "") {
  ctx.save();
  ctx.font = FONT;
  ctx.fillStyle = "rgba(230, 233, 239, 0.8)";
  ctx.textBaseline = "middle";
  ctx.textAlign = "left";
  ctx.fillText(letters.left, 6, cssH / 2);
  ctx.textAlign = "right";
  ctx.fillText(letters.right, cssW - 6, cssH / 2);
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText(letters.top, cssW / 2, 6);
  ctx.textBaseline = "bottom";
  ctx.fillText(letters.bottom, cssW / 2, cssH - 6);
  ctx.textAlign = "right";
  ctx.textBaseline = "top";
  ctx.fillStyle = "rgba(230, 233, 239, 0.65)";
  if (cornerText) ctx.fillText(cornerText, cssW - 8, 8);
  ctx.restore();
}

const NICE = [0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100];

/** A scale bar of a round length in mm, bottom left. */
export function drawScaleBar(ctx, t, cssH) {
  const target = 90 / t.pxPerMm;
  let mm = NICE[0];
  for (const n of NICE) if (n <= target) mm = n;
  const px = mm * t.pxPerMm;
  const x = 14;
  const y = cssH - 16;
  ctx.save();
  ctx.strokeStyle = "rgba(230, 233, 239, 0.75)";
  ctx.lineWidth = 2;
  ctx.beginPath();
  ctx.moveTo(x, y - 4);
  ctx.lineTo(x, y);
  ctx.lineTo(x + px, y);
  ctx.lineTo(x + px, y - 4);
  ctx.stroke();
  ctx.font = FONT;
  ctx.fillStyle = "rgba(230, 233, 239, 0.8)";
  ctx.textAlign = "left";
  ctx.textBaseline = "bottom";
  ctx.fillText(`${mm} mm`, x + px + 6, y + 2);
  ctx.restore();
}

/**
 * Closest margin: a filled dot on the tumour point, a ring on the surface point and a
 * line between them labelled with the distance. `inPlane` tells whether the tumour
 * point lies on the displayed slice (drawn solid) or only projects onto it (dashed, faint).
 */
export function drawMarginMarker(ctx, t, tumour, surface, distanceMm, inPlane) {
  const a = imageToScreen(t, tumour.u, tumour.v);
  const b = surface ? imageToScreen(t, surface.u, surface.v) : null;
  ctx.save();
  ctx.globalAlpha = inPlane ? 1 : 0.45;
  ctx.strokeStyle = "#ff4d6d";
  ctx.fillStyle = "#ff4d6d";
  ctx.lineWidth = 2;
  if (!inPlane) ctx.setLineDash([4, 4]);
  if (b) {
    ctx.beginPath();
    ctx.moveTo(a.x, a.y);
    ctx.lineTo(b.x, b.y);
    ctx.stroke();
    ctx.beginPath();
    ctx.arc(b.x, b.y, 5, 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.setLineDash([]);
  ctx.beginPath();
  ctx.arc(a.x, a.y, 4, 0, 2 * Math.PI);
  ctx.fill();
  if (inPlane) label(ctx, `closest margin ${formatMm(distanceMm)}`, a.x + 10, a.y - 10, { color: "#ffb3c1" });
  ctx.restore();
}

/** A ruler from a to b (image coordinates) with its length. */
export function drawRuler(ctx, t, a, b, lengthMm) {
  const p = imageToScreen(t, a.u, a.v);
  const q = imageToScreen(t, b.u, b.v);
  ctx.save();
  ctx.strokeStyle = "#ffd166";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.moveTo(p.x, p.y);
  ctx.lineTo(q.x, q.y);
  const dx = q.x - p.x;
  const dy = q.y - p.y;
  const len = Math.hypot(dx, dy) || 1;
  const nx = (-dy / len) * 5;
  const ny = (dx / len) * 5;
  for (const e of [p, q]) {
    ctx.moveTo(e.x - nx, e.y - ny);
    ctx.lineTo(e.x + nx, e.y + ny);
  }
  ctx.stroke();
  label(ctx, formatMm(lengthMm), (p.x + q.x) / 2 + 8, (p.y + q.y) / 2 - 8, { color: "#ffd166" });
  ctx.restore();
}

/** The polygon being drawn: vertices, edges and the rubber band to the pointer. */
export function drawPolygonDraft(ctx, t, points, hover) {
  if (!points.length) return;
  ctx.save();
  ctx.strokeStyle = "#39d98a";
  ctx.fillStyle = "rgba(57, 217, 138, 0.15)";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  points.forEach((pt, n) => {
    const s = imageToScreen(t, pt.u, pt.v);
    if (n === 0) ctx.moveTo(s.x, s.y);
    else ctx.lineTo(s.x, s.y);
  });
  if (hover) {
    const s = imageToScreen(t, hover.u, hover.v);
    ctx.lineTo(s.x, s.y);
  }
  ctx.closePath();
  ctx.fill();
  ctx.stroke();
  for (const pt of points) {
    const s = imageToScreen(t, pt.u, pt.v);
    ctx.fillStyle = "#39d98a";
    ctx.fillRect(s.x - 2.5, s.y - 2.5, 5, 5);
  }
  ctx.restore();
}

/** Brush outline: a circle of the brush radius in mm around the pointer. */
export function drawBrushOutline(ctx, t, u, v, radiusMm, color) {
  const s = imageToScreen(t, u, v);
  ctx.save();
  ctx.strokeStyle = color;
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.arc(s.x, s.y, Math.max(2, radiusMm * t.pxPerMm), 0, 2 * Math.PI);
  ctx.stroke();
  ctx.restore();
}

/** Short text centred in the view (e.g. "Loading CT…"). */
export function drawCentreText(ctx, cssW, cssH, text) {
  label(ctx, text, cssW / 2, cssH / 2, { align: "center", baseline: "middle", color: "#aab2c0" });
}

/** Ellipse ROI inscribed in the box of image points a, b, with its statistics as a label. */
export function drawEllipseRoi(ctx, t, a, b, text = "") {
  const p = imageToScreen(t, Math.min(a.u, b.u), Math.min(a.v, b.v));
  const q = imageToScreen(t, Math.max(a.u, b.u), Math.max(a.v, b.v));
  ctx.save();
  ctx.strokeStyle = "#7cf3ff";
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.ellipse((p.x + q.x) / 2, (p.y + q.y) / 2, Math.abs(q.x - p.x) / 2, Math.abs(q.y - p.y) / 2, 0, 0, 2 * Math.PI);
  ctx.stroke();
  ctx.restore();
  if (text) label(ctx, text, q.x + 4, p.y, { baseline: "top", color: "#7cf3ff" });
}
