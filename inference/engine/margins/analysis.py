"""Margin analysis: how close the tumour comes to the specimen surface, in millimetres.

Distance convention (voxels are treated as little boxes of the true, anisotropic spacing; the
same definition as the phantom generator's ground truth, so model and truth are measured alike):

* Outside = every voxel that is not specimen (air, the holder plate, beyond the array). The
  specimen *surface voxels* are the outside voxels with a face (6-) neighbour in the specimen.
* The margin of a tumour voxel is the gap between its box and the nearest surface voxel's box:
  ``sqrt(sum_axis max(0, |centre difference| - spacing)^2)`` in mm. It is the thickness of healthy
  tissue in between: n clear voxels along an axis give n * spacing mm, and a tumour voxel that
  touches the outside by a face, an edge or a corner has margin 0 ("tumour at the surface", ink on
  tumour). Tumour voxels outside the specimen mask count as 0 (tumour beyond the surface).
* Why boxes and not voxel centres: on an oblique approach a centre-to-centre distance adds up to a
  voxel's diagonal of tissue that is not there, which pushes close margins (0-1 mm, a few voxels)
  over the threshold.
* The specimen margin is the minimum over tumour voxels. It is found exactly: a k-d tree over
  surface voxel centres gives the nearest centre distance d, and since the box gap lies between
  d - |spacing| and d only the pairs within that band are compared. The pair found names the
  nearest surface voxel, so a viewer can jump to it (an index can be -1 or the array size when
  the specimen touches the array border).

Status: "positive" when the closest margin <= ``threshold_mm`` (1 mm default: close counts as
positive, as in the reference reader study; 0 mm means only tumour at the surface), else
"negative"; "no_tumour_detected" for an empty tumour mask (all distances None).

Faces: without a recorded orientation, the six faces are the patient (LPS) axes +x, -x, +y, -y,
+z, -z. Each surface voxel belongs to the face its outward normal points to most: the normal is
minus the gradient of the specimen mask smoothed with a 1 mm Gaussian, turned into patient
directions with the grid's direction matrix. A face's margin is the distance from the tumour to
that face's surface voxels. ``orientation`` maps face labels to anatomical names the surgeon
marked (e.g. {"+z": "superior", "-x": "lateral"}), which are then reported with each face.

Per slice: the paper evaluated 2D lamella images, so for every axial slice (array index k)
containing tumour the same convention is applied in-plane: surface pixels are outside pixels with
a 4-neighbour in the slice's specimen, the gap is 2D in (y, x) mm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from cases.imaging.specimen import find_holder_plate, specimen_mask_from_ct
from cases.imaging.volume import Grid

__all__ = [
    "ANATOMICAL_FACES",
    "FACE_LABELS",
    "FaceMargin",
    "MarginPoint",
    "MarginResult",
    "SliceMargin",
    "analyse_margins",
    "find_holder_plate",
    "specimen_mask_from_ct",
]

FACE_LABELS = ("+x", "-x", "+y", "-y", "+z", "-z")
ANATOMICAL_FACES = ("superior", "inferior", "medial", "lateral", "anterior", "posterior")
NORMAL_SMOOTHING_MM = 1.0
STATUS_TOLERANCE_MM = 1e-6  # so 1.0000000001 mm from floating point still counts as 1 mm
CONVENTION = (
    "margin = gap between a tumour voxel's box and the nearest surface voxel's box (surface voxel = "
    "non-specimen voxel with a face neighbour in the specimen); 0 = tumour touching the outside"
)

_FACE_3D = ndimage.generate_binary_structure(3, 1)
_FACE_2D = ndimage.generate_binary_structure(2, 1)


@dataclass(frozen=True)
class MarginPoint:
    index: tuple[int, int, int]  # (k, j, i) voxel index in the analysed arrays
    patient_mm: tuple[float, float, float] | None  # patient LPS (x, y, z); None without a grid


@dataclass(frozen=True)
class FaceMargin:
    face: str  # "+x" ... "-z" (patient LPS axis the face looks along)
    anatomical: str | None  # from the orientation, when recorded
    distance_mm: float | None  # None when the face has no surface voxels
    status: str  # "positive", "negative" or "no_surface"
    tumour_point: MarginPoint | None
    surface_point: MarginPoint | None
    surface_voxels: int


@dataclass(frozen=True)
class SliceMargin:
    k: int  # axial slice index
    distance_mm: float  # in-plane margin in this slice
    status: str
    tumour_point: MarginPoint
    surface_point: MarginPoint | None  # None when the slice has tumour but no specimen
    tumour_area_mm2: float


@dataclass(frozen=True)
class MarginResult:
    status: str  # "positive", "negative" or "no_tumour_detected"
    threshold_mm: float
    closest_mm: float | None
    tumour_point: MarginPoint | None  # tumour end of the closest margin
    surface_point: MarginPoint | None  # surface end of the closest margin
    faces: tuple[FaceMargin, ...]
    slices: tuple[SliceMargin, ...]
    tumour_volume_ml: float
    specimen_volume_ml: float
    tumour_voxels_outside_specimen: int
    suv_max: float | None
    suv_mean: float | None
    spacing_mm: tuple[float, float, float]  # (sz, sy, sx)
    convention: str = CONVENTION

    def to_dict(self) -> dict:
        """JSON-ready: tuples become lists, numpy scalars become Python numbers."""
        return _plain(asdict(self))


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _status(distance: float, threshold_mm: float) -> str:
    return "positive" if distance <= threshold_mm + STATUS_TOLERANCE_MM else "negative"


def _outer_layer(mask: np.ndarray, structure: np.ndarray) -> np.ndarray:
    return mask & ~ndimage.binary_erosion(mask, structure=structure, border_value=0)


def _bounding_box(mask: np.ndarray) -> tuple[slice, ...]:
    box = ndimage.find_objects(mask.astype(np.uint8))[0]
    return tuple(box)


class _Locator:
    """Turns crop-local voxel indices into MarginPoints in the caller's arrays and patient space."""

    def __init__(self, offset: np.ndarray, grid: Grid | None) -> None:
        self.offset = offset
        self.grid = grid

    def point(self, local_index: np.ndarray) -> MarginPoint:
        index = np.asarray(local_index, dtype=int) + self.offset
        patient = None
        if self.grid is not None:
            patient = tuple(round(float(v), 4) for v in self.grid.index_to_patient(index.astype(float)))
        return MarginPoint(index=tuple(int(v) for v in index), patient_mm=patient)


