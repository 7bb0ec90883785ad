// HTML for each section of the results dashboard from the report JSON (pure functions, no DOM).

import { forestSvg, kappaColour, rocSvg } from "./charts.mjs";
import { publishedHtml } from "./published.mjs";
import { MODEL_COLOUR, ciText, colourFor, esc, estimate, hasInterval, isNC, meanSd, nc, num, pValue } from "./format.mjs";

const METRICS = ["sensitivity", "specificity", "ppv", "npv", "accuracy", "f1"];
const METRIC_LABELS = { sensitivity: "Sensitivity", specificity: "Specificity", ppv: "PPV", npv: "NPV", accuracy: "Accuracy", f1: "F1" };

function sessionLabel(session) {
  return `${session.key} (session ${session.number})`;
}

function readerColours(report) {
  const map = {};
  report.study.readers.forEach((r, i) => { map[r] = colourFor(i); });
  return map;
}

function aucCell(entry) {
  if (!entry) return "–";
  if (isNC(entry)) return nc(entry.reason);
  if (isNC(entry.auc)) return nc(entry.auc.reason);
  return `${num(entry.auc.auc)}${ciText(entry.auc.ci95, num)}`;
}

function metricsCells(m) {
  if (isNC(m)) return `<td colspan="4" class="nc" title="${esc(m.reason)}">–</td>${METRICS.map(() => `<td>${nc(m.reason)}</td>`).join("")}`;
  const c = m.counts;
  return `<td>${c.tp}</td><td>${c.fp}</td><td>${c.tn}</td><td>${c.fn}</td>${METRICS.map((k) => {
    const v = m[k];
    const value = isNC(v) ? "" : ` data-value="${v.value}"`;
    return `<td data-metric="${k}"${value}>${estimate(v)}</td>`;
  }).join("")}`;
}

// The model in plain words: its label, then how it was chosen (no brackets inside brackets).
export function modelText(report) {
  const m = report.model;
  if (!m.label) return `no model result <span class="muted">· ${esc(m.reason || "none")}</span>`;
  return `${esc(m.label)} <span class="muted">· ${esc(m.selection)}</span>`;
}

// Buttons under a chart: PNG and SVG of the drawn chart (dashboard.mjs acts on data-download) and its
// data as CSV from the server's audited export.
export function chartTools({ chart, svgTestid, csvUrl, label }) {
  const buttons = (svgTestid ? ["png", "svg"] : []).map((kind) => `<button type="button" class="secondary small" data-download="${kind}" data-chart="${esc(svgTestid)}" data-name="${esc(chart)}" data-testid="download-${kind}-${esc(svgTestid)}">${kind.toUpperCase()}</button>`);
  if (csvUrl) buttons.push(`<a class="button secondary small" href="${esc(csvUrl)}" download data-testid="download-csv-${esc(chart)}">CSV</a>`);
  return `<div class="chart-tools" aria-label="Download ${esc(label || chart)}">Download: ${buttons.join(" ")}</div>`;
}

// An operating point {fpr, tpr} from a rater's accuracy metrics, or null when sensitivity or
// specificity is undefined. Independent of the ROC curve, so few cases still show every reader's call.
export function operatingPoint(metrics) {
  if (!metrics || isNC(metrics)) return null;
  const sens = metrics.sensitivity;
  const spec = metrics.specificity;
  if (!sens || !spec || isNC(sens) || isNC(spec) || typeof sens.value !== "number" || typeof spec.value !== "number") return null;
  return { fpr: 1 - spec.value, tpr: sens.value };
}

function caseLink(code, ctx) {
  if (!ctx || !ctx.gtCaseUrl) return esc(code);
  return `<a href="${esc(ctx.gtCaseUrl.replace("__code__", encodeURIComponent(code)))}" data-testid="missing-truth-link">${esc(code)}</a>`;
}

