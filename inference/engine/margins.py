"""Margin analysis: how close the tumour comes to the specimen surface, in millimetres.

Distance convention (voxels are treated as little boxes of the true, anisotropic spacing):

* The specimen *surface voxels* are the specimen voxels with at least one of their 6 face
  neighbours outside the specimen (the array border counts as outside).
* The margin of a tumour voxel is the Euclidean distance, in mm, from its centre to the centre
  of the nearest surface voxel. A tumour voxel that is itself a surface voxel has margin 0
  ("tumour at the surface", ink on tumour). Tumour voxels outside the specimen mask also count
  as 0 (tumour beyond the surface).
* Along an axis this equals the thickness of healthy tissue between the tumour's outer voxel
  face and the specimen's outer voxel face: n clear voxels of spacing s give n * s mm. It is
  the 3D Euclidean distance transform of the specimen (distance to the nearest non-specimen
  voxel centre) minus one voxel spacing along the direction of approach.
* The specimen margin is the minimum over tumour voxels. Nearest points are found with a k-d
  tree over surface voxel positions in mm (exact Euclidean nearest neighbour, same result as an
  EDT but it also names the nearest surface voxel, so a viewer can jump to the pair).

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
containing tumour the same convention is applied in-plane: surface pixels are specimen pixels
with a 4-neighbour outside the slice's specimen, distance is 2D in (y, x) mm.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from cases.imaging.volume import Grid
from inference.engine.specimen import find_holder_plate, specimen_mask_from_ct

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
    "margin = distance from a tumour voxel centre to the nearest specimen surface voxel centre "
    "(surface voxel = specimen voxel with a face neighbour outside the specimen); 0 = tumour at the surface"
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


def _nearest(tree_points: np.ndarray, query_points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    distance, nearest = cKDTree(tree_points).query(query_points, k=1, workers=-1)
    return np.asarray(distance, dtype=float), np.asarray(nearest, dtype=int)


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
        surface_2d = _outer_layer(specimen_2d, _FACE_2D)
        outside = tumour_2d & ~specimen_2d
        query = np.argwhere(_outer_layer(tumour_2d, _FACE_2D) | (tumour_2d & surface_2d) | outside)
        area = float(tumour_2d.sum()) * pixel_area
        if not surface_2d.any():
            tumour_point = locator.point(np.array([k, *query[0]]))
            results.append(
                SliceMargin(
                    int(k) + int(locator.offset[0]), 0.0, _status(0.0, threshold_mm), tumour_point, None, area
                )
            )
            continue
        surface_pts = np.argwhere(surface_2d)
        distance, nearest = _nearest(surface_pts * in_plane, query * in_plane)
        distance[outside[tuple(query.T)]] = 0.0
        best = int(np.argmin(distance))
        results.append(
            SliceMargin(
                k=int(k) + int(locator.offset[0]),
                distance_mm=float(distance[best]),
                status=_status(float(distance[best]), threshold_mm),
                tumour_point=locator.point(np.array([k, *query[best]])),
                surface_point=locator.point(np.array([k, *surface_pts[nearest[best]]])),
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
    offset = np.array([b.start for b in box])
    tumour, specimen = tumour[box], specimen[box]
    locator = _Locator(offset, grid)
    direction = grid.direction_matrix if grid is not None else np.eye(3)

    surface = _outer_layer(specimen, _FACE_3D)
    outside = tumour & ~specimen
    # The closest tumour voxel is on the tumour's own outer layer, at the surface, or outside.
    query_idx = np.argwhere(_outer_layer(tumour, _FACE_3D) | (tumour & surface) | outside)
    query_mm = query_idx * spacing_arr
    query_outside = outside[tuple(query_idx.T)]
    surface_idx = np.argwhere(surface)
    surface_mm = surface_idx * spacing_arr

    distance, nearest = _nearest(surface_mm, query_mm)
    distance[query_outside] = 0.0
    best = int(np.argmin(distance))
    closest = float(distance[best])

    face_of_surface = _surface_faces(specimen, surface_idx, spacing_arr, direction)
    face_of_nearest = face_of_surface[nearest]
    faces = []
    for face_index, label in enumerate(FACE_LABELS):
        members = np.flatnonzero(face_of_surface == face_index)
        anatomical = orientation.get(label)
        if members.size == 0:
            faces.append(FaceMargin(label, anatomical, None, "no_surface", None, None, 0))
            continue
        face_distance, face_nearest = _nearest(surface_mm[members], query_mm)
        # Tumour beyond the surface is at 0 mm from the face it broke through.
        face_distance[query_outside & (face_of_nearest == face_index)] = 0.0
        face_best = int(np.argmin(face_distance))
        faces.append(
            FaceMargin(
                face=label,
                anatomical=anatomical,
                distance_mm=float(face_distance[face_best]),
                status=_status(float(face_distance[face_best]), threshold_mm),
                tumour_point=locator.point(query_idx[face_best]),
                surface_point=locator.point(surface_idx[members[face_nearest[face_best]]]),
                surface_voxels=int(members.size),
            )
        )

    slices = _slice_margins(
        tumour=tumour, specimen=specimen, spacing=spacing_arr, threshold_mm=threshold_mm, locator=locator
    )
    return MarginResult(
        status=_status(closest, threshold_mm),
        closest_mm=closest,
        tumour_point=locator.point(query_idx[best]),
        surface_point=locator.point(surface_idx[nearest[best]]),
        faces=tuple(faces),
        slices=slices,
        **common,
    )
