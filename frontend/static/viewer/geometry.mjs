/**
 * Voxel geometry of the working grid and the three display planes.
 *
 * Conventions (same as cases/imaging/volume.py): arrays are C order [k][j][i] =
 * [slice z][row y][column x]; `spacing` is [sz, sy, sx] mm; `origin` is the patient LPS
 * position (x, y, z) of the centre of voxel [0, 0, 0]; `direction` is 9 floats
 * row-major whose columns are the i, j, k axes in patient space, so
 *
 *   patient = origin + D[:,0]*i*sx + D[:,1]*j*sy + D[:,2]*k*sz.
 *
 * Display planes (radiological convention for an identity direction):
 *   axial    slice k, rows j (top = anterior), columns i (left of screen = patient right)
 *   coronal  slice j, rows k flipped (top = superior), columns i
 *   sagittal slice i, rows k flipped (top = superior), columns j (left = anterior)
 * A plane pixel (row r, col c) maps to the flat voxel index base + r*rowStride + c*colStride.
 * Pure module: no DOM.
 */

export const VIEWS = Object.freeze(["axial", "coronal", "sagittal"]);

const IDENTITY = [1, 0, 0, 0, 1, 0, 0, 0, 1];

/** Normalise the API's working_grid into {shape, spacing, origin, direction}. */
export function createGrid(workingGrid) {
  const shape = workingGrid.shape.map((n) => Math.trunc(Number(n)));
  const spacing = (workingGrid.spacing || [1, 1, 1]).map(Number);
  const origin = (workingGrid.origin || [0, 0, 0]).map(Number);
  const direction = (workingGrid.direction && workingGrid.direction.length === 9 ? workingGrid.direction : IDENTITY).map(Number);
  if (shape.length !== 3 || shape.some((n) => !(n > 0))) throw new Error(`bad grid shape ${workingGrid.shape}`);
  if (spacing.length !== 3 || spacing.some((s) => !(s > 0))) throw new Error(`bad grid spacing ${workingGrid.spacing}`);
  return { shape, spacing, origin, direction };
}

/** Number of voxels of a grid. */
export function voxelCount(grid) {
  return grid.shape[0] * grid.shape[1] * grid.shape[2];
}

/** Flat C-order index of voxel [k, j, i]. */
export function flatIndex(shape, k, j, i) {
  return (k * shape[1] + j) * shape[2] + i;
}

/** [k, j, i] of a flat C-order index. */
export function unflatIndex(shape, index) {
  const plane = shape[1] * shape[2];
  const k = Math.floor(index / plane);
  const rest = index - k * plane;
  const j = Math.floor(rest / shape[2]);
  return [k, j, rest - j * shape[2]];
}

/** 3x3 row-major matrix M with patient = origin + M @ [i, j, k]. */
function indexMatrix(grid) {
  const [sz, sy, sx] = grid.spacing;
  const d = grid.direction;
  return [d[0] * sx, d[1] * sy, d[2] * sz, d[3] * sx, d[4] * sy, d[5] * sz, d[6] * sx, d[7] * sy, d[8] * sz];
}

function invert3(m) {
  const [a, b, c, d, e, f, g, h, i] = m;
  const A = e * i - f * h;
  const B = -(d * i - f * g);
  const C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (Math.abs(det) < 1e-12) throw new Error("singular grid direction");
  const s = 1 / det;
  return [A * s, -(b * i - c * h) * s, (b * f - c * e) * s, B * s, (a * i - c * g) * s, -(a * f - c * d) * s, C * s, -(a * h - b * g) * s, (a * e - b * d) * s];
}

/** Patient LPS [x, y, z] mm of (possibly fractional) voxel indices [k, j, i]. */
export function voxelToMm(grid, kji) {
  const m = indexMatrix(grid);
  const [k, j, i] = kji;
  const o = grid.origin;
  return [o[0] + m[0] * i + m[1] * j + m[2] * k, o[1] + m[3] * i + m[4] * j + m[5] * k, o[2] + m[6] * i + m[7] * j + m[8] * k];
}

/** Continuous voxel indices [k, j, i] of a patient LPS point [x, y, z] mm. */
export function mmToVoxel(grid, xyz) {
  const inv = invert3(indexMatrix(grid));
  const p = [xyz[0] - grid.origin[0], xyz[1] - grid.origin[1], xyz[2] - grid.origin[2]];
  const i = inv[0] * p[0] + inv[1] * p[1] + inv[2] * p[2];
  const j = inv[3] * p[0] + inv[4] * p[1] + inv[5] * p[2];
  const k = inv[6] * p[0] + inv[7] * p[1] + inv[8] * p[2];
  return [k, j, i];
}