def _surface_faces(
    specimen: np.ndarray, surface_idx: np.ndarray, spacing: np.ndarray, direction: np.ndarray
) -> np.ndarray:
    """Face label index (into FACE_LABELS) of each surface voxel, from the smoothed-mask normal."""
    smoothed = ndimage.gaussian_filter(
        specimen.astype(np.float32), sigma=NORMAL_SMOOTHING_MM / spacing, mode="constant", cval=0.0
    )
    padded = np.pad(smoothed, 1)
    centre = surface_idx + 1
    gradient = np.empty((len(surface_idx), 3))  # (k, j, i) components, per mm
    for axis in range(3):
        step = np.zeros(3, dtype=int)
        step[axis] = 1
        ahead = padded[tuple((centre + step).T)]
        behind = padded[tuple((centre - step).T)]
        gradient[:, axis] = (ahead - behind) / (2.0 * spacing[axis])
    outward_ijk = -gradient[:, ::-1]  # to (i, j, k) order, pointing out of the specimen
    outward_patient = outward_ijk @ direction.T  # direction columns are the i, j, k axes
    axis = np.argmax(np.abs(outward_patient), axis=1)
    negative = outward_patient[np.arange(len(axis)), axis] < 0
    return axis * 2 + negative.astype(int)


def _surface_layer(specimen: np.ndarray, structure: np.ndarray) -> np.ndarray:
    """Outside voxels with a face neighbour in the specimen (``specimen`` is padded by one)."""
    return ndimage.binary_dilation(specimen, structure=structure) & ~specimen


