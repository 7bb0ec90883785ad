// Upload page: collect dropped folders/files/zips and send them as one resumable, chunked upload.
// The server stores the bytes by offset (/api/uploads/); a dropped connection resumes from the
// server's offset instead of starting again. After "complete" the ingest runs in a worker and the
// page polls the upload's state (checking, de-identifying, resampling, queued, segmenting, done), one upload
// at a time: files chosen while one is being sent wait, a newer upload takes over from an older one's polling.
// An optional specimen orientation is checked before any byte is sent and posted to the orientation
// API once the case exists (the server decides whether it is valid and who may record it).

import { retryDelayMs, sliceFiles } from "./upload_chunks.mjs";
import { orientationBody, orientationProblem, orientationTarget } from "./upload_orientation.mjs";
import { FINAL_STATES, finalStatus, stateText } from "./upload_state.mjs";

const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
const statusLine = document.getElementById("upload-status");
const bar = document.getElementById("upload-progress");
const stateLine = document.getElementById("upload-state");
const results = document.getElementById("upload-results");
const zone = document.getElementById("dropzone");
const conventionSelect = document.getElementById("orientation-convention");
const orientationLine = document.getElementById("upload-orientation-state");
const CHUNK_BYTES = Number(zone.dataset.chunkBytes) || 8 * 1024 * 1024;
const RETRIES = 8;
const POLL_MS = 1000;

async function filesFromEntry(entry, out) {
  if (entry.isFile) {
    out.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await filesFromEntry(child, out);
    }
  }
}

async function filesFromDrop(event) {
  const items = [...(event.dataTransfer.items || [])];
  const out = [];
  const entries = items.map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
  if (entries.length) {
    for (const entry of entries) await filesFromEntry(entry, out);
    return out;
  }
  return [...event.dataTransfer.files];
}

function say(text, kind = "") {
  statusLine.textContent = text;
  statusLine.className = `status ${kind}`.trim();
}

async function api(method, url, body) {
  const response = await fetch(url, {
    method,
    headers: { "X-CSRFToken": csrf, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    credentials: "same-origin",
  });
  let data = {};
  try { data = await response.json(); } catch { data = {}; }
  return { response, data };
}

// One chunk by XHR (fetch cannot report upload progress); resolves with the server's offset.
function sendChunk(url, offset, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open("PATCH", url);
    request.setRequestHeader("X-CSRFToken", csrf);
    request.setRequestHeader("Upload-Offset", String(offset));
    request.setRequestHeader("Content-Type", "application/offset+octet-stream");
    request.upload.onprogress = (event) => onProgress(offset + event.loaded);
    request.onload = () => {
      let body = {};
      try { body = JSON.parse(request.responseText); } catch { body = {}; }
      if (request.status === 200) resolve(body.offset);
      else if (request.status >= 500 || request.status === 0 || body.code === "offset_mismatch"
               || body.code === "incomplete_chunk" || body.code === "busy") {
        reject(Object.assign(new Error(body.detail || `HTTP ${request.status}`), { retry: true }));
      } else reject(Object.assign(new Error(body.detail || `HTTP ${request.status}`), { retry: false }));
    };
    request.onerror = () => reject(Object.assign(new Error("connection lost"), { retry: true }));
    request.send(blob);
  });
}

