"""Resample volumes between grids using their true patient-space geometry.

The working grid covers the reference (CT) field of view with isotropic voxels and the
same axis directions, centred on the same point, so CT and PET end up voxel-aligned.
Resampling composes the affines (target index -> patient mm -> source index). When the
grids are axis-aligned (the index transform is diagonal, as for CT and PET on one scanner)
linear interpolation and the anti-alias gaussian are separable: three small banded matrix
products, one per axis, on the part of the source the target touches. Otherwise scipy
interpolates, one slab of target slices at a time to bound memory; both give the same values.
A target voxel whose centre lies inside the source's voxel extent (centres +- half a
voxel) gets an interpolated value (edges clamped); anything outside gets ``fill``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

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


def _is_diagonal(matrix: np.ndarray) -> bool:
    """Axis-aligned grids: each target axis maps onto one source axis (separable resampling applies)."""
    return bool(np.allclose(matrix, np.diag(np.diag(matrix))))


def _gaussian_kernel(sigma: float) -> np.ndarray:
    # The kernel scipy.ndimage.gaussian_filter uses (truncate 4.0), so both paths smooth alike.
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=float)
    kernel = np.exp(-0.5 / (sigma * sigma) * x * x)
    return kernel / kernel.sum()


def _antialias_sigma(matrix: np.ndarray) -> np.ndarray | None:
    # Target step measured in source voxels per axis; smooth where we skip source voxels.
    ratio = np.max(np.abs(matrix), axis=1)
    sigma = np.maximum(0.0, (ratio - 1.0) / 2.0)
    return sigma if np.any(sigma > 0.05) else None


def _antialias(array: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    sigma = _antialias_sigma(matrix)
    if sigma is None:
        return array
    return ndimage.gaussian_filter(array, sigma=sigma, mode="nearest")


@dataclass(frozen=True)
class _Band:
    """A 1-D resampling operator: output ``o`` = sum_t ``weights[o, t]`` x input ``starts[o] + t``."""

    starts: np.ndarray  # (n_out,) first input index each output uses
    weights: np.ndarray  # (n_out, width) float64; zero beyond a row's support
    # The dense blocks by (input length, block size): a volume read slab by slab applies one operator many times.
    _blocks: dict = field(default_factory=dict, compare=False, repr=False)

    def support(self) -> tuple[int, int]:
        """The input range [lo, hi) that any output uses."""
        return int(self.starts.min()), int(self.starts.max()) + self.weights.shape[1]

    def shifted(self, lo: int) -> _Band:
        return _Band(starts=self.starts - lo, weights=self.weights)

    def dense(self, o0: int, o1: int, n_in: int) -> tuple[int, int, np.ndarray]:
        """Outputs o0..o1 as a dense float32 block over the inputs [lo, hi) they use."""
        starts = self.starts[o0:o1]
        lo = int(starts.min())
        hi = min(n_in, int(starts.max()) + self.weights.shape[1])
        block = np.zeros((o1 - o0, hi - lo))
        columns = starts[:, None] - lo + np.arange(self.weights.shape[1])[None, :]
        valid = columns < hi - lo
        rows = np.broadcast_to(np.arange(o1 - o0)[:, None], columns.shape)
        block[rows[valid], columns[valid]] = self.weights[o0:o1][valid]
        return lo, hi, block.astype(np.float32)

    def blocks(self, n_in: int, size: int) -> list[tuple[int, int, int, int, np.ndarray]]:
        """``(o0, o1, lo, hi, weights)`` of :meth:`dense` for every run of ``size`` outputs, made once."""
        found = self._blocks.get((n_in, size))
        if found is None:
            n_out = len(self.starts)
            found = [
                (o0, min(n_out, o0 + size), *self.dense(o0, min(n_out, o0 + size), n_in))
                for o0 in range(0, n_out, size)
            ]
            self._blocks[(n_in, size)] = found
        return found


def _axis_operator(
    *, scale: float, offset: float, n_out: int, n_in: int, sigma: float
) -> tuple[_Band, np.ndarray]:
    """Weights of edge-clamped linear interpolation after optional gaussian smoothing (the kernel and
    "nearest" edges of scipy's gaussian_filter), and which target positions fall inside the
    source's voxel extent along this axis."""
    coords = scale * np.arange(n_out, dtype=float) + offset
    inside = (coords >= -0.5 - _EDGE_TOLERANCE) & (coords <= n_in - 0.5 + _EDGE_TOLERANCE)
    base = np.floor(coords)
    frac = coords - base
    low = np.clip(base, 0, n_in - 1).astype(np.intp)
    high = np.clip(base + 1, 0, n_in - 1).astype(np.intp)
    kernel = _gaussian_kernel(sigma) if sigma > 1e-15 else np.ones(1)
    radius = len(kernel) // 2
    starts = np.clip(low - radius, 0, n_in - 1)
    width = int((np.clip(high + radius, 0, n_in - 1) - starts).max()) + 1
    weights = np.zeros((n_out, width))
    rows = np.arange(n_out)
    for tap, value in enumerate(kernel):
        shift = tap - radius  # gaussian with mode "nearest": clamp the shifted index too
        np.add.at(weights, (rows, np.clip(low + shift, 0, n_in - 1) - starts), (1.0 - frac) * value)
        np.add.at(weights, (rows, np.clip(high + shift, 0, n_in - 1) - starts), frac * value)
    return _Band(starts=starts, weights=weights), inside


def _apply_axis(
    array: np.ndarray, band: _Band, axis: int, block: int = 16, out: np.ndarray | None = None
) -> np.ndarray:
    """The 1-D operator ``band`` applied along ``axis`` of a 3-D float32 array (into ``out`` if given).

    Blocks of outputs are small matrix products with just the band of source samples they use (small
    enough that BLAS stays single-threaded and predictable); along the slice axis a block of output
    slices is one product over the source slices it uses, each slice taken as a flat row.
    """
    shape = list(array.shape)
    shape[axis] = len(band.starts)
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    for o0, o1, lo, hi, w in band.blocks(array.shape[axis], block):
        if axis == 0:
            source = array[lo:hi].reshape(hi - lo, -1)  # a view for a contiguous array
            if out.flags.c_contiguous:  # then the rows o0..o1 flattened are a view too: write in place
                np.matmul(w, source, out=out[o0:o1].reshape(o1 - o0, -1))
            else:
                out[o0:o1] = (w @ source).reshape((o1 - o0, *out.shape[1:]))
        elif axis == 2:
            out[:, :, o0:o1] = array[:, :, lo:hi] @ w.T
        else:
            out[:, o0:o1, :] = np.matmul(w, array[:, lo:hi, :])
    return out


def _pass_order(shape_in: tuple[int, ...], shape_out: tuple[int, ...]) -> tuple[int, ...]:
    # Cheapest order of the three 1-D passes: cost ~ elements read, with the column (last, strided)
    # axis about three times dearer per element than the others.
    factor = (1.0, 1.0, 3.0)

    def cost(order: tuple[int, ...]) -> float:
        current, total = list(shape_in), 0.0
        for axis in order:
            total += factor[axis] * float(np.prod(current))
            current[axis] = shape_out[axis]
        return total

    return min(itertools.permutations(range(3)), key=cost)


@dataclass(frozen=True)
class _SeparablePlan:
    """The three 1-D operators of an axis-aligned resampling, on the source cropped to what they use."""

    operators: tuple[_Band, _Band, _Band]  # shifted to the crop
    crop: tuple[slice, slice, slice]  # the source samples any target voxel uses
    inside: tuple[np.ndarray, np.ndarray, np.ndarray]  # target positions within the source extent, per axis
    shape: tuple[int, int, int]
    fill: float

    def finish(self, array: np.ndarray) -> np.ndarray | None:
        """Set the target voxels outside the source to ``fill``; None when the result is not finite."""
        if not np.isfinite(array.sum()):
            # A NaN or inf in the source leaks through the zero weights of the matrix products (or a
            # huge value overflowed float32): the general path handles such a volume.
            return None
        if not self.inside[0].all():
            array[~self.inside[0]] = self.fill
        if not self.inside[1].all():
            array[:, ~self.inside[1]] = self.fill
        if not self.inside[2].all():
            array[:, :, ~self.inside[2]] = self.fill
        return array


def _separable_plan(
    *,
    source_shape: tuple[int, ...],
    scales: np.ndarray,
    offset: np.ndarray,
    shape: tuple[int, int, int],
    fill: float,
    sigma: np.ndarray | None,
) -> _SeparablePlan:
    operators, inside, crop = [], [], []
    for axis in range(3):
        band, axis_inside = _axis_operator(
            scale=float(scales[axis]),
            offset=float(offset[axis]),
            n_out=shape[axis],
            n_in=source_shape[axis],
            sigma=0.0 if sigma is None else float(sigma[axis]),
        )
        lo, hi = band.support()
        crop.append(slice(lo, min(hi, source_shape[axis])))
        operators.append(band.shifted(lo))
        inside.append(axis_inside)
    return _SeparablePlan(
        operators=tuple(operators), crop=tuple(crop), inside=tuple(inside), shape=tuple(shape), fill=fill
    )


def _resample_separable(
    *,
    source: np.ndarray,
    scales: np.ndarray,
    offset: np.ndarray,
    shape: tuple[int, int, int],
    fill: float,
    sigma: np.ndarray | None,
) -> np.ndarray | None:
    """Axis-aligned trilinear resampling (plus separable smoothing) as three 1-D passes.

    Same result as the smoothing + ``affine_transform`` path for a diagonal index transform, in a
    fraction of the time: each pass is a small banded matrix product along one axis, the source is
    cropped to the samples the target touches, and the passes run in the cheapest order.
    """
    plan = _separable_plan(
        source_shape=source.shape, scales=scales, offset=offset, shape=shape, fill=fill, sigma=sigma
    )
    array = source[plan.crop]
    for axis in _pass_order(array.shape, shape):
        array = _apply_axis(array, plan.operators[axis], axis)
    return plan.finish(array)


SliceReader = Callable[[int, np.ndarray], None]


def resample_slices(
    *,
    read_slices: SliceReader,
    source_grid: Grid,
    grid: Grid,
    fill: float = 0.0,
    antialias: bool = False,
    slab: int = 8,
) -> Volume | None:
    """Linear resampling of a volume that is read a few slices at a time, never whole.

    ``read_slices(first, out)`` writes source slices ``first, first + 1, ...`` (float32) into ``out``
    (shape ``(n, rows, columns)``). Each slab of slices is taken through the two in-plane passes while
    it is still in the cache, and only the in-plane result of every slice is kept for the last pass,
    so the source volume is never allocated: the same values as :func:`resample` (order 1), less
    memory and time. Only slices that some target voxel uses are read. Returns None where this path
    does not apply (grids not axis-aligned, or a value that is not finite); read the whole volume and
    call :func:`resample` then.
    """
    matrix, offset = index_transform(source=source_grid, target=grid)
    if not _is_diagonal(matrix) or not math.prod(source_grid.shape):
        return None
    plan = _separable_plan(
        source_shape=source_grid.shape,
        scales=np.diag(matrix),
        offset=offset,
        shape=grid.shape,
        fill=fill,
        sigma=_antialias_sigma(matrix) if antialias else None,
    )
    first, stop = plan.crop[0].start, plan.crop[0].stop
    in_plane = plan.crop[1:]
    buffer = np.empty((min(slab, stop - first), *source_grid.shape[1:]), dtype=np.float32)
    across = np.empty((stop - first, *grid.shape[1:]), dtype=np.float32)  # every slice, resampled in plane
    order = [axis for axis in _pass_order((stop - first, *source_grid.shape[1:]), grid.shape) if axis]
    for start in range(first, stop, slab):
        count = min(slab, stop - start)
        read_slices(start, buffer[:count])
        array = buffer[:count][(slice(None), *in_plane)]
        for axis in order[:-1]:
            array = _apply_axis(array, plan.operators[axis], axis)
        _apply_axis(array, plan.operators[order[-1]], order[-1], out=across[start - first : start - first + count])
    array = plan.finish(_apply_axis(across, plan.operators[0], 0))
    return None if array is None else Volume(array=array, grid=grid)


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
    diagonal = _is_diagonal(matrix)
    if order == 1 and diagonal and source.size:
        # Axis-aligned grids (the usual CT -> working grid case): separable 1-D passes.
        array = _resample_separable(
            source=source,
            scales=np.diag(matrix),
            offset=offset,
            shape=grid.shape,
            fill=fill,
            sigma=_antialias_sigma(matrix) if antialias else None,
        )
        if array is not None:
            return Volume(array=array, grid=grid)
    if antialias and order >= 1:
        source = _antialias(source, matrix)
    if order > 1:  # prefilter once for the whole volume, not once per slab
        source = ndimage.spline_filter(source, order=order, output=np.float32, mode="nearest")
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