export function completenessHtml(report, ctx = {}) {
  const c = report.completeness;
  const sessions = report.study.sessions;
  const head = sessions.map((s) => `<th>${esc(sessionLabel(s))}</th>`).join("");
  const rows = report.study.readers.map((r) => `<tr><td>${esc(r)}</td>${sessions.map((s) => `<td data-testid="reads-count" data-reader="${esc(r)}" data-session="${esc(s.key)}">${c.reads[s.key][r]} / ${c.n_cases}</td>`).join("")}</tr>`).join("");
  const missing = Object.entries(c.missing_truth);
  return `<p data-testid="completeness-summary">${c.n_cases} case(s); signed-off ground truth for ${c.n_with_truth}
    (${c.n_truth_positive} positive, ${c.n_truth_negative} negative); model results for ${c.n_with_model}.
    ${missing.length ? `</p><div class="banner warn" role="alert" data-testid="missing-truth"><p><strong>${missing.length} case(s) lack signed-off ground truth</strong> and are left out of every statistic against truth: ${missing.map(([code, why]) => `<span title="${esc(why)}">${caseLink(code, ctx)}</span>`).join(", ")}.</p></div><p>` : ""}
    ${c.pending_truth_correction.length ? `<span class="muted">Correction pending (the signed-off version is used): ${c.pending_truth_correction.map(esc).join(", ")}.</span>` : ""}</p>
    <table class="table results-table"><thead><tr><th>Reader</th>${head}</tr></thead><tbody>${rows}</tbody></table>`;
}

export function accuracyHtml(report) {
  const acc = report.accuracy;
  const roc = report.roc;
  const head = `<tr><th>Rater</th><th>Session</th><th>TP</th><th>FP</th><th>TN</th><th>FN</th>${METRICS.map((k) => `<th>${METRIC_LABELS[k]}</th>`).join("")}<th>AUC</th></tr>`;
  const rows = [`<tr class="model-row" data-testid="accuracy-row" data-rater="${esc(report.model.key)}" data-session=""><td>${esc(report.model.key)}</td><td>—</td>${metricsCells(acc.model)}<td>${aucCell(roc.model)}</td></tr>`];
  for (const s of report.study.sessions) {
    const block = acc.sessions[s.key];
    for (const r of report.study.readers) {
      rows.push(`<tr data-testid="accuracy-row" data-rater="${esc(r)}" data-session="${esc(s.key)}"><td>${esc(r)}</td><td>${esc(s.key)}</td>${metricsCells(block.readers[r])}<td>${aucCell(roc.sessions[s.key].readers[r])}</td></tr>`);
    }
    const msd = block.reader_mean_sd;
    const cells = METRICS.map((k) => `<td data-metric="${k}">${isNC(msd) ? nc(msd.reason) : meanSd(msd[k])}</td>`).join("");
    rows.push(`<tr class="mean-row" data-testid="accuracy-mean-row" data-session="${esc(s.key)}"><td>readers mean ± SD</td><td>${esc(s.key)}</td><td colspan="4"></td>${cells}<td></td></tr>`);
  }
  return `<table class="table results-table" data-testid="accuracy-table"><thead>${head}</thead><tbody>${rows.join("")}</tbody></table>`;
}

export function rocHtml(report, ctx = {}) {
  const colours = readerColours(report);
  const model = report.roc.model;
  const modelSeries = { name: report.model.key, colour: MODEL_COLOUR, points: isNC(model) ? [] : model.curve, op: operatingPoint(report.accuracy.model), model: true };
  const out = [];
  for (const s of report.study.sessions) {
    const readers = report.roc.sessions[s.key].readers;
    const accuracy = report.accuracy.sessions[s.key].readers;
    const series = [...Object.entries(readers).map(([r, e]) => ({ name: r, colour: colours[r], points: isNC(e) ? [] : e.curve, op: operatingPoint(accuracy[r]) })), modelSeries]
      .filter((x) => (Array.isArray(x.points) && x.points.length) || x.op);
    const reasons = Object.entries(readers).filter(([, e]) => isNC(e)).map(([r, e]) => `${esc(r)}: no curve, ${esc(e.reason)}`);
    if (isNC(model)) reasons.push(`${esc(report.model.key)}: no curve, ${esc(model.reason)}`);
    const testid = `roc-chart-${s.key}`;
    out.push(`<div class="roc-panel"><h3>${esc(sessionLabel(s))}</h3>${rocSvg({ series, testid })}
      <div class="legend">${series.map((x) => `<span><i style="background:${x.colour}"></i>${esc(x.name)}${x.model ? " (◆ = call at threshold)" : ""}</span>`).join("")}</div>
      ${reasons.length ? `<p class="muted">${reasons.join("<br>")}${series.some((x) => x.op) ? "<br>Operating points (the calls) are plotted all the same." : ""}</p>` : ""}
      ${chartTools({ chart: `roc-${s.key}`, svgTestid: testid, label: `ROC ${s.key}` })}</div>`);
  }
  const csv = ctx.charts && ctx.charts.roc ? chartTools({ chart: "roc", svgTestid: "", csvUrl: ctx.charts.roc, label: "ROC data of every session" }) : "";
  return `<div class="roc-panels">${out.join("")}</div>${csv}`;
}

