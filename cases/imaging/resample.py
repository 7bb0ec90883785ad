"""Resample volumes between grids using their true patient-space geometry.

The working grid covers the reference (CT) field of view with isotropic voxels and the
same axis directions, centred on the same point, so CT and PET end up voxel-aligned.
Resampling composes the affines (target index -> patient mm -> source index) and
interpolates with scipy, one slab of target slices at a time to bound memory.
A target voxel whose centre lies inside the source's voxel extent (centres +- half a
voxel) gets an interpolated value (edges clamped); anything outside gets ``fill``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

from .volume import Grid, Volume

_REVERSE = np.eye(3)[::-1]  # (i, j, k) <-> (k, j, i)
_EDGE_TOLERANCE = 1e-6


def working_grid(*, reference: Grid, spacing_mm: float) -> Grid:
    """An isotropic grid with ``spacing_mm`` voxels covering ``reference``'s whole extent, same centre."""
    if spacing_mm <= 0:
        raise ValueError("spacing_mm must be positive")
    shape = tuple(
        max(1, math.ceil(n * s / spacing_mm - _EDGE_TOLERANCE))
        for n, s in zip(reference.shape, reference.spacing, strict=True)
    )
    # Same centre as the reference: equal padding on both sides of every axis.
    centre_kji = (np.asarray(reference.shape, dtype=float) - 1.0) / 2.0
    centre = reference.index_to_patient(centre_kji)
    half_extent_ijk = (np.asarray(shape[::-1], dtype=float) - 1.0) / 2.0 * spacing_mm
    origin = centre - reference.direction_matrix @ half_extent_ijk
    return Grid(
        shape=shape,
        spacing=(float(spacing_mm),) * 3,
        origin=tuple(float(v) for v in origin),
        direction=reference.direction,
    )


def index_transform(*, source: Grid, target: Grid) -> tuple[np.ndarray, np.ndarray]:
    """(matrix, offset) mapping target [k, j, i] indices to source [k, j, i] indices."""
    ijk = np.linalg.inv(source.affine()) @ target.affine()
    matrix = _REVERSE @ ijk[:3, :3] @ _REVERSE
    offset = _REVERSE @ ijk[:3, 3]
    return matrix, offset


def _antialias(array: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    # Target step measured in source voxels per axis; smooth where we skip source voxels.
    ratio = np.max(np.abs(matrix), axis=1)
    sigma = np.maximum(0.0, (ratio - 1.0) / 2.0)
    if not np.any(sigma > 0.05):
        return array
    return ndimage.gaussian_filter(array, sigma=sigma, mode="nearest")


def resample(
    *,
    volume: Volume,
    grid: Grid,
    order: int = 1,
    fill: float = 0.0,
    antialias: bool = False,
    slab: int = 32,
) -> Volume:
    """``volume`` sampled on ``grid``: order 1 for intensities (float32 out), 0 for labels (dtype kept)."""
    dtype = volume.array.dtype if order == 0 else np.float32
    if grid == volume.grid:
        return Volume(array=volume.array.astype(dtype, copy=True), grid=grid)
    matrix, offset = index_transform(source=volume.grid, target=grid)
    source = volume.array if order == 0 else volume.array.astype(np.float32, copy=False)
    if antialias and order >= 1:
        source = _antialias(source, matrix)
    if order > 1:  # prefilter once for the whole volume, not once per slab
        source = ndimage.spline_filter(source, order=order, output=np.float32, mode="nearest")
    diagonal = np.allclose(matrix, np.diag(np.diag(matrix)))
    transform = np.diag(matrix) if diagonal else matrix  # a 1-D matrix takes scipy's fast path
    out = np.empty(grid.shape, dtype=dtype)
    limits = np.asarray(volume.grid.shape, dtype=float) - 0.5 + _EDGE_TOLERANCE
    rows = np.arange(grid.shape[1], dtype=float)[None, :, None]
    columns = np.arange(grid.shape[2], dtype=float)[None, None, :]
    for k0 in range(0, grid.shape[0], slab):
        k1 = min(grid.shape[0], k0 + slab)
        slab_offset = offset + matrix[:, 0] * k0
        ndimage.affine_transform(
            source,
            transform,
            offset=slab_offset,
            output_shape=(k1 - k0, grid.shape[1], grid.shape[2]),
            output=out[k0:k1],
            order=order,
            mode="nearest",
            prefilter=False,
        )
        slices = np.arange(k1 - k0, dtype=float)[:, None, None]
        inside = np.ones((k1 - k0, grid.shape[1], grid.shape[2]), dtype=bool)
        for axis in range(3):
            coord = (
                matrix[axis, 0] * slices
                + matrix[axis, 1] * rows
                + matrix[axis, 2] * columns
                + slab_offset[axis]
            )
            inside &= (coord >= -0.5 - _EDGE_TOLERANCE) & (coord <= limits[axis])
        out[k0:k1][~inside] = fill
    return Volume(array=out, grid=grid)
