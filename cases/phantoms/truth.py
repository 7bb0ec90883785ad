"""Independent ground truth: margin distances, faces and mask files.

Definitions (documented in truth.json as ``margin_definition``):

* Outside = every voxel that is not specimen (air, holder plate, beyond the array).
* Surface voxels = outside voxels 6-adjacent to a specimen voxel.
* ``closest_margin_centre_mm``: min over tumour voxels of the Euclidean distance transform
  (``scipy.ndimage.distance_transform_edt`` with the true anisotropic spacing) of the
  specimen mask, i.e. the distance from a tumour voxel centre to the nearest outside voxel
  centre. A tumour voxel touching the outside gives one voxel step, never 0.
* ``closest_margin_mm``: the gap between the tumour and the surface measured between voxel
  *boxes*: for a tumour voxel t and an outside voxel o, ``sqrt(sum_i max(0, |o_i - t_i| -
  spacing_i)^2)``, minimised over pairs. It is 0 exactly when a tumour voxel touches
  (face, edge or corner) an outside voxel; this is the value margin status uses:
  ``positive`` at threshold T when ``closest_margin_mm <= T``.
* Faces: each surface voxel belongs to the face ``+x, -x, +y, -y, +z, -z`` along which its
  outward normal (gradient of the specimen mask smoothed with sigma 1 mm) has its largest
  component. ``face_margins_mm[F]`` is the gap from the tumour to the surface voxels of F
  (``None`` where a face has no surface voxels). Patient LPS axes: +x left, +y posterior
  (towards the holder plate), +z superior (along the bore).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage as ndi
from scipy.spatial import cKDTree

from cases.imaging.volume import LPS_TO_RAS, Grid
from cases.phantoms.fields import check_axis_aligned

FACE_NAMES: tuple[str, ...] = ("+x", "-x", "+y", "-y", "+z", "-z")

MARGIN_DEFINITION = (
    "closest_margin_mm: minimum gap between tumour voxel boxes and outside (non-specimen: air, "
    "holder plate) voxel boxes on the CT grid, 0 when a tumour voxel touches an outside voxel; "
    "closest_margin_centre_mm: minimum over tumour voxels of the anisotropic Euclidean distance "
    "transform of the specimen mask (voxel centre to nearest outside voxel centre); faces: a "
    "surface voxel (outside voxel 6-adjacent to the specimen) belongs to the scanner axis "
    "direction (+x,-x,+y,-y,+z,-z, patient LPS) of the largest component of its outward "
    "normal (gradient of the specimen mask smoothed with sigma 1 mm); status at threshold T is "
    "positive when closest_margin_mm <= T."
)


def _spacing_xyz(grid: Grid) -> np.ndarray:
    sz, sy, sx = grid.spacing
    return np.array([sx, sy, sz], float)


def index_to_xyz(grid: Grid, kji: np.ndarray) -> np.ndarray:
    """Patient (x, y, z) of integer voxel indices (N, 3) in k, j, i order (axis-aligned grid)."""
    kji = np.asarray(kji, float)
    return np.asarray(grid.origin, float) + kji[:, ::-1] * _spacing_xyz(grid)


def surface_voxels(specimen: np.ndarray) -> np.ndarray:
    """(N, 3) k, j, i indices of outside voxels 6-adjacent to the specimen (may be -1 or n)."""
    padded = np.pad(specimen, 1, constant_values=False)
    near = np.zeros_like(padded)
    for axis in range(3):
        near |= np.roll(padded, 1, axis=axis)
        near |= np.roll(padded, -1, axis=axis)
    near &= ~padded
    return np.argwhere(near) - 1


def boundary_voxels(mask: np.ndarray) -> np.ndarray:
    """(N, 3) k, j, i indices of mask voxels with a 6-neighbour outside the mask."""
    eroded = ndi.binary_erosion(mask, border_value=0)
    return np.argwhere(mask & ~eroded)


def outward_normals(
    *, specimen: np.ndarray, grid: Grid, kji: np.ndarray, sigma_mm: float = 1.0
) -> np.ndarray:
    """Unit outward normals (N, 3, xyz) of the specimen at voxel indices ``kji``.

    The mask is block-averaged to about 0.5 mm, smoothed with ``sigma_mm`` and differentiated.
    """
    check_axis_aligned(grid)
    spacing = np.asarray(grid.spacing, float)  # z, y, x
    factors = np.maximum(1, np.round(0.5 / spacing)).astype(int)
    pad = [(2 * f, 2 * f + (-(n + 4 * f)) % f) for n, f in zip(specimen.shape, factors, strict=True)]
    padded = np.pad(specimen.astype(np.float32), pad)
    fk, fj, fi = factors
    k, j, i = (padded.shape[a] // factors[a] for a in range(3))
    coarse = padded.reshape(k, fk, j, fj, i, fi).mean(axis=(1, 3, 5))
    coarse_spacing = spacing * factors
    smooth = ndi.gaussian_filter(coarse, sigma=sigma_mm / coarse_spacing, mode="constant")
    grads = np.gradient(smooth, *coarse_spacing)
    pos = (np.asarray(kji, float) + np.array([p[0] for p in pad]) - (factors - 1) / 2.0) / factors
    g = np.stack([ndi.map_coordinates(grads[a], pos.T, order=1, mode="nearest") for a in range(3)], axis=1)
    normal = -g[:, ::-1]  # kji -> xyz, pointing out of the specimen
    norm = np.linalg.norm(normal, axis=1, keepdims=True)
    norm[norm == 0] = 1.0
    return normal / norm


def face_labels(normals_xyz: np.ndarray) -> np.ndarray:
    """Index into :data:`FACE_NAMES` of each normal's dominant signed axis."""
    axis = np.argmax(np.abs(normals_xyz), axis=1)
    sign = normals_xyz[np.arange(len(axis)), axis] < 0
    return 2 * axis + sign.astype(int)


