"""Per-slice (lamella) margins: in-plane distances between 2D iso-contours of each axial slice.

The paper read 2D lamella images, so for every axial slice k holding tumour inside the specimen
the tumour contour (field at its level) and the specimen contour (occupancy 0.5) are traced with
marching squares and the smallest in-plane distance between them is measured: nearest segment
midpoint by k-d tree, then exact point-to-segment for the candidates, both ways round. Tumour
beyond the specimen contour is clipped to it (the specimen contour inside the tumour is at 0 mm).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage.measure import find_contours


def _segments(field_2d: np.ndarray, level: float, spacing_2d: np.ndarray) -> np.ndarray:
    """(S, 2, 2) contour segments in mm of the slice (rows, columns), closed by a zero border."""
    padded = np.pad(np.asarray(field_2d, dtype=np.float32), 1)
    if not (padded.max() > level > padded.min()):
        return np.zeros((0, 2, 2))
    lines = [line - 1.0 for line in find_contours(padded, level) if len(line) > 1]
    if not lines:
        return np.zeros((0, 2, 2))
    return np.concatenate([np.stack([line[:-1], line[1:]], axis=1) for line in lines]) * spacing_2d


def _point_segment(points: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    ab = b - a
    length_sq = np.maximum(np.einsum("ij,ij->i", ab, ab), 1e-18)
    t = np.clip(np.einsum("ij,ij->i", points - a, ab) / length_sq, 0.0, 1.0)
    return a + t[:, None] * ab


def _one_way(points: np.ndarray, segments: np.ndarray) -> tuple[float, np.ndarray, np.ndarray] | None:
    if len(points) == 0 or len(segments) == 0:
        return None
    midpoints = segments.mean(axis=1)
    half = float(np.sqrt(((segments[:, 1] - segments[:, 0]) ** 2).sum(-1)).max()) / 2.0 + 1e-9
    tree = cKDTree(midpoints)
    nearest, _ = tree.query(points, k=1)
    best = float(nearest.min())
    candidates = np.flatnonzero(nearest <= best + 2 * half)
    rows, segs = [], []
    for row, near in zip(candidates, tree.query_ball_point(points[candidates], r=best + 2 * half), strict=True):
        rows.append(np.full(len(near), row))
        segs.append(np.asarray(near, dtype=int))
    rows, segs = np.concatenate(rows), np.concatenate(segs)
    closest = _point_segment(points[rows], segments[segs, 0], segments[segs, 1])
    distances = np.sqrt(((closest - points[rows]) ** 2).sum(-1))
    pick = int(np.argmin(distances))
    return float(distances[pick]), points[rows[pick]], closest[pick]


def _sample_2d(field_2d: np.ndarray, points_mm: np.ndarray, spacing_2d: np.ndarray) -> np.ndarray:
    if len(points_mm) == 0:
        return np.zeros(0)
    return ndimage.map_coordinates(field_2d, (points_mm / spacing_2d).T, order=1, mode="constant", cval=0.0)


def slice_margin(
    *, tumour_2d: np.ndarray, level: float, occupancy_2d: np.ndarray, spacing_2d: np.ndarray
) -> tuple[float, np.ndarray, np.ndarray] | None:
    """(distance mm, tumour point, surface point) in one slice, points in mm (row, column); None if no tumour."""
    tumour_segments = _segments(tumour_2d, level, spacing_2d)
    specimen_segments = _segments(occupancy_2d, 0.5, spacing_2d)
    if len(tumour_segments) == 0 or len(specimen_segments) == 0:
        return None
    # Clip: keep the tumour contour inside the specimen; the specimen contour inside the tumour is 0 mm.
    inside = _sample_2d(occupancy_2d, tumour_segments.reshape(-1, 2), spacing_2d).reshape(-1, 2) >= 0.5
    tumour_segments = tumour_segments[inside.all(axis=1)]
    specimen_points = specimen_segments[:, 0]
    crossing = _sample_2d(np.asarray(tumour_2d, dtype=np.float32), specimen_points, spacing_2d) > level
    if crossing.any():
        point = specimen_points[int(np.flatnonzero(crossing)[0])]
        return 0.0, point, point
    if len(tumour_segments) == 0:
        return None
    forward = _one_way(tumour_segments[:, 0], specimen_segments)
    backward = _one_way(specimen_points, tumour_segments)
    if backward is not None and backward[0] < forward[0]:
        return backward[0], backward[2], backward[1]
    return forward
