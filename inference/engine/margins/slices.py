"""Per-slice (lamella) margins: in-plane distances between 2D iso-contours of each axial slice.

The paper read 2D lamella images, so for every axial slice k holding tumour inside the specimen
the tumour contour (field at its level) and the specimen contour (occupancy 0.5) are traced with
marching squares and the smallest in-plane distance between them is measured: nearest segment
midpoint by k-d tree, then exact point-to-segment for the candidates, both ways round. Tumour
beyond the specimen contour is clipped to it (the specimen contour inside the tumour is at 0 mm).
The specimen contour of a slice, with its k-d tree, is built once (:class:`SpecimenContour`) and
shared by the ensemble and every fold measured in that slice.
"""

from __future__ import annotations

import itertools

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage.measure import find_contours


def _segments(field_2d: np.ndarray, level: float, spacing_2d: np.ndarray) -> np.ndarray:
    """(S, 2, 2) contour segments in mm of the slice (rows, columns), closed by a zero border."""
    field_2d = np.asarray(field_2d, dtype=np.float32)
    reaching = field_2d >= level
    rows, columns = np.flatnonzero(reaching.any(axis=1)), np.flatnonzero(reaching.any(axis=0))
    if len(rows) == 0:
        return np.zeros((0, 2, 2))
    # Trace only the box around what reaches the level (plus one pixel, where the crossings end):
    # the contours, and the order they are found in, are those of the whole slice.
    top, left = max(int(rows[0]) - 1, 0), max(int(columns[0]) - 1, 0)
    padded = np.pad(field_2d[top:int(rows[-1]) + 2, left:int(columns[-1]) + 2], 1)
    if not (padded.max() > level > padded.min()):
        return np.zeros((0, 2, 2))
    origin = np.array([top - 1.0, left - 1.0])
    lines = [line + origin for line in find_contours(padded, level) if len(line) > 1]
    if not lines:
        return np.zeros((0, 2, 2))
    return np.concatenate([np.stack([line[:-1], line[1:]], axis=1) for line in lines]) * spacing_2d


def _point_segment(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    length_sq = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-18)
    t = np.clip(np.einsum("ij,ij->i", points - a, ab) / length_sq, 0.0, 1.0)
    return a + t[:, None] * ab


class _Segments:
    """Contour segments (S, 2, 2) in mm with a k-d tree of their midpoints (for the nearest-segment search)."""

    def __init__(self, segments: np.ndarray) -> None:
        self.segments = segments
        self.tree = cKDTree(segments.mean(axis=1)) if len(segments) else None
        lengths = np.sqrt(((segments[:, 1] - segments[:, 0]) ** 2).sum(-1)) if len(segments) else np.zeros(1)
        self.half = float(lengths.max()) / 2.0 + 1e-9  # a segment's points lie within this of its midpoint


def _one_way(points: np.ndarray, target: _Segments) -> tuple[float, np.ndarray, np.ndarray] | None:
    if len(points) == 0 or target.tree is None:
        return None
    segments, half = target.segments, target.half
    nearest, _ = target.tree.query(points, k=1)
    best = float(nearest.min())
    candidates = np.flatnonzero(nearest <= best + 2 * half)
    near = target.tree.query_ball_point(points[candidates], r=best + 2 * half)
    counts = np.fromiter(map(len, near), dtype=np.int64, count=len(near))
    rows = np.repeat(candidates, counts)
    segs = np.fromiter(itertools.chain.from_iterable(near), dtype=np.int64, count=int(counts.sum()))
    closest = _point_segment(points[rows], segments[segs, 0], segments[segs, 1])
    distances = np.sqrt(((closest - points[rows]) ** 2).sum(-1))
    pick = int(np.argmin(distances))
    return float(distances[pick]), points[rows[pick]], closest[pick]


def _sample_2d(field_2d: np.ndarray, points_mm: np.ndarray, spacing_2d: np.ndarray) -> np.ndarray:
    if len(points_mm) == 0:
        return np.zeros(0)
    return ndimage.map_coordinates(field_2d, (points_mm / spacing_2d).T, order=1, mode="constant", cval=0.0)


class SpecimenContour(_Segments):
    """The specimen contour (occupancy 0.5) of one slice, traced once for every field measured there."""

    def __init__(self, *, occupancy_2d: np.ndarray, spacing_2d: np.ndarray) -> None:
        super().__init__(_segments(occupancy_2d, 0.5, spacing_2d))
        self.points = self.segments[:, 0]


def slice_margin(
    *, tumour_2d: np.ndarray, level: float, occupancy_2d: np.ndarray, spacing_2d: np.ndarray,
    specimen: SpecimenContour | None = None,
) -> tuple[float, np.ndarray, np.ndarray] | None:
    """(distance mm, tumour point, surface point) in one slice, points in mm (row, column); None if no tumour.

    ``specimen`` (the :class:`SpecimenContour` of the same slice) saves tracing it again.
    """
    tumour_segments = _segments(tumour_2d, level, spacing_2d)
    if specimen is None:
        specimen = SpecimenContour(occupancy_2d=occupancy_2d, spacing_2d=spacing_2d)
    if len(tumour_segments) == 0 or len(specimen.segments) == 0:
        return None
    # Clip: keep the tumour contour inside the specimen; the specimen contour inside the tumour is 0 mm.
    inside = _sample_2d(occupancy_2d, tumour_segments.reshape(-1, 2), spacing_2d).reshape(-1, 2) >= 0.5
    tumour_segments = tumour_segments[inside.all(axis=1)]
    crossing = _sample_2d(np.asarray(tumour_2d, dtype=np.float32), specimen.points, spacing_2d) > level
    if crossing.any():
        point = specimen.points[int(np.flatnonzero(crossing)[0])]
        return 0.0, point, point
    if len(tumour_segments) == 0:
        return None
    forward = _one_way(tumour_segments[:, 0], specimen)
    # Only specimen points within the forward distance of the tumour's bounding box can come closer.
    corners = tumour_segments.reshape(-1, 2)
    low, high = corners.min(axis=0) - forward[0], corners.max(axis=0) + forward[0]
    near = specimen.points[((specimen.points >= low) & (specimen.points <= high)).all(axis=1)]
    backward = _one_way(near, _Segments(tumour_segments))
    if backward is not None and backward[0] < forward[0]:
        return backward[0], backward[2], backward[1]
    return forward