def box_gap(delta_xyz: np.ndarray, spacing_xyz: np.ndarray) -> np.ndarray:
    """Distance between two voxel boxes whose centres differ by ``delta_xyz`` (N, 3)."""
    sep = np.maximum(np.abs(delta_xyz) - spacing_xyz, 0.0)
    return np.sqrt(np.sum(sep * sep, axis=-1))


@dataclass(frozen=True)
class MarginTruth:
    closest_mm: float
    closest_centre_mm: float
    closest_face: str | None
    faces_mm: dict[str, float | None]

    @property
    def touches_surface(self) -> bool:
        return self.closest_mm <= 1e-6

    def status(self, threshold_mm: float) -> str:
        return "positive" if self.closest_mm <= threshold_mm + 1e-6 else "negative"

    def category(self, *, close_mm: float = 1.0) -> str:
        if self.touches_surface:
            return "positive"
        return "close" if self.closest_mm < close_mm else "negative"


@dataclass(frozen=True)
class SurfaceModel:
    """Surface voxels of a specimen with their coordinates and faces, plus a KD-tree."""

    kji: np.ndarray
    xyz: np.ndarray
    normals: np.ndarray
    faces: np.ndarray
    tree: cKDTree


def surface_model(*, specimen: np.ndarray, grid: Grid) -> SurfaceModel:
    kji = surface_voxels(specimen)
    xyz = index_to_xyz(grid, kji)
    normals = outward_normals(specimen=specimen, grid=grid, kji=kji)
    return SurfaceModel(kji=kji, xyz=xyz, normals=normals, faces=face_labels(normals), tree=cKDTree(xyz))


def edt_min_distance(*, specimen: np.ndarray, tumour: np.ndarray, grid: Grid, pad_mm: float) -> float:
    """Min over tumour voxels of the specimen's EDT (centre to nearest outside centre), in mm.

    Computed on a crop around the tumour widened by ``pad_mm`` (exact when the answer is below
    ``pad_mm``; the array border counts as outside).
    """
    pts = np.argwhere(tumour)
    if len(pts) == 0:
        return float("nan")
    spacing = np.asarray(grid.spacing, float)
    pad = np.ceil(pad_mm / spacing).astype(int) + 1
    lo = pts.min(axis=0) - pad
    hi = pts.max(axis=0) + pad + 1
    padded = np.pad(specimen, 1, constant_values=False)
    lo_p = np.maximum(lo + 1, 0)
    hi_p = np.minimum(hi + 1, padded.shape)
    crop = padded[lo_p[0] : hi_p[0], lo_p[1] : hi_p[1], lo_p[2] : hi_p[2]]
    dist = ndi.distance_transform_edt(crop, sampling=tuple(spacing))
    local = pts + 1 - lo_p
    return float(dist[local[:, 0], local[:, 1], local[:, 2]].min())


