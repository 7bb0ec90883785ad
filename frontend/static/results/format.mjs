// Formatting helpers for the results dashboard (pure functions, no DOM).

export function esc(value) {
  return String(value ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

export function isNC(value) {
  return value !== null && typeof value === "object" && value.not_computable === true;
}

export function nc(reason) {
  return `<span class="nc" title="${esc(reason)}" data-testid="nc">–</span>`;
}

export function num(value, digits = 3) {
  return typeof value === "number" && Number.isFinite(value) ? value.toFixed(digits) : "–";
}

export function pct(value, digits = 0) {
  return typeof value === "number" && Number.isFinite(value) ? `${(100 * value).toFixed(digits)}%` : "–";
}

// True when [lo, hi] is a real interval: both ends finite numbers and hi > lo. A degenerate
// "0% (0–0)" or a missing end says nothing, so it is not shown.
export function hasInterval(ci) {
  return Array.isArray(ci) && ci.length === 2 && ci.every((x) => typeof x === "number" && Number.isFinite(x)) && ci[1] > ci[0];
}

// " (lo–hi)" formatted with f, or "" when the interval is not defined. `prefix` goes inside the brackets.
export function ciText(ci, f, { prefix = "" } = {}) {
  return hasInterval(ci) ? ` <span class="muted">(${prefix}${f(ci[0])}–${f(ci[1])})</span>` : "";
}

// An Estimate {value, ci95:[lo, hi]} as "84% (61–95)" (the interval only when defined), or the
// not-computable dash with its reason.
export function estimate(value, { percent = true, digits } = {}) {
  if (value === undefined || value === null) return "–";
  if (isNC(value)) return nc(value.reason);
  const f = percent ? (x) => pct(x, digits ?? 0).replace("%", "") : (x) => num(x, digits ?? 2);
  return `${percent ? pct(value.value, digits ?? 0) : num(value.value, digits ?? 2)}${ciText(value.ci95, f)}`;
}

// Mean +/- SD from studies.stats MeanSd.to_dict() ({mean, sd, n}); with one rater there is no SD,
// so only the mean is shown, labelled with the count.
export function meanSd(value, { percent = true, digits } = {}) {
  if (value === undefined || value === null) return "–";
  if (isNC(value)) return nc(value.reason);
  const f = percent ? (x) => pct(x, digits ?? 0) : (x) => num(x, digits ?? 2);
  if (typeof value.sd !== "number" || !Number.isFinite(value.sd)) {
    const why = isNC(value.sd) ? value.sd.reason : "SD is undefined";
    const n = typeof value.n === "number" ? `n = ${value.n}, ` : "";
    return `${f(value.mean)} <span class="muted" title="${esc(why)}">(${n}no SD)</span>`;
  }
  const sd = percent ? pct(value.sd, digits ?? 0).replace("%", "") : num(value.sd, digits ?? 2);
  return `${f(value.mean)} ± ${sd}`;
}

// "p = 0.012" or "p < 0.001".
export function pValue(p) {
  if (typeof p !== "number") return "p –";
  return p < 0.001 ? "p < 0.001" : `p = ${p.toFixed(3)}`;
}

export const PALETTE = ["#4aa3ff", "#f5b84a", "#4cd08a", "#c58aff", "#ff8fa3", "#5ee0e0", "#e0d35e", "#ff9f5a",
  "#9fb3ff", "#b0e07a"];
export const MODEL_COLOUR = "#ff6b6b";

export function colourFor(index) {
  return PALETTE[index % PALETTE.length];
}
