// Case page side panel: live inference progress and the margin result table.

const config = JSON.parse(document.getElementById("viewer-config").textContent);
const statusBox = document.getElementById("inference-status");
const tableBox = document.getElementById("margin-table");
const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;

const fmt = (value, digits = 2, unit = "") => (value === null || value === undefined ? "—" : `${Number(value).toFixed(digits)}${unit}`);

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  Object.assign(node, attrs);
  if (text) node.textContent = text;
  return node;
}

function renderRun(run) {
  statusBox.replaceChildren();
  if (!run) {
    statusBox.append(el("p", { className: "muted" }, "No model run yet (no default model registered, or not requested)."));
    return;
  }
  const line = el("p");
  line.append(el("span", { className: `pill ${run.status}` }, run.status), ` ${run.model_version} `);
  if (run.status === "running" || run.status === "queued") {
    const bar = el("progress", { max: 100, value: run.progress });
    bar.dataset.testid = "inference-progress";
    line.append(bar, el("span", { className: "muted" }, ` ${fmt(run.progress, 0)}% ${run.message}`));
  } else if (run.status === "failed") {
    line.append(el("span", { className: "error" }, run.message));
  } else if (run.timings && run.timings.network_s !== undefined) {
    const total = Object.values(run.timings).reduce((a, b) => a + b, 0);
    line.append(el("span", { className: "muted" }, `in ${fmt(total, 1)} s on ${run.device}`));
  }
  statusBox.append(line);
}

// Scanner face -> anatomical name from the newest specimen orientation (renamed at display time).
let faceNames = {};
const faceName = (face) => (faceNames[face] && faceNames[face] !== face ? `${faceNames[face]} (${face})` : face);
let lastMargin = null;
let lastExports = null;

function renderMargin(margin, exports) {
  lastMargin = margin;
  lastExports = exports;
  tableBox.replaceChildren();
  if (!margin) return;
  const dl = el("dl", { className: "kv" });
  dl.dataset.testid = "margin-table";
  const rows = [
    ["Margin status", margin.status],
    [`Closest margin (threshold ${fmt(margin.threshold_mm, 1)} mm)`, fmt(margin.closest_margin_mm, 2, " mm")],
    ["Tumour volume", fmt(margin.tumour_volume_ml, 3, " ml")],
    ["SUVmax / SUVmean", `${fmt(margin.suv_max)} / ${fmt(margin.suv_mean)}`],
    ["Model", margin.model_version],
  ];
  for (const [face, mm] of Object.entries(margin.faces || {})) rows.push([`Face ${faceName(face)}`, fmt(mm, 2, " mm"), `page-face-${face}`]);
  for (const [key, value, testid] of rows) {
    const dt = el("dt", {}, key);
    if (testid) dt.dataset.testid = testid;
    dl.append(dt);
    const dd = el("dd", {}, String(value));
    if (key === "Margin status") dd.dataset.testid = "margin-status";
    dl.append(dd);
  }
  tableBox.append(dl);
  if (exports && exports.dicom_seg) {
    const p = el("p");
    p.append(el("a", { href: exports.dicom_seg }, "Download DICOM SEG"), " · ", el("a", { href: exports.nifti }, "NIfTI"));
    tableBox.append(p);
  }
}

async function refresh() {
  const response = await fetch(config.apiBase, { headers: { Accept: "application/json" } });
  if (!response.ok) return null;
  const detail = await response.json();
  faceNames = detail.face_names || faceNames;
  renderRun(detail.model);
  renderMargin(detail.margin, detail.exports);
  return detail;
}

async function poll() {
  const detail = await refresh();
  const active = detail && detail.model && ["queued", "running"].includes(detail.model.status);
  if (active) setTimeout(poll, 1500);
  else if (detail && detail.model && detail.model.status === "done" && window.petctViewer && window.petctViewer.reloadModel) {
    window.petctViewer.reloadModel();
  }
}

const button = document.getElementById("request-inference");
if (button) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    const response = await fetch(`${config.apiBase}inference/`, {
      method: "POST", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: "{}",
    });
    if (!response.ok) statusBox.append(el("p", { className: "error" }, (await response.json()).detail));
    button.disabled = false;
    poll();
  });
}

const initial = JSON.parse(document.getElementById("case-detail").textContent);
faceNames = initial.face_names || {};
document.addEventListener("petct:facenames", (e) => {
  faceNames = e.detail || {};
  renderMargin(lastMargin, lastExports);
});
renderRun(initial.model);
renderMargin(initial.margin, initial.exports);
if (initial.model && ["queued", "running"].includes(initial.model.status)) poll();