async function serverOffset(url) {
  const response = await fetch(url, { method: "HEAD", credentials: "same-origin", cache: "no-store" });
  if (!response.ok) throw Object.assign(new Error(`the upload is gone (HTTP ${response.status})`), { retry: false });
  return Number(response.headers.get("Upload-Offset"));
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function sendAll(session, files) {
  const total = session.total_bytes;
  let offset = session.offset;
  let failures = 0;
  const show = (done) => {
    bar.value = total ? (100 * done) / total : 100;
    say(`Uploading ${files.length} file(s): ${(done / 1e6).toFixed(1)} of ${(total / 1e6).toFixed(1)} MB…`);
  };
  show(offset);
  while (offset < total) {
    try {
      offset = await sendChunk(session.url, offset, sliceFiles(files, offset, Math.min(total, offset + CHUNK_BYTES)),
                               show);
      failures = 0;
      show(offset);
    } catch (error) {
      if (!error.retry || ++failures > RETRIES) throw error;
      say(`Connection interrupted; resuming (try ${failures} of ${RETRIES})…`, "warning");
      await sleep(retryDelayMs(failures));
      offset = await serverOffset(session.url).catch((lost) => {
        if (lost.retry === false) throw lost;
        return offset;
      });
      bar.dataset.resumedFrom = String(offset);
    }
  }
}

function showCase(code, url) {
  if (results.querySelector(`[data-code="${code}"]`)) return;
  const li = document.createElement("li");
  const link = document.createElement("a");
  link.href = url;
  link.textContent = code;
  link.dataset.testid = "uploaded-case";
  link.dataset.code = code;
  li.append(link);
  results.append(li);
}

function chosenOrientation() {
  const convention = conventionSelect.value;
  const group = document.querySelector(`.orientation-group[data-convention="${CSS.escape(convention)}"]`);
  const chosen = Object.fromEntries([...group.querySelectorAll("select[data-key]")].map((s) => [s.dataset.key, s.value]));
  return orientationBody(convention, chosen);
}

function showOrientationGroup() {
  for (const group of document.querySelectorAll(".orientation-group")) {
    group.hidden = group.dataset.convention !== conventionSelect.value;
  }
}

function sayOrientation(text, kind) {
  orientationLine.hidden = false;
  orientationLine.textContent = text;
  orientationLine.className = `status ${kind}`.trim();
  orientationLine.dataset.kind = kind;
}

async function recordOrientation(body, cases) {
  const target = orientationTarget(body, cases);
  if (target.action === "none") return;
  if (target.action === "skip") { sayOrientation(target.reason, "warning"); return; }
  const { response, data } = await api("POST", `/api/cases/${encodeURIComponent(target.code)}/orientation/`, body);
  if (response.status === 201) {
    sayOrientation(`Orientation version ${data.version} recorded on ${target.code}.`, "ok");
  } else {
    const reason = data.detail || (typeof data === "object" ? JSON.stringify(data) : `HTTP ${response.status}`);
    sayOrientation(`Orientation not recorded on ${target.code}: ${reason}. Record it in the case's viewer.`, "error");
  }
}

// Every byte is on the server: ask for the import, again after a lost connection (twice is harmless).
async function completeUpload(session) {
  for (let failures = 1; ; failures++) {
    let answer = null;
    try { answer = await api("POST", session.complete_url); } catch { answer = null; }
    if (answer && answer.response.status === 202) return;
    if (answer && answer.response.status < 500) throw new Error(answer.data.detail || `HTTP ${answer.response.status}`);
    if (failures > RETRIES) throw new Error("the server could not be reached to start the import");
    say(`Connection interrupted; asking again for the import (try ${failures} of ${RETRIES})…`, "warning");
    await sleep(retryDelayMs(failures));
  }
}

// The upload being sent or followed; a newer one takes over the status lines from an older one's follower.
let current = 0;
let sending = false;

// Polls the upload's state until it is final. The import goes on in a worker whatever happens to this
// page's connection, so a lost connection or a server error only delays the next look.
async function followState(session, generation) {
  let failures = 0;
  while (generation === current) {
    let answer = null;
    try { answer = await api("GET", session.url); } catch { answer = null; }
    if (generation !== current) return null;
    if (!answer || answer.response.status >= 500) {
      say(`Connection interrupted while following the import; trying again (the import goes on)…`, "warning");
      await sleep(retryDelayMs(++failures));
      continue;
    }
    const { response, data } = answer;
    if (!response.ok) { say(`Could not read the upload's state: ${data.detail || response.status}`, "error"); return null; }
    failures = 0;
    stateLine.hidden = false;
    stateLine.dataset.state = data.state;
    stateLine.textContent = stateText(data.state, data.message);
    stateLine.className = data.state === "failed" ? "status error" : "status";
    if (data.case) showCase(data.case, data.case_url);
    if (FINAL_STATES.has(data.state)) {
      const { text, kind } = finalStatus(data);
      say(text, kind);
      return data.state === "failed" ? null : data;
    }
    say(data.state === "queued" || data.state === "segmenting" ? "Imported; the model is running…" : "Upload complete; importing…");
    await sleep(POLL_MS);
  }
  return null;
}

async function upload(files) {
  files = files.filter((file) => file.size > 0);
  if (!files.length) return;
  if (sending) { say("An upload is still being sent; choose the next one when it has arrived.", "warning"); return; }
  const orientation = chosenOrientation();
  const problem = orientationProblem(orientation);
  orientationLine.hidden = true;
  if (problem) { say(`Specimen orientation: ${problem}.`, "error"); return; }
  const generation = ++current;
  sending = true;
  bar.hidden = false;
  bar.value = 0;
  stateLine.hidden = true;
  delete stateLine.dataset.state;
  say(`Preparing ${files.length} file(s)…`);
  try {
    const created = await api("POST", "/api/uploads/", { files: files.map((f) => ({ name: f.name, size: f.size })) });
    if (created.response.status !== 201) throw new Error(created.data.detail || `HTTP ${created.response.status}`);
    const session = created.data;
    zone.dataset.session = session.id;
    await sendAll(session, files);
    bar.value = 100;
    say("Upload complete; importing…");
    await completeUpload(session);
    sending = false;
    const finished = await followState(session, generation);
    if (finished) await recordOrientation(orientation, finished.cases || []);
  } catch (error) {
    if (generation === current) say(`Upload refused: ${error.message}`, "error");
  } finally {
    if (generation === current) sending = false;
  }
}

conventionSelect.addEventListener("change", showOrientationGroup);
zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", async (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  upload(await filesFromDrop(event));
});
for (const id of ["file-input", "folder-input"]) {
  document.getElementById(id).addEventListener("change", (event) => {
    const files = [...event.target.files];
    event.target.value = ""; // the same files chosen again (after a failure) must start a new upload
    upload(files);
  });
}