def _subsample(points: np.ndarray, target: int) -> np.ndarray:
    step = max(1, len(points) // target)
    return points[::step]


def _min_gap_between(
    *, tumour_xyz: np.ndarray, tumour_tree: cKDTree, surface_xyz: np.ndarray, spacing_xyz: np.ndarray
) -> tuple[float, float]:
    """(min box gap, min centre distance) between two voxel point sets.

    An upper bound from subsampled brute force limits the KD-tree searches, so the cost does
    not explode when the sets are far apart (queries from deep inside a closed surface).
    """
    from scipy.spatial.distance import cdist

    a = _subsample(tumour_xyz, 400)
    b = _subsample(surface_xyz, 3000)
    diagonal = float(np.linalg.norm(spacing_xyz))
    bound = float(cdist(a, b).min()) + 1e-6
    # Box gaps can win up to one voxel diagonal beyond the nearest centres, so search that far too.
    dist, _ = tumour_tree.query(surface_xyz, k=1, distance_upper_bound=bound + diagonal)
    near = np.isfinite(dist)
    raw = float(dist[near].min())
    reach = raw + diagonal + 1e-6
    candidates = surface_xyz[near & (dist <= reach)]
    pairs = cKDTree(candidates).sparse_distance_matrix(tumour_tree, reach, output_type="ndarray")
    delta = candidates[pairs["i"]] - tumour_xyz[pairs["j"]]
    return float(box_gap(delta, spacing_xyz).min()), raw


def measure_margins(
    *,
    specimen: np.ndarray,
    tumour: np.ndarray,
    grid: Grid,
    surface: SurfaceModel | None = None,
    check_edt: bool = True,
) -> MarginTruth:
    """Closest tumour-to-surface distances overall and per face (see module docstring)."""
    tumour = tumour & specimen
    if not tumour.any():
        raise ValueError("no tumour voxels inside the specimen")
    surface = surface or surface_model(specimen=specimen, grid=grid)
    spacing = _spacing_xyz(grid)
    tum_xyz = index_to_xyz(grid, boundary_voxels(tumour))
    tree = cKDTree(tum_xyz)
    faces: dict[str, float | None] = {}
    best_gap, best_raw, best_face = np.inf, np.inf, None
    for f, name in enumerate(FACE_NAMES):
        sel = surface.faces == f
        if not sel.any():
            faces[name] = None
            continue
        gap, raw = _min_gap_between(
            tumour_xyz=tum_xyz, tumour_tree=tree, surface_xyz=surface.xyz[sel], spacing_xyz=spacing
        )
        faces[name] = round(gap, 4)
        best_raw = min(best_raw, raw)
        if gap < best_gap:
            best_gap, best_face = gap, name
    centre = best_raw
    if check_edt:
        centre = edt_min_distance(specimen=specimen, tumour=tumour, grid=grid, pad_mm=best_raw + 1.0)
        if abs(centre - best_raw) > 1e-3:
            raise AssertionError(f"EDT ({centre}) and KD-tree ({best_raw}) margins disagree")
    return MarginTruth(
        closest_mm=round(float(best_gap), 4),
        closest_centre_mm=round(float(centre), 4),
        closest_face=best_face,
        faces_mm=faces,
    )


def write_mask_nifti(*, array: np.ndarray, grid: Grid, path: Path) -> None:
    """Write a [k, j, i] label array as NIfTI (data[i, j, k]) with the RAS affine of ``grid``."""
    affine = LPS_TO_RAS @ grid.affine()
    data = np.ascontiguousarray(np.asarray(array, dtype=np.uint8).transpose(2, 1, 0))
    image = nib.Nifti1Image(data, affine)
    image.header.set_xyzt_units("mm")
    image.set_qform(affine, code=1)
    image.set_sform(affine, code=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(image, str(path))


def write_json(*, data: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
