"""Iso-surfaces of continuous fields, located to sub-voxel precision (marching cubes).

Fields are (Z, Y, X) arrays on a voxel grid; a surface's vertices are in millimetres of the
array frame, ``index * spacing`` in k, j, i order, so distances are Euclidean with the true
(anisotropic) spacing and a vertex turns back into a fractional index by dividing by spacing.

Accuracy: a partial-volume field (occupancy = fraction of the voxel inside) changes linearly
only across the voxel the boundary cuts, so linear interpolation between voxel centres misplaces
a plane's 0.5 crossing by at most 0.086 voxel (0.043 mm at 0.5 mm). Measured sphere-to-sphere
gaps (tumour radius 2-5 mm, specimen radius 10 mm, 4x supersampled fields, 0.5 mm voxels) came
out within 0.05 mm. Gaussian pre-smoothing was tried and rejected: it shrinks curved surfaces by
about sigma^2 / R, which outweighs what it gains on planes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.measure import marching_cubes


@dataclass(frozen=True)
class Surface:
    vertices: np.ndarray  # (N, 3) float64, mm in the array frame (k, j, i order)
    triangles: np.ndarray  # (M, 3) int rows into vertices

    @property
    def empty(self) -> bool:
        return len(self.vertices) == 0


EMPTY = Surface(np.zeros((0, 3)), np.zeros((0, 3), dtype=int))


def iso_surface(
    *, field: np.ndarray, level: float, spacing: np.ndarray, offset_voxels: np.ndarray | None = None
) -> Surface:
    """The closed ``level`` iso-surface of ``field`` (higher inside), vertices in mm of the full array.

    ``offset_voxels`` is where ``field``'s [0, 0, 0] lies in the full array (for a crop). The field
    is padded with one voxel of 0 so a region touching the array edge still gets a closed surface.
    """
    values = np.pad(np.asarray(field, dtype=np.float32), 1)
    if not (values.max() > level > values.min()):
        return EMPTY
    vertices, triangles, _, _ = marching_cubes(values, level=level, spacing=(1.0, 1.0, 1.0), allow_degenerate=False)
    offset = (np.zeros(3) if offset_voxels is None else np.asarray(offset_voxels, dtype=float)) - 1.0
    vertices = (vertices.astype(np.float64) + offset) * np.asarray(spacing, dtype=float)
    return Surface(vertices, triangles.astype(np.int64))


def sample(field: np.ndarray, points_mm: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Trilinear values of ``field`` at points in mm of the array frame (outside the array: 0)."""
    if len(points_mm) == 0:
        return np.zeros(0, dtype=np.float32)
    index = (np.asarray(points_mm) / np.asarray(spacing)).T
    return ndimage.map_coordinates(np.asarray(field, dtype=np.float32), index, order=1, mode="constant", cval=0.0)
