// SVG charts for the results dashboard, built as strings (no third-party libraries, no DOM access),
// so they can be tested with node and inserted with innerHTML.

import { esc, hasInterval } from "./format.mjs";

const F = (x) => (Math.round(x * 10) / 10).toString();

// ROC chart. series: [{name, colour, points: [{fpr, tpr}], op: {fpr, tpr} | null, model: bool}]
export function rocSvg({ series, size = 360, testid = "roc-chart" }) {
  const pad = 40;
  const w = size - pad - 12;
  const x = (fpr) => pad + fpr * w;
  const y = (tpr) => 12 + (1 - tpr) * w;
  const parts = [`<svg viewBox="0 0 ${size} ${size}" role="img" aria-label="ROC curves" data-testid="${esc(testid)}">`];
  for (let i = 0; i <= 10; i += 1) {
    const t = i / 10;
    parts.push(`<line x1="${F(x(t))}" y1="${F(y(0))}" x2="${F(x(t))}" y2="${F(y(1))}" stroke="#1d232c"/>`);
    parts.push(`<line x1="${F(x(0))}" y1="${F(y(t))}" x2="${F(x(1))}" y2="${F(y(t))}" stroke="#1d232c"/>`);
    if (i % 2 === 0) {
      parts.push(`<text x="${F(x(t))}" y="${F(y(0) + 14)}" fill="#8a94a3" font-size="10" text-anchor="middle">${t.toFixed(1)}</text>`);
      parts.push(`<text x="${F(x(0) - 5)}" y="${F(y(t) + 3)}" fill="#8a94a3" font-size="10" text-anchor="end">${t.toFixed(1)}</text>`);
    }
  }
  parts.push(`<line x1="${F(x(0))}" y1="${F(y(0))}" x2="${F(x(1))}" y2="${F(y(1))}" stroke="#39424e" stroke-dasharray="4 4"/>`);
  parts.push(`<text x="${F(x(0.5))}" y="${size - 4}" fill="#8a94a3" font-size="11" text-anchor="middle">1 − specificity</text>`);
  parts.push(`<text x="11" y="${F(y(0.5))}" fill="#8a94a3" font-size="11" text-anchor="middle" transform="rotate(-90 11 ${F(y(0.5))})">sensitivity</text>`);
  for (const s of series) {
    if (Array.isArray(s.points) && s.points.length) {
      const pts = s.points.map((p) => `${F(x(p.fpr))},${F(y(p.tpr))}`).join(" ");
      parts.push(`<polyline points="${pts}" fill="none" stroke="${esc(s.colour)}" stroke-width="${s.model ? 3 : 1.5}" stroke-opacity="${s.model ? 1 : 0.8}" data-testid="roc-curve" data-rater="${esc(s.name)}"><title>${esc(s.name)}</title></polyline>`);
    }
  }
  for (const s of series) {
    const op = s.op;
    if (!op || typeof op.fpr !== "number" || typeof op.tpr !== "number") continue;
    const cx = x(op.fpr);
    const cy = y(op.tpr);
    const title = `<title>${esc(s.name)}: sensitivity ${(100 * op.tpr).toFixed(0)}%, specificity ${(100 * (1 - op.fpr)).toFixed(0)}%</title>`;
    if (s.model) {
      parts.push(`<rect x="${F(cx - 6)}" y="${F(cy - 6)}" width="12" height="12" transform="rotate(45 ${F(cx)} ${F(cy)})" fill="${esc(s.colour)}" stroke="#fff" data-testid="roc-point" data-rater="${esc(s.name)}">${title}</rect>`);
    } else {
      parts.push(`<circle cx="${F(cx)}" cy="${F(cy)}" r="5" fill="${esc(s.colour)}" stroke="#0c0f13" data-testid="roc-point" data-rater="${esc(s.name)}">${title}</circle>`);
    }
  }
  parts.push("</svg>");
  return parts.join("");
}

