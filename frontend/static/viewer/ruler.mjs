/**
 * Distances in millimetres for the ruler tool and the margin read-out.
 * Pure module: no DOM.
 */

/** Euclidean distance in mm between two (fractional) voxel positions [k, j, i], spacing [sz, sy, sx]. */
export function distanceMm(a, b, spacing) {
  const dk = (a[0] - b[0]) * spacing[0];
  const dj = (a[1] - b[1]) * spacing[1];
  const di = (a[2] - b[2]) * spacing[2];
  return Math.sqrt(dk * dk + dj * dj + di * di);
}

/**
 * Distance in mm between two points of one display plane given in image coordinates
 * {u, v} (columns, rows) and the plane's column and row spacing in mm.
 */
export function planeDistanceMm(p, q, colSpacing, rowSpacing) {
  const du = (p.u - q.u) * colSpacing;
  const dv = (p.v - q.v) * rowSpacing;
  return Math.sqrt(du * du + dv * dv);
}

/** Human text for a distance: two decimals below 10 mm, one decimal above. */
export function formatMm(mm) {
  if (!Number.isFinite(mm)) return "–";
  return `${mm < 10 ? mm.toFixed(2) : mm.toFixed(1)} mm`;
}
