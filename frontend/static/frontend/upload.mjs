// Upload page: collect dropped folders/files/zips and POST them with a progress bar.

const csrf = document.querySelector("input[name=csrfmiddlewaretoken]").value;
const statusLine = document.getElementById("upload-status");
const bar = document.getElementById("upload-progress");
const results = document.getElementById("upload-results");

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

function upload(files) {
  if (!files.length) return;
  const form = new FormData();
  for (const file of files) form.append("files", file, file.name);
  const request = new XMLHttpRequest();
  request.open("POST", "/api/cases/upload/");
  request.setRequestHeader("X-CSRFToken", csrf);
  bar.hidden = false;
  bar.value = 0;
  statusLine.textContent = `Uploading ${files.length} file(s)…`;
  request.upload.onprogress = (event) => {
    if (event.lengthComputable) bar.value = (100 * event.loaded) / event.total;
    if (event.loaded === event.total) statusLine.textContent = "Importing: reading DICOM, de-identifying, resampling…";
  };
  request.onload = () => {
    let body = {};
    try { body = JSON.parse(request.responseText); } catch { body = { detail: request.responseText.slice(0, 300) }; }
    if (request.status === 201) {
      statusLine.textContent = `Imported ${body.cases.length} case(s).`;
      statusLine.className = "status ok";
      for (const item of body.cases) {
        const li = document.createElement("li");
        const link = document.createElement("a");
        link.href = `/cases/${item.code}/`;
        link.textContent = item.code;
        link.dataset.testid = "uploaded-case";
        li.append(link);
        results.append(li);
      }
    } else {
      statusLine.textContent = `Upload refused (${request.status}): ${body.detail || "unknown error"}`;
      statusLine.className = "status error";
    }
  };
  request.onerror = () => {
    statusLine.textContent = "Upload failed: the server could not be reached.";
    statusLine.className = "status error";
  };
  request.send(form);
}

const zone = document.getElementById("dropzone");
zone.addEventListener("dragover", (event) => { event.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", async (event) => {
  event.preventDefault();
  zone.classList.remove("over");
  upload(await filesFromDrop(event));
});
for (const id of ["file-input", "folder-input"]) {
  document.getElementById(id).addEventListener("change", (event) => upload([...event.target.files]));
}
