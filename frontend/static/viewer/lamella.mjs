/**
 * Lamella reading units: open the unit's axial slice first and, unless the study allows context,
 * keep the axial view on it (the reader calls that image, as the published reader study did).
 */

/** Apply the read context's lamella (sliceIndex, allowContext) to the viewer; returns a caption or null. */
export function applyLamella(viewer, rc, axialSlider) {
  if (rc?.sliceIndex === null || rc?.sliceIndex === undefined) return null;
  const k = rc.sliceIndex;
  viewer.setSlice("axial", k);
  if (!rc.allowContext) {
    const setCursor = viewer.setCursor.bind(viewer);
    viewer.setCursor = (kji) => setCursor([k, kji[1], kji[2]]);
    if (axialSlider) axialSlider.disabled = true;
  }
  return `Lamella ${rc.unitLabel ?? ""}: axial slice ${k + 1}${rc.allowContext ? "" : " (this slice only)"}`;
}
