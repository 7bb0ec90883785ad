/**
 * Synthetic breast-specimen micro-PET-CT volumes for the viewer harness (not a physics
 * simulation: just plausible structure). Produces, on one grid:
 *   ct (int16 HU): air, fat with fibroglandular streaks, an irregular tumour near the
 *     +x surface, a holder plate under the specimen and a metal clip, with noise;
 *   pet (float32 Bq/ml): tumour >> gland > fat, blurred about 1 mm, with noise;
 *   specimen, ground truth, model mask (uint8), uncertainty (float32 0..1);
 *   a margin result computed from the ground truth and the specimen surface.
 */

const SUV_FACTOR = 1 / 5000; // SUV per Bq/ml

function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function boxBlurAxis(src, shape, axis, radius) {
  const [nz, ny, nx] = shape;
  const out = new Float32Array(src.length);
  const stride = axis === 0 ? ny * nx : axis === 1 ? nx : 1;
  const len = shape[axis];
  const lines = [];
  for (let k = 0; k < (axis === 0 ? 1 : nz); k++)
    for (let j = 0; j < (axis === 1 ? 1 : ny); j++)
      for (let i = 0; i < (axis === 2 ? 1 : nx); i++) lines.push((k * ny + j) * nx + i);
  const w = 2 * radius + 1;
  for (const start of lines) {
    let acc = 0;
    for (let t = -radius; t <= radius; t++) acc += src[start + Math.min(len - 1, Math.max(0, t)) * stride];
    for (let p = 0; p < len; p++) {
      out[start + p * stride] = acc / w;
      const add = Math.min(len - 1, p + radius + 1);
      const sub = Math.max(0, p - radius);
      acc += src[start + add * stride] - src[start + sub * stride];
    }
  }
  return out;
}

export function generate({ shape = [96, 256, 256], spacing = [0.5, 0.25, 0.25], seed = 7 } = {}) {
  const [nz, ny, nx] = shape;
  const [sz, sy, sx] = spacing;
  const n = nz * ny * nx;
  const rand = rng(seed);
  const ct = new Int16Array(n);
  const pet = new Float32Array(n);
  const specimen = new Uint8Array(n);
  const gt = new Uint8Array(n);
  const model = new Uint8Array(n);
  const uncertainty = new Float32Array(n);
  // Physical extent and specimen ellipsoid (mm, relative to the grid centre).
  const cx = ((nx - 1) * sx) / 2;
  const cy = ((ny - 1) * sy) / 2;
  const cz = ((nz - 1) * sz) / 2;
  const rx = cx * 0.78;
  const ry = cy * 0.62;
  const rz = cz * 0.6;
  const plateZ = -rz - 1.2; // holder plate 1.2 mm below the specimen
  // Tumour: union of a few spheres near the +x surface.
  const base = Math.min(rx, ry, rz) * 0.33;
  const tumourCentre = [rx - base * 1.55, ry * 0.1, rz * 0.15];
  const lobes = [[0, 0, 0, base]];
  for (let m = 0; m < 5; m++) {
    const a = rand() * 2 * Math.PI;
    const b = (rand() - 0.5) * Math.PI;
    const d = base * (0.5 + 0.4 * rand());
    lobes.push([d * Math.cos(a) * Math.cos(b), d * Math.sin(a) * Math.cos(b), d * Math.sin(b), base * (0.45 + 0.3 * rand())]);
  }
  const tumourSigned = (x, y, z) => {
    let best = Infinity;
    for (const [ox, oy, oz, r] of lobes) {
      const d = Math.hypot(x - tumourCentre[0] - ox, y - tumourCentre[1] - oy, z - tumourCentre[2] - oz) - r;
      if (d < best) best = d;
    }
    return best;
  };
  const clip = [-rx * 0.4, -ry * 0.3, rz * 0.3];
  // Fibroglandular streaks: sum of a few sinusoids.
  const waves = Array.from({ length: 4 }, () => [rand() * 0.9 + 0.2, rand() * 0.9 + 0.2, rand() * 0.6 + 0.1, rand() * 6.28]);
  const activity = new Float32Array(n);
  let idx = 0;
  for (let k = 0; k < nz; k++) {
    const z = k * sz - cz;
    for (let j = 0; j < ny; j++) {
      const y = j * sy - cy;
      for (let i = 0; i < nx; i++, idx++) {
        const x = i * sx - cx;
        const bump = 1 + 0.05 * Math.sin(x * 0.35 + y * 0.2) * Math.cos(z * 0.4);
        const e = (x / rx) ** 2 + (y / ry) ** 2 + (z / rz) ** 2;
        let hu = -1000;
        let act = 0;
        if (e <= bump) {
          specimen[idx] = 1;
          let g = 0;
          for (const [a, b, c, p] of waves) g += Math.sin(a * x + b * y + c * z + p);
          const gland = g > 1.2;
          hu = gland ? 35 : -95;
          act = gland ? 1.6 : 0.5;
          const td = tumourSigned(x, y, z);
          if (td <= 0) {
            gt[idx] = 1;
            hu = 48;
            act = 8.5;
          } else if (td < 1.5) act = Math.max(act, 8.5 * (1 - td / 1.5) * 0.5);
          if (td <= 0.4 && !(td <= -0.6 && x > tumourCentre[0] + base * 0.9)) model[idx] = 1;
          if (Math.abs(td) < 1.2) uncertainty[idx] = 1 - Math.abs(td) / 1.2;
        }
        if (z < plateZ && z > plateZ - 1.5 && Math.abs(x) < cx * 0.95 && Math.abs(y) < cy * 0.95) hu = 260;
        if (Math.hypot(x - clip[0], y - clip[1]) < 0.45 && Math.abs(z - clip[2]) < 1.5) hu = 2400;
        ct[idx] = Math.round(hu + (rand() - 0.5) * 40);
        activity[idx] = act;
      }
    }
  }
  // PET: blur about 1 mm FWHM (two box passes per axis) and noise.
  let blurred = activity;
  for (let pass = 0; pass < 2; pass++) {
    blurred = boxBlurAxis(blurred, shape, 2, Math.max(1, Math.round(0.35 / sx)));
    blurred = boxBlurAxis(blurred, shape, 1, Math.max(1, Math.round(0.35 / sy)));
    blurred = boxBlurAxis(blurred, shape, 0, Math.max(1, Math.round(0.35 / sz)));
  }
  for (let m = 0; m < n; m++) {
    const suv = blurred[m] * (1 + (rand() - 0.5) * 0.3);
    pet[m] = Math.max(0, suv / SUV_FACTOR);
  }
  const margin = computeMargin({ shape, spacing, specimen, gt, centre: [cx, cy, cz], radii: [rx, ry, rz] });
  return { shape, spacing, ct, pet, specimen, gt, model, uncertainty, margin, suvFactor: SUV_FACTOR };
}

