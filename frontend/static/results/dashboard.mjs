// Results dashboard: fetch the stored report, render every section, refresh every few seconds.
// A worker computes the report: while none exists (202) or the shown one is stale, poll sooner until fresh.

import { downloadPng, downloadSvg } from "./download.mjs";
import { modelText, SECTIONS } from "./render.mjs";

const config = JSON.parse(document.getElementById("results-config").textContent);
const byTestId = (id) => document.querySelector(`[data-testid="${id}"]`);
const refreshButton = byTestId("results-refresh");
const auto = byTestId("results-autorefresh");
const updated = byTestId("results-updated-at");
const errorBox = byTestId("results-error");
let timer = null;
let busy = false;
let followUp = null;
let shownComputedAt = null;
const UPDATING_POLL_MS = 2000;
const links = { charts: config.charts || {}, gtCaseUrl: config.gtCaseUrl || "" };

function render(report) {
  byTestId("results-model").innerHTML = modelText(report);
  for (const [slot, build] of Object.entries(SECTIONS)) {
    const target = document.querySelector(`[data-slot="${slot}"]`);
    if (!target) continue;
    try {
      target.innerHTML = build(report, links);
    } catch (err) {
      target.textContent = `This section could not be drawn: ${err.message}`;
    }
  }
  document.body.dataset.resultsGenerated = report.generated_at;
}

async function load() {
  if (busy) return;
  busy = true;
  refreshButton.disabled = true;
  try {
    const response = await fetch(config.apiUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) {
      let detail = `${response.status}`;
      try { detail = (await response.json()).detail || detail; } catch { /* not JSON */ }
      throw new Error(detail);
    }
    const report = await response.json();
    errorBox.hidden = true;
    if (response.status === 202) {
      updated.textContent = "computing the report…";
    } else {
      if (report.computed_at !== shownComputedAt) render(report);  // unchanged: nothing to redraw
      shownComputedAt = report.computed_at;
      const when = new Date(report.computed_at).toLocaleString();
      updated.textContent = report.stale ? `computed at ${when}, updating…` : `computed at ${when}`;
    }
    if (response.status === 202 || report.stale) pollSoon();
  } catch (err) {
    errorBox.hidden = false;
    errorBox.textContent = `Could not load the results: ${err.message}`;
  } finally {
    busy = false;
    refreshButton.disabled = false;
  }
}

function pollSoon() {
  if (followUp) clearTimeout(followUp);
  followUp = setTimeout(() => { followUp = null; load(); }, UPDATING_POLL_MS);
}

function schedule() {
  if (timer) clearInterval(timer);
  timer = auto.checked ? setInterval(() => { if (!document.hidden) load(); }, config.refreshSeconds * 1000) : null;
}

// One listener for every chart's PNG/SVG buttons (the sections are redrawn on each refresh).
document.addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-download]");
  if (!button) return;
  const svg = document.querySelector(`svg[data-testid="${CSS.escape(button.dataset.chart)}"]`);
  if (!svg) return;
  const options = { studyId: config.studyId, name: button.dataset.name };
  try {
    if (button.dataset.download === "png") await downloadPng(svg, options);
    else downloadSvg(svg, options);
  } catch (err) {
    errorBox.hidden = false;
    errorBox.textContent = `Could not download the chart: ${err.message}`;
  }
});

refreshButton.addEventListener("click", load);
auto.addEventListener("change", schedule);
load();
schedule();