/** Clamp (and round) [k, j, i] into the grid. */
export function clampVoxel(shape, kji) {
  return kji.map((v, a) => Math.min(shape[a] - 1, Math.max(0, Math.round(v))));
}

/** Whether integer voxel [k, j, i] lies inside the grid. */
export function inBounds(shape, kji) {
  return kji.every((v, a) => v >= 0 && v < shape[a]);
}

/**
 * Description of one display plane of a grid: sizes, pixel spacing in mm, physical size
 * and the index arithmetic between plane pixels and voxels.
 */
export function planeSpec(view, shape, spacing) {
  const [nz, ny, nx] = shape;
  const [sz, sy, sx] = spacing;
  const slab = ny * nx;
  let spec;
  if (view === "axial") {
    spec = {
      sliceAxis: 0, sliceCount: nz, width: nx, height: ny, colSpacing: sx, rowSpacing: sy, sliceSpacing: sz,
      base: (s) => s * slab, rowStride: nx, colStride: 1,
      toKji: (s, r, c) => [s, r, c],
      fromKji: (k, j, i) => ({ slice: k, row: j, col: i }),
    };
  } else if (view === "coronal") {
    spec = {
      sliceAxis: 1, sliceCount: ny, width: nx, height: nz, colSpacing: sx, rowSpacing: sz, sliceSpacing: sy,
      base: (s) => (nz - 1) * slab + s * nx, rowStride: -slab, colStride: 1,
      toKji: (s, r, c) => [nz - 1 - r, s, c],
      fromKji: (k, j, i) => ({ slice: j, row: nz - 1 - k, col: i }),
    };
  } else if (view === "sagittal") {
    spec = {
      sliceAxis: 2, sliceCount: nx, width: ny, height: nz, colSpacing: sy, rowSpacing: sz, sliceSpacing: sx,
      base: (s) => (nz - 1) * slab + s, rowStride: -slab, colStride: nx,
      toKji: (s, r, c) => [nz - 1 - r, c, s],
      fromKji: (k, j, i) => ({ slice: i, row: nz - 1 - k, col: j }),
    };
  } else {
    throw new Error(`unknown view ${view}`);
  }
  spec.view = view;
  spec.widthMm = spec.width * spec.colSpacing;
  spec.heightMm = spec.height * spec.rowSpacing;
  /** Height / width of one displayed pixel (1 for isotropic in-plane spacing). */
  spec.pixelAspect = spec.rowSpacing / spec.colSpacing;
  spec.index = (s, r, c) => spec.base(s) + r * spec.rowStride + c * spec.colStride;
  return spec;
}

/**
 * Bounding box [k0, k1, j0, j1, i0, i1] (inclusive) of the voxels for which `test(value)`
 * holds, or null when there are none.
 */
export function volumeBounds(data, shape, test = (v) => v !== 0) {
  const [nz, ny, nx] = shape;
  let k0 = nz, k1 = -1, j0 = ny, j1 = -1, i0 = nx, i1 = -1;
  let idx = 0;
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      let first = -1;
      let last = -1;
      for (let i = 0; i < nx; i++, idx++) {
        if (test(data[idx])) {
          if (first < 0) first = i;
          last = i;
        }
      }
      if (first >= 0) {
        if (k < k0) k0 = k;
        k1 = k;
        if (j < j0) j0 = j;
        if (j > j1) j1 = j;
        if (first < i0) i0 = first;
        if (last > i1) i1 = last;
      }
    }
  }
  return k1 < 0 ? null : [k0, k1, j0, j1, i0, i1];
}

/** Smallest box containing both boxes (either may be null). */
export function unionBounds(a, b) {
  if (!a) return b ? [...b] : null;
  if (!b) return [...a];
  return [Math.min(a[0], b[0]), Math.max(a[1], b[1]), Math.min(a[2], b[2]), Math.max(a[3], b[3]), Math.min(a[4], b[4]), Math.max(a[5], b[5])];
}

/** Bounding box of a list of flat indices. */
export function indexBounds(indices, shape, length = indices.length) {
  if (!length) return null;
  const plane = shape[1] * shape[2];
  let k0 = Infinity, k1 = -1, j0 = Infinity, j1 = -1, i0 = Infinity, i1 = -1;
  for (let n = 0; n < length; n++) {
    const idx = indices[n];
    const k = Math.floor(idx / plane);
    const rest = idx - k * plane;
    const j = Math.floor(rest / shape[2]);
    const i = rest - j * shape[2];
    if (k < k0) k0 = k;
    if (k > k1) k1 = k;
    if (j < j0) j0 = j;
    if (j > j1) j1 = j;
    if (i < i0) i0 = i;
    if (i > i1) i1 = i;
  }
  return [k0, k1, j0, j1, i0, i1];
}

