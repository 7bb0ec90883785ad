"""Smooth random fields and fast separable resampling between axis-aligned grids.

The generator builds textures (specimen deformation, fibroglandular tissue, uptake
heterogeneity) as Gaussian random fields on a coarse isotropic lattice and samples them
on the fine CT grid with separable linear interpolation, which is equivalent to
trilinear interpolation but costs only a few passes over the output array.

All grids here must be axis-aligned (identity direction), which is what the generator
writes; the helpers check it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from cases.imaging.volume import Grid


def check_axis_aligned(grid: Grid) -> None:
    if not np.allclose(grid.direction_matrix, np.eye(3)):
        raise ValueError("phantom grids must have identity direction")


def axis_coords(grid: Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Patient coordinates (z, y, x) of the voxel centres along each axis, float64."""
    check_axis_aligned(grid)
    (nk, nj, ni), (sz, sy, sx) = grid.shape, grid.spacing
    ox, oy, oz = grid.origin
    return (
        oz + sz * np.arange(nk),
        oy + sy * np.arange(nj),
        ox + sx * np.arange(ni),
    )


def _interp_axis(values: np.ndarray, positions: np.ndarray, axis: int, fill: float | None) -> np.ndarray:
    """Linear interpolation of ``values`` along ``axis`` at fractional ``positions``.

    Outside ``[0, n-1]`` the result is the edge value (``fill is None``) or ``fill``.
    """
    n = values.shape[axis]
    if n == 1:
        out = np.repeat(values, len(positions), axis=axis)
        if fill is not None:
            outside = (positions < -0.5) | (positions > 0.5)
            shape = [1, 1, 1]
            shape[axis] = len(positions)
            out = np.where(outside.reshape(shape), np.float32(fill), out)
        return out.astype(np.float32, copy=False)
    clipped = np.clip(positions, 0.0, n - 1.0)
    i0 = np.minimum(np.floor(clipped).astype(np.intp), n - 2)
    w = (clipped - i0).astype(np.float32)
    shape = [1, 1, 1]
    shape[axis] = len(positions)
    w = w.reshape(shape)
    out = np.take(values, i0, axis=axis)
    out *= 1.0 - w
    hi = np.take(values, i0 + 1, axis=axis)
    hi *= w
    out += hi
    del hi
    if fill is not None:
        outside = ((positions < -1e-6) | (positions > n - 1 + 1e-6)).reshape(shape)
        if outside.any():
            out = np.where(outside, np.float32(fill), out)
    return out.astype(np.float32, copy=False)


def resample_linear(
    values: np.ndarray,
    *,
    source: Grid,
    target: Grid,
    fill: float | None = None,
    box_average: bool = False,
) -> np.ndarray:
    """Resample ``values`` (on ``source``) onto ``target`` by separable linear interpolation.

    ``box_average`` first averages the source over a box of the target's voxel size along
    each axis (partial-volume sampling when going from a fine to a coarse grid).
    ``fill=None`` extends edge values; a number is used outside the source extent.
    """
    check_axis_aligned(source)
    check_axis_aligned(target)
    out = np.asarray(values, dtype=np.float32)
    src_axes = axis_coords(source)
    dst_axes = axis_coords(target)
    # Process the axes from the last (x) to the first (z); the array shrinks or grows per pass.
    for axis in (2, 1, 0):
        s0 = src_axes[axis][0]
        ds = source.spacing[axis]
        if box_average:
            ratio = target.spacing[axis] / ds
            size = int(round(ratio))
            if size >= 2:
                out = ndi.uniform_filter1d(out, size=size, axis=axis, mode="nearest")
                if size % 2 == 0:  # even box is centred half a voxel early
                    s0 = s0 - 0.5 * ds
        positions = (dst_axes[axis] - s0) / ds
        out = _interp_axis(out, positions, axis, fill)
    return out