// Forest plot of sensitivity and specificity. rows: [{label, colour, sensitivity: Estimate|NC, specificity: Estimate|NC}]
export function forestSvg({ rows, width = 560, testid = "forest-plot" }) {
  const rowH = 22;
  const top = 28;
  const labelW = 170;
  const gap = 36;
  const panelW = (width - labelW - gap - 14) / 2;
  const height = top + rows.length * rowH + 24;
  const parts = [`<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="Forest plot" data-testid="${esc(testid)}">`];
  const panels = [["sensitivity", labelW], ["specificity", labelW + panelW + gap]];
  for (const [name, x0] of panels) {
    const x = (v) => x0 + v * panelW;
    parts.push(`<text x="${F(x(0.5))}" y="14" fill="#d9dee5" font-size="12" text-anchor="middle">${name}</text>`);
    for (let i = 0; i <= 4; i += 1) {
      const t = i / 4;
      parts.push(`<line x1="${F(x(t))}" y1="${top - 6}" x2="${F(x(t))}" y2="${top + rows.length * rowH}" stroke="#1d232c"/>`);
      if (i % 2 === 0) parts.push(`<text x="${F(x(t))}" y="${F(top + rows.length * rowH + 14)}" fill="#8a94a3" font-size="10" text-anchor="middle">${Math.round(100 * t)}%</text>`);
    }
    rows.forEach((row, i) => {
      const cy = top + i * rowH + rowH / 2;
      const est = row[name];
      if (!est || est.not_computable || typeof est.value !== "number") {
        const why = est && est.reason ? est.reason : "not computable";
        parts.push(`<text x="${F(x(0.5))}" y="${F(cy + 4)}" fill="#8a94a3" font-size="10" text-anchor="middle"><title>${esc(why)}</title>n/a</text>`);
        return;
      }
      const ci = hasInterval(est.ci95) ? est.ci95 : null;
      if (ci) parts.push(`<line x1="${F(x(ci[0]))}" y1="${F(cy)}" x2="${F(x(ci[1]))}" y2="${F(cy)}" stroke="${esc(row.colour)}" stroke-width="2"/>`);
      const ciLabel = ci ? ` (${(100 * ci[0]).toFixed(0)}–${(100 * ci[1]).toFixed(0)})` : " (no interval)";
      parts.push(`<rect x="${F(x(est.value) - 4)}" y="${F(cy - 4)}" width="8" height="8" fill="${esc(row.colour)}" data-testid="forest-point" data-rater="${esc(row.label)}" data-metric="${name}"><title>${esc(row.label)} ${name} ${(100 * est.value).toFixed(0)}%${ciLabel}</title></rect>`);
    });
  }
  rows.forEach((row, i) => {
    const cy = top + i * rowH + rowH / 2;
    parts.push(`<text x="4" y="${F(cy + 4)}" fill="${esc(row.colour)}" font-size="11">${esc(row.label)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("");
}

// Colour of a kappa cell (-1 .. 1): red (disagreement) -> grey (chance) -> green (agreement).
export function kappaColour(kappa) {
  if (typeof kappa !== "number") return "#1a1f26";
  const k = Math.max(-1, Math.min(1, kappa));
  if (k >= 0) return `rgba(76, 208, 138, ${(0.15 + 0.7 * k).toFixed(2)})`;
  return `rgba(255, 107, 107, ${(0.15 + 0.7 * -k).toFixed(2)})`;
}

// A chart's SVG markup made into a file of its own: the SVG namespace, explicit pixel size (from the
// viewBox, times `scale`) and a solid background, which the page otherwise draws with CSS.
export function standaloneSvg(markup, { background = "#0c0f13", scale = 1 } = {}) {
  const open = /^<svg\b[^>]*>/.exec(markup);
  if (!open) throw new Error("not an SVG element");
  const box = /viewBox="\s*([-\d.]+)[\s,]+([-\d.]+)[\s,]+([\d.]+)[\s,]+([\d.]+)\s*"/.exec(open[0]);
  if (!box) throw new Error("the SVG has no viewBox");
  const [minX, minY, width, height] = box.slice(1).map(Number);
  let head = open[0].replace(/\s(width|height|xmlns)="[^"]*"/g, "");
  head = head.replace(/^<svg/, `<svg xmlns="http://www.w3.org/2000/svg" width="${width * scale}" height="${height * scale}"`);
  const fill = `<rect x="${minX}" y="${minY}" width="${width}" height="${height}" fill="${esc(background)}"/>`;
  return { markup: `<?xml version="1.0" encoding="UTF-8"?>\n${head}${fill}${markup.slice(open[0].length)}`, width: width * scale, height: height * scale };
}

// "study-3-roc-unaided.png": safe file names for chart downloads.
export function chartFileName(studyId, chart, extension) {
  const slug = String(chart).toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "") || "chart";
  return `study-${Number.parseInt(studyId, 10) || 0}-${slug}.${extension}`;
}
