// The specimen orientation chosen on the upload page, as the body of POST /api/cases/<code>/orientation/
// (free of the page, unit-tested in node). The server checks it fully; this only catches, before any
// byte is sent, a choice that can never be valid: two directions on one scanner axis.

// {key: face} of the choices made (empty selects dropped) -> the API body, or null when nothing was chosen.
export function orientationBody(convention, chosen) {
  const picked = Object.fromEntries(Object.entries(chosen).filter(([, face]) => face));
  if (!Object.keys(picked).length) return null;
  return convention ? { convention, markers: picked } : { directions: picked };
}

// A reason the body cannot be recorded, or null.
export function orientationProblem(body) {
  if (!body) return null;
  const chosen = body.directions || body.markers;
  const byAxis = new Map();
  for (const [key, face] of Object.entries(chosen)) {
    const axis = face.slice(1);
    if (byAxis.has(axis)) return `${byAxis.get(axis)} and ${key} both point along the scanner's ${axis} axis; choose different axes`;
    byAxis.set(axis, key);
  }
  return null;
}

// What to do with the orientation once the upload's import has finished.
export function orientationTarget(body, cases) {
  if (!body) return { action: "none" };
  if (cases.length === 1) return { action: "record", code: cases[0] };
  return { action: "skip", reason: cases.length
    ? `Orientation not recorded: the upload held ${cases.length} specimens; record it on each case's viewer.`
    : "Orientation not recorded: no case was imported." };
}