def _box_gaps(delta_mm: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    separation = np.maximum(np.abs(delta_mm) - spacing, 0.0)
    return np.sqrt(np.sum(separation * separation, axis=-1))


def _closest_pair(
    *, surface_idx: np.ndarray, query_idx: np.ndarray, spacing: np.ndarray, tree: cKDTree | None = None
) -> tuple[float, int, int]:
    """(smallest box gap, query row, surface row) between two sets of voxel indices."""
    surface_mm, query_mm = surface_idx * spacing, query_idx * spacing
    tree = tree if tree is not None else cKDTree(surface_mm)
    centre_distance, _ = tree.query(query_mm, k=1, workers=-1)
    # box gap <= centre distance and >= centre distance - |spacing|: only queries whose centre
    # distance is within |spacing| of the best can win, and only partners within best + |spacing|.
    reach = float(centre_distance.min()) + float(np.linalg.norm(spacing)) + 1e-9
    candidates = np.flatnonzero(centre_distance <= reach)
    best_key, best_row, best_partner = (np.inf, np.inf), -1, -1  # key: (gap, squared centre distance)
    for row, partners in zip(candidates, tree.query_ball_point(query_mm[candidates], r=reach), strict=True):
        partners = np.asarray(partners, dtype=int)
        delta = surface_mm[partners] - query_mm[row]
        gaps = np.round(_box_gaps(delta, spacing), 9)
        centre_sq = np.einsum("ij,ij->i", delta, delta)
        pick = int(np.lexsort((centre_sq, gaps))[0])  # equal gaps (a flat face): the straightest pair
        if (gaps[pick], centre_sq[pick]) < best_key:
            best_key, best_row, best_partner = (gaps[pick], centre_sq[pick]), int(row), int(partners[pick])
    return float(best_key[0]), best_row, best_partner


def _slice_margins(
    *,
    tumour: np.ndarray,
    specimen: np.ndarray,
    spacing: np.ndarray,
    threshold_mm: float,
    locator: _Locator,
) -> tuple[SliceMargin, ...]:
    results = []
    in_plane = spacing[1:]
    pixel_area = float(in_plane[0] * in_plane[1])
    for k in np.flatnonzero(tumour.any(axis=(1, 2))):
        tumour_2d, specimen_2d = tumour[k], specimen[k]
        surface_2d = _surface_layer(specimen_2d, _FACE_2D)
        outside = tumour_2d & ~specimen_2d
        query = np.argwhere(_outer_layer(tumour_2d, _FACE_2D) | outside)
        area = float(tumour_2d.sum()) * pixel_area
        if not specimen_2d.any():
            tumour_point = locator.point(np.array([k, *query[0]]))
            results.append(
                SliceMargin(
                    int(k) + int(locator.offset[0]), 0.0, _status(0.0, threshold_mm), tumour_point, None, area
                )
            )
            continue
        surface_pts = np.argwhere(surface_2d)
        if outside.any():
            beyond = np.argwhere(outside)[0]  # tumour beyond the surface: 0 mm, at that pixel
            row = int(np.flatnonzero((query == beyond).all(axis=1))[0])
            distance, nearest = 0.0, int(np.argmin(((surface_pts - beyond) ** 2).sum(axis=1)))
        else:
            distance, row, nearest = _closest_pair(surface_idx=surface_pts, query_idx=query, spacing=in_plane)
        results.append(
            SliceMargin(
                k=int(k) + int(locator.offset[0]),
                distance_mm=float(distance),
                status=_status(float(distance), threshold_mm),
                tumour_point=locator.point(np.array([k, *query[row]])),
                surface_point=locator.point(np.array([k, *surface_pts[nearest]])),
                tumour_area_mm2=area,
            )
        )
    return tuple(results)


def analyse_margins(
    *,
    tumour_mask: np.ndarray,
    specimen_mask: np.ndarray,
    spacing: tuple[float, float, float],
    grid: Grid | None = None,
    threshold_mm: float = 1.0,
    orientation: dict[str, str] | None = None,
    suv: np.ndarray | None = None,
) -> MarginResult:
    """Margins of ``tumour_mask`` inside ``specimen_mask`` (both (Z, Y, X), spacing (sz, sy, sx) mm).

    ``grid`` (same shape) gives patient coordinates and the patient directions of the faces; without
    it the array axes are taken as patient x (i), y (j), z (k). ``suv`` (same shape) adds SUVmax and
    SUVmean of the tumour. See the module docstring for the conventions.
    """
    tumour = np.asarray(tumour_mask).astype(bool, copy=False)
    specimen = np.asarray(specimen_mask).astype(bool, copy=False)
    if tumour.shape != specimen.shape or tumour.ndim != 3:
        raise ValueError(
            f"tumour {tumour.shape} and specimen {specimen.shape} masks must be the same 3D shape"
        )
    spacing_arr = np.asarray([float(s) for s in spacing])
    if spacing_arr.shape != (3,) or np.any(spacing_arr <= 0):
        raise ValueError(f"spacing must be three positive numbers (sz, sy, sx), got {spacing}")
    if grid is not None:
        if tuple(grid.shape) != tumour.shape:
            raise ValueError(f"grid shape {grid.shape} does not match the masks {tumour.shape}")
        if not np.allclose(grid.spacing, spacing_arr, rtol=1e-5):
            raise ValueError(f"grid spacing {grid.spacing} differs from spacing {tuple(spacing_arr)}")
    if threshold_mm < 0:
        raise ValueError("threshold_mm must be >= 0")
    orientation = dict(orientation or {})
    unknown = [face for face in orientation if face not in FACE_LABELS]
    wrong = [name for name in orientation.values() if name not in ANATOMICAL_FACES]
    if unknown or wrong:
        raise ValueError(f"orientation maps faces {FACE_LABELS} to {ANATOMICAL_FACES}; got {orientation}")
    if not specimen.any():
        raise ValueError("the specimen mask is empty: no specimen surface to measure against")

    voxel_ml = float(np.prod(spacing_arr)) / 1000.0
    tumour_voxels = int(tumour.sum())
    suv_max = suv_mean = None
    if suv is not None and tumour_voxels:
        suv = np.asarray(suv)
        if suv.shape != tumour.shape:
            raise ValueError(f"suv {suv.shape} does not match the masks {tumour.shape}")
        values = suv[tumour].astype(np.float64)
        suv_max, suv_mean = float(values.max()), float(values.mean())
    common = dict(
        threshold_mm=float(threshold_mm),
        tumour_volume_ml=tumour_voxels * voxel_ml,
        specimen_volume_ml=float(specimen.sum()) * voxel_ml,
        tumour_voxels_outside_specimen=int((tumour & ~specimen).sum()),
        suv_max=suv_max,
        suv_mean=suv_mean,
        spacing_mm=tuple(float(s) for s in spacing_arr),
    )
    if tumour_voxels == 0:
        return MarginResult(
            status="no_tumour_detected",
            closest_mm=None,
            tumour_point=None,
            surface_point=None,
            faces=(),
            slices=(),
            **common,
        )

    # Work inside the bounding box of specimen and tumour: outside it nothing is specimen, so the
    # surface (border counts as outside) and the constant-zero smoothing are unchanged.
    box = _bounding_box(specimen | tumour)
    # One voxel of outside all round, so the surface layer exists where the specimen meets the
    # array border; outside the box nothing is specimen, so nothing else changes.
    offset = np.array([b.start for b in box]) - 1
    tumour, specimen = np.pad(tumour[box], 1), np.pad(specimen[box], 1)
    locator = _Locator(offset, grid)
    direction = grid.direction_matrix if grid is not None else np.eye(3)

    surface_idx = np.argwhere(_surface_layer(specimen, _FACE_3D))
    surface_tree = cKDTree(surface_idx * spacing_arr)
    face_of_surface = _surface_faces(specimen, surface_idx, spacing_arr, direction)
    # The closest tumour voxel is on the tumour's own outer layer, or beyond the surface.
    query_idx = np.argwhere(_outer_layer(tumour, _FACE_3D) & specimen)
    beyond_idx = np.argwhere(tumour & ~specimen)
    beyond_nearest = (
        surface_tree.query(beyond_idx * spacing_arr, k=1)[1] if len(beyond_idx) else np.zeros(0, int)
    )

    def closest(members: np.ndarray | None) -> tuple[float, np.ndarray, np.ndarray]:
        """(gap, tumour index, surface index) to all surface voxels or to the ``members`` rows."""
        if len(beyond_idx):
            # Tumour beyond the surface is at 0 mm from the face it broke through.
            hits = (
                np.arange(len(beyond_idx))
                if members is None
                else np.flatnonzero(np.isin(beyond_nearest, members))
            )
            if hits.size:
                return 0.0, beyond_idx[hits[0]], surface_idx[beyond_nearest[hits[0]]]
        if len(query_idx) == 0:  # all tumour lies beyond the surface, none of it towards this face
            return np.inf, beyond_idx[0], surface_idx[0 if members is None else members[0]]
        targets = surface_idx if members is None else surface_idx[members]
        gap, row, partner = _closest_pair(
            surface_idx=targets,
            query_idx=query_idx,
            spacing=spacing_arr,
            tree=surface_tree if members is None else None,
        )
        return gap, query_idx[row], targets[partner]

    closest_mm, tumour_at, surface_at = closest(None)
    faces = []
    for face_index, label in enumerate(FACE_LABELS):
        members = np.flatnonzero(face_of_surface == face_index)
        anatomical = orientation.get(label)
        if members.size == 0:
            faces.append(FaceMargin(label, anatomical, None, "no_surface", None, None, 0))
            continue
        face_mm, face_tumour_at, face_surface_at = closest(members)
        faces.append(
            FaceMargin(
                face=label,
                anatomical=anatomical,
                distance_mm=float(face_mm),
                status=_status(float(face_mm), threshold_mm),
                tumour_point=locator.point(face_tumour_at),
                surface_point=locator.point(face_surface_at),
                surface_voxels=int(members.size),
            )
        )

    slices = _slice_margins(
        tumour=tumour, specimen=specimen, spacing=spacing_arr, threshold_mm=threshold_mm, locator=locator
    )
    return MarginResult(
        status=_status(closest_mm, threshold_mm),
        closest_mm=float(closest_mm),
        tumour_point=locator.point(tumour_at),
        surface_point=locator.point(surface_at),
        faces=tuple(faces),
        slices=slices,
        **common,
    )