/** Closest distance (3D, mm) from ground-truth tumour boundary voxels to specimen surface voxels, overall and per face. */
function computeMargin({ shape, spacing, specimen, gt }) {
  const [nz, ny, nx] = shape;
  const [sz, sy, sx] = spacing;
  const inside = (vol) => (k, j, i) => (k < 0 || j < 0 || i < 0 || k >= nz || j >= ny || i >= nx ? 0 : vol[(k * ny + j) * nx + i]);
  const at = inside(specimen);
  const inT = inside(gt);
  const tumour = [];
  const surface = [];
  let kc = 0;
  let jc = 0;
  let ic = 0;
  let count = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const idx = (k * ny + j) * nx + i;
        if (!specimen[idx]) continue;
        kc += k;
        jc += j;
        ic += i;
        count++;
        const edge = !at(k - 1, j, i) || !at(k + 1, j, i) || !at(k, j - 1, i) || !at(k, j + 1, i) || !at(k, j, i - 1) || !at(k, j, i + 1);
        if (edge) surface.push([k, j, i]);
        if (gt[idx] && (!inT(k - 1, j, i) || !inT(k + 1, j, i) || !inT(k, j - 1, i) || !inT(k, j + 1, i) || !inT(k, j, i - 1) || !inT(k, j, i + 1))) tumour.push([k, j, i]);
      }
  kc /= count;
  jc /= count;
  ic /= count;
  const faceOf = ([k, j, i]) => {
    const d = [(i - ic) * sx, (j - jc) * sy, (k - kc) * sz];
    const ax = d.map(Math.abs);
    const a = ax.indexOf(Math.max(...ax));
    return (d[a] >= 0 ? "+" : "-") + "xyz"[a];
  };
  const faces = { "+x": Infinity, "-x": Infinity, "+y": Infinity, "-y": Infinity, "+z": Infinity, "-z": Infinity };
  let best = { d: Infinity };
  const step = Math.max(1, Math.floor(tumour.length / 1000));
  const names = Object.keys(faces);
  const sk = Float64Array.from(surface, (s) => s[0] * sz);
  const sj = Float64Array.from(surface, (s) => s[1] * sy);
  const si = Float64Array.from(surface, (s) => s[2] * sx);
  const sf = Uint8Array.from(surface, (s) => names.indexOf(faceOf(s)));
  const faceMin = new Float64Array(6).fill(Infinity);
  for (let t = 0; t < tumour.length; t += step) {
    const p = tumour[t];
    const pk = p[0] * sz;
    const pj = p[1] * sy;
    const pi = p[2] * sx;
    for (let m = 0; m < surface.length; m++) {
      const dk = pk - sk[m];
      const dj = pj - sj[m];
      const di = pi - si[m];
      const d2 = dk * dk + dj * dj + di * di;
      const f = sf[m];
      if (d2 < faceMin[f]) faceMin[f] = d2;
      if (d2 < best.d) best = { d: d2, p, s: surface[m] };
    }
  }
  best.d = Math.sqrt(best.d);
  names.forEach((f, a) => (faces[f] = Math.sqrt(faceMin[a])));
  const round = (v) => Math.round(v * 100) / 100;
  const threshold = 1;
  const closest = best.d;
  return {
    status: closest <= 0.01 ? "positive" : closest < threshold ? "close" : "negative",
    closest_margin_mm: round(closest),
    threshold_mm: threshold,
    faces: Object.fromEntries(Object.entries(faces).map(([f, d]) => [f, Number.isFinite(d) ? round(d) : null])),
    closest_point: { tumour_kji: best.p, surface_kji: best.s, tumour_mm: [best.p[2] * sx, best.p[1] * sy, best.p[0] * sz] },
    tumour_volume_ml: round((gt.reduce((a, v) => a + v, 0) * sx * sy * sz) / 1000),
    suv_max: 8.9,
    suv_mean: 6.1,
  };
}
