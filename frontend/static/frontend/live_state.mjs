// Live states by polling: each [data-live-state] element shows the JSON state at its data-url
// (a case's /state/ endpoint); the #ingests list shows uploads and received DICOM studies that are
// not cases yet (/api/ingests/). Polls fast while something is moving, slowly once all is settled.

const SETTLED = new Set(["done", "failed", "imported", "duplicate", "incomplete"]);
const FAST_MS = 1500;
const SLOW_MS = 10000;

async function getJson(url) {
  const response = await fetch(url, { credentials: "same-origin", cache: "no-store" });
  return response.ok ? response.json() : null;
}

function render(element, state) {
  element.dataset.state = state.state;
  element.className = `pill ${state.state}`;
  const progress = state.progress != null && state.state === "segmenting" ? ` ${Math.round(state.progress)}%` : "";
  element.textContent = state.state + progress;
  element.title = state.message || "";
}

function renderIngests(list, items) {
  list.replaceChildren(...items.map((item) => {
    const li = document.createElement("li");
    li.dataset.testid = "ingest";
    const label = item.kind === "upload" ? `Upload of ${item.file_count} file(s)` : `DICOM from ${item.calling_ae || "?"}`;
    const pill = document.createElement("span");
    render(pill, item);
    li.append(`${label}: `, pill);
    if (item.message) li.append(` ${item.message}`);
    if (item.case) {
      const link = document.createElement("a");
      link.href = item.case_url;
      link.textContent = ` ${item.case}`;
      li.append(link);
    }
    return li;
  }));
  list.closest("section").hidden = items.length === 0;
}

async function poll() {
  let moving = false;
  for (const element of document.querySelectorAll("[data-live-state]")) {
    if (SETTLED.has(element.dataset.state)) continue; // only what is still moving is asked again
    const state = await getJson(element.dataset.url).catch(() => null);
    if (!state) continue;
    render(element, state);
    moving ||= !SETTLED.has(state.state);
  }
  const ingests = document.getElementById("ingests");
  if (ingests) {
    const body = await getJson(ingests.dataset.url).catch(() => null);
    if (body) {
      renderIngests(ingests, body.results);
      moving ||= body.results.some((item) => !SETTLED.has(item.state));
    }
  }
  setTimeout(poll, moving ? FAST_MS : SLOW_MS);
}

poll();