/**
 * The part of plane `slice` covered by a voxel box: {r0, r1, c0, c1} (inclusive), or
 * null when the box misses the slice. A null box means the whole plane.
 */
export function planeRect(spec, slice, bounds) {
  if (!bounds) return { r0: 0, r1: spec.height - 1, c0: 0, c1: spec.width - 1 };
  const a = spec.fromKji(bounds[0], bounds[2], bounds[4]);
  const b = spec.fromKji(bounds[1], bounds[3], bounds[5]);
  if (slice < Math.min(a.slice, b.slice) || slice > Math.max(a.slice, b.slice)) return null;
  return { r0: Math.min(a.row, b.row), r1: Math.max(a.row, b.row), c0: Math.min(a.col, b.col), c1: Math.max(a.col, b.col) };
}

/** Flat voxel indices of every pixel of a plane, row by row. */
export function planeIndices(spec, slice) {
  const out = new Uint32Array(spec.width * spec.height);
  const base = spec.base(slice);
  let n = 0;
  for (let r = 0; r < spec.height; r++) {
    let idx = base + r * spec.rowStride;
    for (let c = 0; c < spec.width; c++, idx += spec.colStride) out[n++] = idx;
  }
  return out;
}

/** Copy one plane of a volume into a new array of the same type (row by row). */
export function extractPlane(data, spec, slice) {
  const out = new data.constructor(spec.width * spec.height);
  const base = spec.base(slice);
  let n = 0;
  for (let r = 0; r < spec.height; r++) {
    let idx = base + r * spec.rowStride;
    for (let c = 0; c < spec.width; c++, idx += spec.colStride) out[n++] = data[idx];
  }
  return out;
}

const LETTERS = [["R", "L"], ["A", "P"], ["I", "S"]];

function letterOf(v) {
  let a = 0;
  for (let n = 1; n < 3; n++) if (Math.abs(v[n]) > Math.abs(v[a])) a = n;
  return LETTERS[a][v[a] >= 0 ? 1 : 0];
}

/**
 * Patient-orientation letters (L/R, A/P, S/I) at the four edges of a view, from the
 * grid direction: {left, right, top, bottom}.
 */
export function orientationLabels(view, direction = IDENTITY) {
  const col = (c) => [direction[c], direction[3 + c], direction[6 + c]];
  const neg = (v) => v.map((x) => -x);
  let colDir;
  let rowDir;
  if (view === "axial") [colDir, rowDir] = [col(0), col(1)];
  else if (view === "coronal") [colDir, rowDir] = [col(0), neg(col(2))];
  else [colDir, rowDir] = [col(1), neg(col(2))];
  return { left: letterOf(neg(colDir)), right: letterOf(colDir), top: letterOf(neg(rowDir)), bottom: letterOf(rowDir) };
}

/**
 * Where a plane is drawn on a canvas of cssW x cssH: fitted with its physical aspect
 * ratio, then zoomed and panned. Image coordinates (u, v) run 0..width, 0..height with
 * pixel (r, c) covering [c, c+1) x [r, r+1).
 */
export function viewTransform(spec, cssW, cssH, { zoom = 1, panX = 0, panY = 0 } = {}) {
  const fit = Math.min(cssW / spec.widthMm, cssH / spec.heightMm);
  const pxPerMm = fit * zoom;
  const drawW = spec.widthMm * pxPerMm;
  const drawH = spec.heightMm * pxPerMm;
  const x0 = (cssW - drawW) / 2 + panX;
  const y0 = (cssH - drawH) / 2 + panY;
  return { pxPerMm, x0, y0, drawW, drawH, sx: drawW / spec.width, sy: drawH / spec.height, cssW, cssH };
}

/** Screen (CSS px) to continuous image coordinates {u, v}. */
export function screenToImage(t, x, y) {
  return { u: (x - t.x0) / t.sx, v: (y - t.y0) / t.sy };
}

/** Continuous image coordinates to screen (CSS px). */
export function imageToScreen(t, u, v) {
  return { x: t.x0 + u * t.sx, y: t.y0 + v * t.sy };
}

/**
 * New {zoom, panX, panY} after zooming by `factor` about screen point (x, y), keeping the
 * image point under it fixed. Zoom is clamped to [minZoom, maxZoom].
 */
export function zoomAbout(spec, cssW, cssH, viewState, factor, x, y, { minZoom = 0.25, maxZoom = 40 } = {}) {
  const t = viewTransform(spec, cssW, cssH, viewState);
  const { u, v } = screenToImage(t, x, y);
  const zoom = Math.min(maxZoom, Math.max(minZoom, viewState.zoom * factor));
  const t2 = viewTransform(spec, cssW, cssH, { zoom, panX: 0, panY: 0 });
  return { zoom, panX: x - u * t2.sx - t2.x0, panY: y - v * t2.sy - t2.y0 };
}
