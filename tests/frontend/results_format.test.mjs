// Pure formatting of the results dashboard: intervals only when defined, one-reader means, plain model
// labels, operating points without ROC curves, and chart files for download.
import assert from "node:assert/strict";
import { test } from "node:test";

import { chartFileName, forestSvg, standaloneSvg } from "../../frontend/static/results/charts.mjs";
import { ciText, estimate, hasInterval, meanSd } from "../../frontend/static/results/format.mjs";
import { chartTools, modelText, operatingPoint } from "../../frontend/static/results/render.mjs";

test("an interval is defined only with two finite ends, the upper above the lower", () => {
  assert.equal(hasInterval([0.1, 0.9]), true);
  assert.equal(hasInterval([0, 0]), false);
  assert.equal(hasInterval([1, 1]), false);
  assert.equal(hasInterval([0.5, null]), false);
  assert.equal(hasInterval([Number.NaN, 1]), false);
  assert.equal(hasInterval(undefined), false);
  assert.equal(ciText([0, 0], String), "");
  assert.equal(ciText([0.2, 0.4], (x) => x.toFixed(1), { prefix: "95% CI " }), ' <span class="muted">(95% CI 0.2–0.4)</span>');
});

test("estimates drop degenerate intervals and keep real ones", () => {
  assert.equal(estimate({ value: 0, ci95: [0, 0] }), "0%");
  assert.equal(estimate({ value: 1, ci95: [1, 1] }), "100%");
  assert.equal(estimate({ value: 0.5 }), "50%");
  assert.equal(estimate({ value: 0.84, ci95: [0.61, 0.95] }), '84% <span class="muted">(61–95)</span>');
  assert.match(estimate({ not_computable: true, reason: "no cases" }), /title="no cases"/);
});

test("a mean over one reader shows no '± –'", () => {
  const one = meanSd({ mean: 0.5, sd: { not_computable: true, reason: "one rater: SD is undefined" }, n: 1 });
  assert.doesNotMatch(one, /±/);
  assert.match(one, /^50% <span class="muted" title="one rater: SD is undefined">\(n = 1, no SD\)<\/span>$/);
  assert.equal(meanSd({ mean: 0.5, sd: 0.1, n: 3 }), "50% ± 10");
  assert.doesNotMatch(meanSd({ mean: 0.5, sd: null, n: 1 }), /±/);
});

test("the model label has no brackets inside brackets", () => {
  const text = modelText({ model: { label: "demo:1", selection: "the model with the most finished runs on these cases; no default model is registered" } });
  assert.equal(text, 'demo:1 <span class="muted">· the model with the most finished runs on these cases; no default model is registered</span>');
  assert.equal(modelText({ model: { label: null, reason: "no model is registered" } }), 'no model result <span class="muted">· no model is registered</span>');
});

test("operating points come from sensitivity and specificity alone", () => {
  assert.deepEqual(operatingPoint({ sensitivity: { value: 1 }, specificity: { value: 0.25 } }), { fpr: 0.75, tpr: 1 });
  assert.equal(operatingPoint({ sensitivity: { value: 1 }, specificity: { not_computable: true, reason: "x" } }), null);
  assert.equal(operatingPoint({ not_computable: true, reason: "no calls" }), null);
  assert.equal(operatingPoint(undefined), null);
});

test("chart tools offer PNG and SVG of a drawn chart and CSV only with a server URL", () => {
  const both = chartTools({ chart: "forest", svgTestid: "forest-plot", csvUrl: "/api/x.csv" });
  assert.match(both, /data-download="png" data-chart="forest-plot"/);
  assert.match(both, /data-download="svg" data-chart="forest-plot"/);
  assert.match(both, /href="\/api\/x.csv" download/);
  assert.doesNotMatch(chartTools({ chart: "roc-aided", svgTestid: "roc-chart-aided" }), /CSV/);
  assert.doesNotMatch(chartTools({ chart: "roc", svgTestid: "", csvUrl: "/r.csv" }), /data-download/);
});

test("a chart's SVG becomes a standalone file with size and background", () => {
  const svg = forestSvg({ rows: [{ label: "r1", colour: "#fff", sensitivity: { value: 1, ci95: [1, 1] }, specificity: { value: 0.5, ci95: [0.1, 0.9] } }] });
  assert.doesNotMatch(svg, /\(100–100\)/); // the degenerate interval is neither drawn nor titled
  const file = standaloneSvg(svg, { scale: 2 });
  assert.equal(file.width, 1120);
  assert.match(file.markup, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="1120" height="\d+" viewBox=/);
  assert.match(file.markup, /<rect x="0" y="0" width="560" height="\d+" fill="#0c0f13"\/>/);
  const serialised = standaloneSvg('<svg xmlns="http://www.w3.org/2000/svg" width="10" viewBox="0 0 20 10"><g/></svg>');
  assert.equal((serialised.markup.match(/xmlns=/g) || []).length, 1);
  assert.equal(serialised.width, 20);
  assert.throws(() => standaloneSvg("<div></div>"), /not an SVG/);
  assert.throws(() => standaloneSvg("<svg></svg>"), /no viewBox/);
});

test("chart file names are safe", () => {
  assert.equal(chartFileName(7, "roc-unaided", "png"), "study-7-roc-unaided.png");
  assert.equal(chartFileName("7", "../Forest plot", "svg"), "study-7-forest-plot.svg");
  assert.equal(chartFileName("x", "", "csv"), "study-0-chart.csv");
});