export function forestHtml(report, ctx = {}) {
  const colours = readerColours(report);
  const rows = [{ label: report.model.key, colour: MODEL_COLOUR, sensitivity: report.accuracy.model.sensitivity ?? report.accuracy.model, specificity: report.accuracy.model.specificity ?? report.accuracy.model }];
  for (const s of report.study.sessions) {
    for (const r of report.study.readers) {
      const m = report.accuracy.sessions[s.key].readers[r];
      rows.push({ label: `${r} · ${s.key}`, colour: colours[r], sensitivity: isNC(m) ? m : m.sensitivity, specificity: isNC(m) ? m : m.specificity });
    }
  }
  return `${forestSvg({ rows })}${chartTools({ chart: "forest", svgTestid: "forest-plot", csvUrl: ctx.charts && ctx.charts.forest, label: "forest plot" })}`;
}

function kappaCell(k, testid = "kappa-cell") {
  if (!k) return `<td class="muted">–</td>`;
  if (isNC(k)) return `<td class="nc" title="${esc(k.reason)}" data-testid="${testid}">–</td>`;
  const ci = hasInterval(k.ci95) ? `95% CI ${num(k.ci95[0], 2)}–${num(k.ci95[1], 2)}` : "no interval";
  return `<td style="background:${kappaColour(k.kappa)}" title="${ci}, n = ${k.n}" data-testid="${testid}" data-value="${k.kappa}">${num(k.kappa, 2)}</td>`;
}

export function agreementHtml(report) {
  const out = [];
  const readers = report.study.readers;
  const modelKey = report.model.key;
  for (const s of report.study.sessions) {
    const a = report.agreement.sessions[s.key];
    const pairs = {};
    if (!isNC(a.reader_pairs)) for (const p of a.reader_pairs.pairs) { pairs[`${p.a}|${p.b}`] = p; pairs[`${p.b}|${p.a}`] = p; }
    const cols = [...readers, modelKey, "truth"];
    const head = `<tr><th></th>${cols.map((c) => `<th>${esc(c)}</th>`).join("")}</tr>`;
    const body = readers.map((r) => `<tr><th>${esc(r)}</th>${readers.map((q) => (q === r ? `<td class="muted">1</td>` : kappaCell(pairs[`${r}|${q}`] || (isNC(a.reader_pairs) ? a.reader_pairs : null)))).join("")}${kappaCell(a.reader_vs_model[r])}${kappaCell(a.reader_vs_truth[r])}</tr>`).join("");
    const modelRow = `<tr><th>${esc(modelKey)}</th>${readers.map((r) => kappaCell(a.reader_vs_model[r])).join("")}<td class="muted">1</td>${kappaCell(report.agreement.model_vs_truth)}</tr>`;
    const f = a.fleiss;
    const fleiss = isNC(f) ? `Fleiss' kappa: ${nc(f.reason)}` : `Fleiss' kappa ${num(f.kappa, 2)} <span class="muted">(${isNC(f.ci95) ? `95% CI ${nc(f.ci95.reason)}` : (hasInterval(f.ci95) ? `95% CI ${num(f.ci95[0], 2)}–${num(f.ci95[1], 2)}` : "no interval")}; ${f.n_raters} readers × ${f.n_subjects} cases; ${pValue(f.p)})</span>`;
    out.push(`<h3>${esc(sessionLabel(s))}</h3><table class="table results-table heat" data-testid="kappa-matrix-${esc(s.key)}"><thead>${head}</thead><tbody>${body}${modelRow}</tbody></table>
      <p data-testid="fleiss-${esc(s.key)}">${fleiss}</p>`);
  }
  return out.join("");
}

function mcnemarCell(t) {
  if (isNC(t)) return `<td>${nc(t.reason)}</td>`;
  return `<td data-p="${t.p}" title="b = ${t.b_a_only}, c = ${t.c_b_only}, ${t.n_pairs} pairs">${t.b_a_only} / ${t.c_b_only} · ${pValue(t.p)}</td>`;
}

function mcnemarRow(label, a, b, pair) {
  const corr = pair.correctness;
  const parts = ["accuracy", "sensitivity", "specificity"].map((k) => mcnemarCell(isNC(corr) ? corr : corr[k]));
  return `<tr data-testid="mcnemar-row" data-a="${esc(a)}" data-b="${esc(b)}"><td>${esc(label)}</td><td>${esc(a)}</td><td>${esc(b)}</td>${parts.join("")}${mcnemarCell(pair.calls)}</tr>`;
}

