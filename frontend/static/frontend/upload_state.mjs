// The upload page's words for an upload's live state (portal/ingest_state.py), free of the page (unit-tested in node).

// After these nothing changes any more for the upload (the case's later runs show on its own page).
export const FINAL_STATES = new Set(["done", "failed", "imported", "duplicate"]);

// "failed: <reason>", "checking: checking the files"; a message that only repeats the state is left out.
export function stateText(state, message) {
  return message && message !== state ? `${state}: ${message}` : state;
}

// The status line once the state is final: the import's failure, the model's failure on an imported case,
// or what was imported.
export function finalStatus({ state, message, case: code, cases }) {
  if (state === "failed" && code) return { text: `Case ${code} was imported, but the model run failed: ${message}`, kind: "error" };
  if (state === "failed") return { text: `Import failed: ${message}`, kind: "error" };
  return { text: `Imported ${(cases || []).length} case(s).`, kind: "ok" };
}
