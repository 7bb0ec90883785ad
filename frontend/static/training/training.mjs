// Training page: request "retrain with the current ground truth" and follow the jobs' progress.
// The server renders the first view; this module posts the form and re-renders from the API while a
// job is queued or running.

const config = JSON.parse(document.getElementById("training-config").textContent);
const form = document.querySelector("[data-testid=training-form]");
const errorBox = document.querySelector("[data-testid=training-error]");
const submit = document.querySelector("[data-testid=training-submit]");
const tbody = document.querySelector("[data-slot=jobs]");
const csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
const ACTIVE = ["queued", "running"];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "testid") node.dataset.testid = value;
    else if (key === "className") node.className = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

const fmtDate = (iso) => (iso ? iso.slice(0, 16) : "");

function jobRow(job, modelsUrl) {
  const active = ACTIVE.includes(job.status);
  const progress = el("td");
  if (active) {
    progress.append(el("progress", { max: 100, value: job.progress, testid: "training-progress" }), ` ${Math.round(job.progress)}%`);
  }
  progress.append(el("div", { className: job.status === "failed" ? "error" : "muted", testid: "training-job-message" }, job.message || ""));
  const p = job.parameters || {};
  const model = el("td");
  if (job.model_version) {
    model.append(el("a", { href: modelsUrl, testid: "training-job-model" }, job.model_version.label));
    if (job.model_version.is_default) model.append(" ", el("span", { className: "pill" }, "default"));
    const dice = job.metrics && job.metrics.cv_dice_mean;
    if (dice !== null && dice !== undefined) model.append(el("div", { className: "muted" }, `CV Dice ${Number(dice).toFixed(3)}`));
    const substantial = job.metrics && job.metrics.cv_substantial_slices;
    if (substantial && substantial.dice_mean !== null) {
      model.append(el("div", { className: "muted", testid: "training-job-dice-substantial" },
        `${Number(substantial.dice_mean).toFixed(3)} on slices with ≥ ${substantial.min_tumour_area_mm2} mm² tumour`));
    }
  } else {
    model.append(el("span", { className: "muted" }, "—"));
  }
  const row = el(
    "tr",
    { testid: "training-job", "data-job-id": job.id, "data-status": job.status },
    el("td", {}, `#${job.id}`),
    el("td", {}, el("span", { className: `pill ${job.status}`, testid: "training-job-status" }, job.status)),
    progress,
    el("td", {}, `${p.folds} folds · ${p.epochs} epochs · seed ${p.seed}${p.make_default ? " · default" : ""}`),
    el("td", {}, `${job.case_count} cases · ${job.patient_count} patients`),
    model,
    el("td", {}, job.requested_by || "—", el("div", { className: "muted" }, fmtDate(job.created_at))),
  );
  return row;
}

function render(overview) {
  const rows = overview.results.map((job) => jobRow(job, config.modelsUrl));
  if (!rows.length) rows.push(el("tr", { testid: "training-no-jobs" }, el("td", { colspan: 7, className: "muted" }, "No training jobs yet.")));
  tbody.replaceChildren(...rows);
  const eligible = overview.eligible || {};
  for (const [testid, value] of [["eligible-cases", eligible.cases], ["eligible-patients", eligible.patients]]) {
    const node = document.querySelector(`[data-testid=${testid}]`);
    if (node && value !== undefined) node.textContent = String(value);
  }
  submit.disabled = overview.active !== null && overview.active !== undefined;
}

let timer = null;

async function refresh() {
  const response = await fetch(config.apiUrl, { headers: { Accept: "application/json" } });
  if (!response.ok) return null;
  const overview = await response.json();
  render(overview);
  return overview;
}

async function poll() {
  clearTimeout(timer);
  let overview = null;
  try {
    overview = await refresh();
  } catch {
    overview = null; // network hiccup: try again later
  }
  if (!overview || overview.active !== null) timer = setTimeout(poll, config.pollSeconds * 1000);
}

function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = !message;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  showError("");
  submit.disabled = true;
  const data = new FormData(form);
  const body = {
    folds: Number(data.get("folds")),
    epochs: Number(data.get("epochs")),
    seed: Number(data.get("seed")),
    make_default: data.get("make_default") === "on",
  };
  try {
    const response = await fetch(config.apiUrl, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      const detail = await response.json().catch(() => ({}));
      showError(detail.detail || `the request failed (${response.status})`);
    }
  } catch (error) {
    showError(`the request failed: ${error.message}`);
  }
  poll();
});

if (document.querySelector("[data-testid=training-job][data-status=queued], [data-testid=training-job][data-status=running]")) poll();