export function comparisonsHtml(report) {
  const c = report.comparisons;
  const modelKey = report.model.key;
  const rows = [];
  for (const s of report.study.sessions) {
    for (const [r, pair] of Object.entries(c.model_vs_reader[s.key])) rows.push(mcnemarRow(s.key, modelKey, r, pair));
  }
  if (!isNC(c.aided_vs_unaided)) {
    for (const [r, pair] of Object.entries(c.aided_vs_unaided)) rows.push(mcnemarRow("unaided vs aided", `${r} unaided`, `${r} aided`, pair));
  }
  const mcnemar = `<h3>McNemar exact tests</h3><p class="muted">Each cell: b / c · exact two-sided p, where b = cases only A got right (last column: only A called positive) and c = only B.</p>
    <table class="table results-table" data-testid="mcnemar-table"><thead><tr><th>Session</th><th>A</th><th>B</th><th>Correct calls</th><th>… truth-positive (sensitivity)</th><th>… truth-negative (specificity)</th><th>Positive calls</th></tr></thead><tbody>${rows.join("")}</tbody></table>
    ${isNC(c.aided_vs_unaided) ? `<p class="muted">Aided vs unaided: ${nc(c.aided_vs_unaided.reason)} ${esc(c.aided_vs_unaided.reason)}</p>` : ""}`;
  let mrmc;
  if (isNC(c.mrmc)) {
    mrmc = `<p data-testid="mrmc-summary">MRMC (Obuchowski-Rockette): not computable — ${esc(c.mrmc.reason)}</p>`;
  } else {
    const res = c.mrmc.result;
    const single = Object.entries(res.single_modality).map(([m, v]) => `<li>${esc(m)}: readers' mean AUC ${isNC(v) ? `${num(res.modality_means[m])} ${nc(v.reason)}` : `${num(v.auc)}${ciText(v.ci95, num, { prefix: "95% CI " })}`}</li>`).join("");
    const r = res.rrrc;
    const f = res.frrc;
    const test = isNC(r) ? `<li>Random readers, random cases: ${nc(r.reason)} ${esc(r.reason)}</li>` : `<li>Random readers, random cases: difference ${esc(c.mrmc.difference || "")}: ${num(r.difference)}${ciText(r.ci95, num, { prefix: "95% CI " })}, F = ${num(r.F, 2)} on ${r.ndf} and ${num(r.ddf, 1)} df, <span data-testid="mrmc-p">${pValue(r.p)}</span></li>`;
    const fixed = isNC(f) ? "" : `<li>Fixed readers, random cases: χ² = ${num(f.chi2, 2)}, ${pValue(f.p)}</li>`;
    mrmc = `<div data-testid="mrmc-summary"><p>${c.mrmc.n_crossed_cases} fully crossed case(s) of ${c.mrmc.n_cases_with_truth} with truth; ${res.readers.length} reader(s).</p><ul>${single}${test}${fixed}</ul></div>`;
  }
  const mvr = report.study.sessions.map((s) => {
    const e = c.model_vs_readers_auc[s.key];
    if (isNC(e)) return `<li data-testid="model-vs-readers-${esc(s.key)}">${esc(s.key)}: ${nc(e.reason)} ${esc(e.reason)}</li>`;
    const res = e.result;
    if (isNC(res)) return `<li data-testid="model-vs-readers-${esc(s.key)}">${esc(s.key)}: ${nc(res.reason)} ${esc(res.reason)}</li>`;
    const rr = res.rrrc;
    return `<li data-testid="model-vs-readers-${esc(s.key)}">${esc(s.key)} (${e.n_cases} cases): model AUC ${num(res.model.auc)}, readers' mean AUC ${num(res.readers_mean_auc)}; difference ${num(res.difference)} ${isNC(rr) ? nc(rr.reason) : `${ciText(rr.ci95, num, { prefix: "95% CI " })} <span class="muted">${pValue(rr.p)}</span>`}</li>`;
  }).join("");
  return `${mcnemar}<h3>MRMC ROC: aided vs unaided</h3>${mrmc}<h3>Model AUC vs readers' AUC</h3><ul>${mvr}</ul>`;
}

