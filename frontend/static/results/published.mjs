// The "published" column: the reproduced paper's figures beside this study's own (another data set).

import { esc } from "./format.mjs";

function figure(value, sd, unit) {
  if (value === null || value === undefined) return "n/a";
  const text = unit === "proportion" ? `${(100 * value).toFixed(0)}%` : value.toFixed(2);
  if (sd === null || sd === undefined) return text;
  return `${text} ± ${unit === "proportion" ? `${(100 * sd).toFixed(0)}` : sd.toFixed(2)}`;
}

function ci(ci95, unit) {
  if (!Array.isArray(ci95) || ci95.length !== 2 || unit !== "proportion") return "";
  return ` <span class="muted">(95% CI ${(100 * ci95[0]).toFixed(0)}–${(100 * ci95[1]).toFixed(0)}%)</span>`;
}

export function publishedHtml(report) {
  const section = report.published;
  if (!section) return "<p class=\"muted\">No published figures in this report.</p>";
  const unitWord = report.study?.reading_unit === "lamella" ? "per lamella unit" : "per case";
  const rows = section.rows.map((r) => `<tr data-testid="published-row" data-key="${esc(r.key)}">
    <th scope="row">${esc(r.label)}</th>
    <td data-testid="published-ours">${figure(r.ours.value, r.ours.sd, r.unit)}${ci(r.ours.ci95, r.unit)} <span class="muted">${esc(r.ours.note)}</span></td>
    <td data-testid="published-value">${figure(r.published.value, r.published.sd, r.unit)}</td>
    <td class="muted"><span data-testid="published-source">${esc(r.published.source)}</span> · ${esc(r.published.data_set)} · <code>${esc(r.published.source_doc)}</code></td>
  </tr>`).join("");
  return `<p class="muted" data-testid="published-note"><strong>Published: another data set.</strong> ${esc(section.note)}</p>
  <table class="table" data-testid="published-table"><thead><tr><th>Figure</th><th>This study (${esc(unitWord)})</th><th>Published</th><th>Source</th></tr></thead>
  <tbody>${rows}</tbody></table>`;
}
