/**
 * The margin call form: status (positive / close / negative), confidence 1-5, optional
 * per-face calls, comment, the visible time on case, submission (POST reads/) and
 * amendment (POST reads/<id>/amend/), with the server's message on 400 / 409.
 */

import { h, formatDuration } from "./dom.mjs";
import { VisibleTimer } from "./timer.mjs";

export const FACES = Object.freeze(["+x", "-x", "+y", "-y", "+z", "-z"]);
export const STATUSES = Object.freeze(["positive", "close", "negative"]);

/** Request body from the form's values; throws Error with a reader-facing message when incomplete. */
export function buildCallBody({ status, confidence, faceCalls = {}, comment = "", seconds = 0, segmentationId = null }) {
  if (!STATUSES.includes(status)) throw new Error("Choose a margin status: positive, close or negative.");
  const c = Number(confidence);
  if (!(c >= 1 && c <= 5)) throw new Error("Choose your confidence from 1 to 5.");
  const face_calls = {};
  for (const face of FACES) if (STATUSES.includes(faceCalls[face])) face_calls[face] = faceCalls[face];
  const body = { status, confidence: c, comment: comment.trim(), time_spent_s: Math.round(seconds * 10) / 10, segmentation_id: segmentationId ?? null };
  if (Object.keys(face_calls).length) body.face_calls = face_calls;
  return body;
}

/**
 * Build the form. Options: api, readContext ({readId}), thresholdMm, beforeSubmit (async,
 * resolves to the segmentation id to link, e.g. after saving unsaved edits), onStatus(text).
 */
export function createCallForm({ api, readContext = {}, thresholdMm = 1, beforeSubmit = async () => null, onStatus = () => {} }) {
  const timer = new VisibleTimer().bindTo(document);
  let readId = readContext.readId ?? null;
  let submitted = readId !== null;
  let busy = false;

  const radio = (name, value, text, testid, hint) =>
    h("label", { class: "pv-choice", title: hint || "" }, h("input", { type: "radio", name, value, testid }), h("span", {}, text));

  const statusGroup = h(
    "fieldset",
    { class: "pv-fieldset" },
    h("legend", {}, "Margin status"),
    h(
      "div",
      { class: "pv-choices pv-choices--status" },
      radio("pv-status", "positive", "Positive", "call-positive", "Tumour at the inked surface"),
      radio("pv-status", "close", `Close (< ${thresholdMm} mm)`, "call-close", `Tumour within ${thresholdMm} mm of the surface`),
      radio("pv-status", "negative", "Negative", "call-negative", `Tumour ${thresholdMm} mm or more from the surface`),
    ),
  );
  const confidenceGroup = h(
    "fieldset",
    { class: "pv-fieldset" },
    h("legend", {}, "Confidence ", h("span", { class: "pv-muted" }, "(1 unsure – 5 certain)")),
    h("div", { class: "pv-choices pv-choices--confidence" }, [1, 2, 3, 4, 5].map((n) => radio("pv-confidence", String(n), String(n), `confidence-${n}`))),
  );
  const faceSelects = {};
  const faceLabels = {};
  const faceTable = h(
    "div",
    { class: "pv-faces" },
    FACES.map((face) => {
      const select = h(
        "select",
        { testid: `face-${face}`, "aria-label": `Face ${face}` },
        h("option", { value: "" }, "–"),
        STATUSES.map((s) => h("option", { value: s }, s)),
      );
      faceSelects[face] = select;
      faceLabels[face] = h("span", { testid: `face-name-${face}` }, face);
      return h("label", { class: "pv-face" }, faceLabels[face], select);
    }),
  );
  const faces = h("details", { class: "pv-details", testid: "face-calls" }, h("summary", {}, "Per-face calls (optional)"), faceTable);
  const comment = h("textarea", { testid: "call-comment", rows: 3, placeholder: "Comment (optional)", "aria-label": "Comment" });
  const clock = h("span", { testid: "time-on-case", class: "pv-clock" }, "0:00");
  const submit = h("button", { type: "submit", class: "pv-btn pv-btn--primary", testid: "submit-call" }, "Submit call");
  const message = h("div", { class: "pv-message", testid: "call-message", role: "status", "aria-live": "polite" });

  const form = h(
    "form",
    { class: "pv-card pv-callform", testid: "call-form", novalidate: true },
    h("div", { class: "pv-card__head" }, h("h2", {}, "Margin call"), h("span", { class: "pv-muted", title: "Time on this case while the tab is visible" }, "Time ", clock)),
    statusGroup,
    confidenceGroup,
    faces,
    comment,
    h("div", { class: "pv-row" }, submit),
    message,
  );

  const setMessage = (text, kind = "info") => {
    message.textContent = text;
    message.dataset.kind = kind;
  };
  const refresh = () => {
    submit.textContent = submitted ? "Submit amendment" : "Submit call";
    form.dataset.state = submitted ? "submitted" : "open";
    submit.disabled = busy;
  };
  if (submitted) setMessage("You have already submitted a call for this case; submitting again amends it.", "info");
  refresh();

  const tick = () => (clock.textContent = formatDuration(timer.seconds));
  tick();
  setInterval(tick, 1000);

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (busy) return;
    const value = (name) => form.querySelector(`input[name="${name}"]:checked`)?.value;
    let body;
    try {
      body = buildCallBody({
        status: value("pv-status"),
        confidence: value("pv-confidence"),
        faceCalls: Object.fromEntries(FACES.map((f) => [f, faceSelects[f].value])),
        comment: comment.value,
        seconds: timer.seconds,
      });
    } catch (err) {
      setMessage(err.message, "error");
      return;
    }
    busy = true;
    refresh();
    setMessage("Submitting…", "info");
    try {
      body.segmentation_id = await beforeSubmit();
      if (readContext.unitId !== null && readContext.unitId !== undefined) body.unit = readContext.unitId; // lamella
      const res = submitted && readId !== null ? await api.amendRead(readId, body) : await api.submitRead(body);
      readId = res?.id ?? readId;
      submitted = true;
      const when = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
      setMessage(`Call recorded (${body.status}, confidence ${body.confidence}) at ${when}.`, "success");
      onStatus(`Margin call submitted: ${body.status}`);
    } catch (err) {
      if (err.status === 409) {
        const id = err.body?.read_id ?? err.body?.id ?? null;
        if (id !== null) readId = id;
        submitted = readId !== null;
        setMessage(`Already submitted: ${err.detail || "a call for this case exists"}.${submitted ? " Submit again to amend it." : ""}`, "error");
      } else if (err.status === 400) {
        setMessage(`Not accepted: ${err.detail || "invalid call"}`, "error");
      } else {
        setMessage(`Could not submit the call: ${err.message}`, "error");
      }
    } finally {
      busy = false;
      refresh();
    }
  });

  /** Anatomical face names from the specimen orientation ({"+z": "superior", ...}); the call keeps scanner labels. */
  const setFaceNames = (names = {}) => {
    for (const [face, span] of Object.entries(faceLabels)) span.textContent = faceLabel(face, names);
  };
  return { element: form, timer, setFaceNames };
}

/** "Superior (+z)" where the orientation names the face, else "+z". */
export function faceLabel(face, names = {}) {
  const name = names?.[face];
  return name && name !== face ? `${name[0].toUpperCase()}${name.slice(1)} (${face})` : face;
}
