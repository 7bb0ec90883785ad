/**
 * Ellipse ROI statistics on one plane: SUVmax, SUVmean, SUVpeak and the area.
 * Pure module: works on any object with {grid, specs, volumes, suvFactor} (tests/frontend/roi.test.mjs).
 *
 * SUVpeak approximation (documented): the mean over a 1 cm³ sphere (radius 6.2 mm) centred on the
 * ROI's hottest voxel, over every voxel whose centre lies in the sphere (PERCIST searches the
 * hottest 1 cm³ position; centring on the maximum is the usual, slightly lower, approximation).
 */

export const PEAK_RADIUS_MM = Math.cbrt(3 / (4 * Math.PI)) * 10; // 1 cm³ sphere: 6.20 mm

/** Voxels [k, j, i] of the ellipse inscribed in the box of image points a, b on `spec`'s `slice`. */
export function ellipseVoxels(spec, slice, a, b) {
  const cu = (a.u + b.u) / 2;
  const cv = (a.v + b.v) / 2;
  const ru = Math.abs(a.u - b.u) / 2;
  const rv = Math.abs(a.v - b.v) / 2;
  const out = [];
  if (!(ru > 0 && rv > 0)) return out;
  const c0 = Math.max(0, Math.floor(cu - ru));
  const c1 = Math.min(spec.width - 1, Math.ceil(cu + ru));
  const r0 = Math.max(0, Math.floor(cv - rv));
  const r1 = Math.min(spec.height - 1, Math.ceil(cv + rv));
  for (let r = r0; r <= r1; r++) {
    const dv = (r + 0.5 - cv) / rv;
    for (let c = c0; c <= c1; c++) {
      const du = (c + 0.5 - cu) / ru;
      if (du * du + dv * dv <= 1) out.push(spec.toKji(slice, r, c));
    }
  }
  return out;
}

/** Mean of `values` over voxels whose centres lie within `radiusMm` of voxel `kji`. */
export function sphereMean(values, shape, spacing, kji, radiusMm, scale = 1) {
  const [nz, ny, nx] = shape;
  const reach = spacing.map((s) => Math.floor(radiusMm / s));
  let sum = 0;
  let n = 0;
  for (let dk = -reach[0]; dk <= reach[0]; dk++) {
    const k = kji[0] + dk;
    if (k < 0 || k >= nz) continue;
    for (let dj = -reach[1]; dj <= reach[1]; dj++) {
      const j = kji[1] + dj;
      if (j < 0 || j >= ny) continue;
      for (let di = -reach[2]; di <= reach[2]; di++) {
        const i = kji[2] + di;
        if (i < 0 || i >= nx) continue;
        const d2 = (dk * spacing[0]) ** 2 + (dj * spacing[1]) ** 2 + (di * spacing[2]) ** 2;
        if (d2 > radiusMm * radiusMm) continue;
        sum += values[(k * ny + j) * nx + i];
        n++;
      }
    }
  }
  return n ? (sum / n) * scale : null;
}

/** {n, areaMm2, units, max, mean, peak, maxKji, huMean} of the ellipse ROI `r` ({view, slice, a, b}). */
export function ellipseStats(v, r) {
  const spec = v.specs[r.view];
  const voxels = ellipseVoxels(spec, r.slice, r.a, r.b);
  const { shape, spacing } = v.grid;
  const [, ny, nx] = shape;
  const pet = v.volumes.pet;
  const ct = v.volumes.ct;
  const scale = v.suvFactor || 1;
  let max = -Infinity;
  let maxKji = null;
  let sum = 0;
  let huSum = 0;
  for (const kji of voxels) {
    const idx = (kji[0] * ny + kji[1]) * nx + kji[2];
    if (ct) huSum += ct[idx];
    if (!pet) continue;
    const value = pet[idx];
    sum += value;
    if (value > max) {
      max = value;
      maxKji = kji;
    }
  }
  const n = voxels.length;
  return {
    n,
    areaMm2: n * spec.colSpacing * spec.rowSpacing,
    units: v.suvFactor ? "SUV" : "Bq/ml",
    max: pet && n ? max * scale : null,
    mean: pet && n ? (sum / n) * scale : null,
    peak: pet && maxKji ? sphereMean(pet, shape, spacing, maxKji, PEAK_RADIUS_MM, scale) : null,
    maxKji,
    huMean: ct && n ? huSum / n : null,
  };
}

/** A PET value for labels: SUV with 2 decimals; Bq/ml with 3 significant digits below 100. */
export function formatPet(x, units) {
  if (x === null || x === undefined || !Number.isFinite(x)) return "–";
  if (units === "SUV") return x.toFixed(2);
  return Math.abs(x) >= 100 ? Math.round(x).toLocaleString() : String(Number(x.toPrecision(3)));
}