function segRow(label, session, packed, testid = "segmentation-row") {
  const s = packed.summary;
  const cell = (v, opts) => `<td>${isNC(v) ? nc(v.reason) : meanSd(v, opts)}</td>`;
  return `<tr data-testid="${testid}" data-label="${esc(label)}" data-session="${esc(session)}"><td>${esc(label)}</td><td>${esc(session)}</td><td>${packed.n_cases}</td>${cell(s.dice, { percent: false, digits: 2 })}${cell(s.hausdorff_mm, { percent: false, digits: 1 })}${cell(s.mean_surface_distance_mm, { percent: false, digits: 2 })}</tr>`;
}

export function segmentationHtml(report) {
  const seg = report.segmentation;
  if (isNC(seg.not_computed)) return `<p>${nc(seg.not_computed.reason)} ${esc(seg.not_computed.reason)}</p>`;
  const rows = [segRow(`${report.model.key} vs ground truth`, "", seg.vs_ground_truth.model)];
  for (const [key, byReader] of Object.entries(seg.vs_ground_truth.sessions)) {
    for (const [r, packed] of Object.entries(byReader)) rows.push(segRow(`${r} vs ground truth`, key, packed));
  }
  for (const [key, byPair] of Object.entries(seg.between_readers)) {
    for (const [pair, packed] of Object.entries(byPair)) rows.push(segRow(pair.replace("|", " vs "), key, packed));
  }
  for (const [key, byReader] of Object.entries(seg.reader_vs_model_start)) {
    for (const [r, packed] of Object.entries(byReader)) if (packed.n_cases) rows.push(segRow(`${r} vs the model mask they started from`, key, packed));
  }
  const slices = Object.values(seg.truth_slices);
  const twoD = slices.filter((x) => x.mode === "2d").length;
  const skipped = Object.entries(seg.cases_without_outline);
  return `<p class="muted">Against ground truth: 2D on the pathology slice (${twoD} of ${slices.length} outlines); between readers and against the model: 3D. Dice; HD95 and mean surface distance in mm (mean ± SD over cases).</p>
    <table class="table results-table" data-testid="segmentation-table"><thead><tr><th>Comparison</th><th>Session</th><th>Cases</th><th>Dice</th><th>HD95 (mm)</th><th>MSD (mm)</th></tr></thead><tbody>${rows.join("")}</tbody></table>
    ${skipped.length ? `<p class="muted">No outline: ${skipped.map(([c, why]) => `<span title="${esc(why)}">${esc(c)}</span>`).join(", ")}</p>` : ""}`;
}

export function perFaceHtml(report) {
  const pf = report.per_face;
  if (isNC(pf)) return `<p data-testid="per-face-nc">${nc(pf.reason)} ${esc(pf.reason)}</p>`;
  const row = (label, session, m) => `<tr data-testid="per-face-row"><td>${esc(label)}</td><td>${esc(session)}</td>${isNC(m) ? `<td colspan="3">${nc(m.reason)}</td>` : `<td>${m.counts.n}</td><td>${estimate(m.sensitivity)}</td><td>${estimate(m.specificity)}</td>`}</tr>`;
  const rows = [row(report.model.key, "", pf.model)];
  for (const [key, block] of Object.entries(pf.sessions)) for (const [r, m] of Object.entries(block.readers)) rows.push(row(r, key, m));
  return `<p class="muted">${pf.n_faces_with_truth} face(s) with a ground-truth status in ${pf.n_cases_with_face_truth} case(s); faces pooled (CIs ignore clustering within a specimen).</p>
    <table class="table results-table" data-testid="per-face-table"><thead><tr><th>Rater</th><th>Session</th><th>Faces</th><th>Sensitivity</th><th>Specificity</th></tr></thead><tbody>${rows.join("")}</tbody></table>`;
}

export function notComputableHtml(report) {
  const items = report.not_computable;
  if (!items.length) return `<p class="muted" data-testid="not-computable-none">Every statistic could be computed.</p>`;
  return `<ul>${items.map((x) => `<li data-testid="not-computable-item"><code>${esc(x.path)}</code>: ${esc(x.reason)}</li>`).join("")}</ul>`;
}

export function methodsHtml(report) {
  return Object.entries(report.methods).map(([k, v]) => `<p><b>${esc(k)}</b>: ${esc(v)}</p>`).join("");
}

export const SECTIONS = {
  completeness: completenessHtml,
  accuracy: accuracyHtml,
  published: publishedHtml,
  roc: rocHtml,
  forest: forestHtml,
  agreement: agreementHtml,
  comparisons: comparisonsHtml,
  segmentation: segmentationHtml,
  "per-face": perFaceHtml,
  "not-computable": notComputableHtml,
  methods: methodsHtml,
};