@dataclass(frozen=True)
class CoarseField:
    """A smooth scalar field on a coarse isotropic lattice, sampled on demand."""

    values: np.ndarray  # float32 [k, j, i]
    grid: Grid

    def on_grid(self, grid: Grid) -> np.ndarray:
        """The field at every voxel centre of ``grid`` (edge values extend outside)."""
        return resample_linear(self.values, source=self.grid, target=grid)

    def on_grid_coarse(self, grid: Grid, *, factor: int = 2) -> np.ndarray:
        """Cheaper :meth:`on_grid` for very smooth fields: sampled on a grid ``factor`` times
        coarser per axis and repeated (nearest) onto ``grid``."""
        check_axis_aligned(grid)
        coarse_shape = tuple(-(-n // factor) for n in grid.shape)
        sz, sy, sx = grid.spacing
        shift = 0.5 * (factor - 1)
        coarse = Grid(
            shape=coarse_shape,
            spacing=(sz * factor, sy * factor, sx * factor),
            origin=(
                grid.origin[0] + shift * sx,
                grid.origin[1] + shift * sy,
                grid.origin[2] + shift * sz,
            ),
        )
        small = self.on_grid(coarse)
        picks = [np.arange(n) // factor for n in grid.shape]
        return small[np.ix_(*picks)]

    def at_points(self, xyz: np.ndarray) -> np.ndarray:
        """The field at patient points ``(..., 3)`` (x, y, z), trilinear."""
        kji = self.grid.patient_to_index(np.asarray(xyz, dtype=float))
        flat = kji.reshape(-1, 3).T
        vals = ndi.map_coordinates(self.values, flat, order=1, mode="nearest")
        return vals.reshape(kji.shape[:-1]).astype(np.float32)


def smooth_noise(
    *,
    rng: np.random.Generator,
    lo_xyz: np.ndarray,
    hi_xyz: np.ndarray,
    sigma_mm: float,
    points_per_sigma: float = 2.0,
) -> CoarseField:
    """Unit-variance Gaussian random field with correlation ``sigma_mm`` over a box.

    The lattice spacing is ``sigma_mm / points_per_sigma`` so the filter is only a few taps
    wide (use more points where thin level sets of the field matter).
    """
    lo = np.asarray(lo_xyz, dtype=float)
    hi = np.asarray(hi_xyz, dtype=float)
    spacing = sigma_mm / points_per_sigma
    pad = 3.0 * sigma_mm
    start = lo - pad
    counts = np.maximum(2, np.ceil((hi + pad - start) / spacing).astype(int) + 1)
    shape_kji = (int(counts[2]), int(counts[1]), int(counts[0]))
    white = rng.standard_normal(shape_kji, dtype=np.float32)
    field = ndi.gaussian_filter(white, sigma=points_per_sigma, mode="wrap", truncate=3.0)
    std = float(field.std())
    field = (field - float(field.mean())) / (std if std > 0 else 1.0)
    grid = Grid(
        shape=shape_kji,
        spacing=(spacing, spacing, spacing),
        origin=(float(start[0]), float(start[1]), float(start[2])),
    )
    return CoarseField(values=field.astype(np.float32), grid=grid)


def nearest_mask(*, mask: np.ndarray, source: Grid, target: Grid) -> np.ndarray:
    """Nearest-neighbour resampling of a bool mask between axis-aligned grids (False outside)."""
    src = axis_coords(source)
    dst = axis_coords(target)
    picks = []
    valid = []
    for axis in range(3):
        pos = np.rint((dst[axis] - src[axis][0]) / source.spacing[axis]).astype(int)
        ok = (pos >= 0) & (pos < source.shape[axis])
        picks.append(np.clip(pos, 0, source.shape[axis] - 1))
        valid.append(ok)
    out = mask[np.ix_(*picks)]
    out &= valid[0][:, None, None] & valid[1][None, :, None] & valid[2][None, None, :]
    return out
