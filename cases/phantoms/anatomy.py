"""Shapes of the synthetic lumpectomy specimen: specimen body, holder plate, fibroglandular
tissue, tumours and surgical clips.

Everything is defined in patient LPS millimetres; ``+y`` (posterior) is "down", so the
holder plate lies at larger ``y`` than the specimen and the specimen is flattened where it
rests on it. Shapes are implicit functions evaluated on a :class:`~cases.imaging.volume.Grid`
(the CT grid is the fine truth grid).

* Specimen: a rotated ellipsoid whose normalised radius is deformed by low- and
  mid-frequency Gaussian random fields, cut flat by the plate top ``y = plate_top_y``.
* Fibroglandular tissue: a thresholded low-frequency field (regions) plus the thin zero
  level set of a finer field (sheets that look like strands in a slice).
* Tumour (:mod:`cases.phantoms.tumour_shapes`, re-exported here): a union of deformed
  ellipsoidal lobes plus optional spicules (tapered rods), built on a small patch with the CT
  spacing and pasted at an integer voxel offset.
* Clips (:mod:`cases.phantoms.clips`, re-exported here): metal rods (capsules) a few mm long
  just under the specimen surface.

:func:`box_specimen_with_sphere` builds the simple configuration used to hand-check the
margin truth (a sphere at a known depth in a box).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtri

from cases.imaging.volume import Grid
from cases.phantoms.clips import Clip, build_clips, paint_clips
from cases.phantoms.config import SizePreset
from cases.phantoms.fields import CoarseField, axis_coords, smooth_noise
from cases.phantoms.shape_math import (
    _quadratic_form_at_points,
    _quadratic_form_on_grid,
    random_unit_vector,
    rotation_matrix,
)
from cases.phantoms.tumour_shapes import TumourShape, build_tumour

__all__ = [
    "Clip",
    "FibroTexture",
    "SpecimenShape",
    "TumourShape",
    "box_specimen_with_sphere",
    "build_clips",
    "build_fibro",
    "build_specimen",
    "build_tumour",
    "paint_clips",
    "random_unit_vector",
    "rotation_matrix",
]


# --------------------------------------------------------------------------- specimen


@dataclass(frozen=True)
class SpecimenShape:
    """Deformed, flattened ellipsoid resting on the holder plate."""

    centre: np.ndarray  # (x, y, z) mm
    semi_axes: np.ndarray  # (a, b, c) along the body axes, mm
    rotation: np.ndarray  # 3x3, columns = body axes in patient space
    plate_top_y: float  # specimen occupies y < plate_top_y
    plate_thickness_mm: float
    deformation: CoarseField  # already scaled: r < 1 + deformation is inside

    def inside_on_grid(self, grid: Grid) -> np.ndarray:
        r2 = _quadratic_form_on_grid(
            grid=grid, centre=self.centre, rotation=self.rotation, semi_axes=self.semi_axes
        )
        limit = self.deformation.on_grid(grid)
        limit += 1.0
        np.maximum(limit, 0.0, out=limit)
        inside = r2 < limit * limit
        _, yc, _ = axis_coords(grid)
        inside &= (yc < self.plate_top_y)[None, :, None]
        return inside

    def inside_points(self, xyz: np.ndarray) -> np.ndarray:
        xyz = np.asarray(xyz, float)
        r2 = _quadratic_form_at_points(
            xyz, centre=self.centre, rotation=self.rotation, semi_axes=self.semi_axes
        )
        limit = np.maximum(1.0 + self.deformation.at_points(xyz), 0.0)
        return (r2 < limit**2) & (xyz[..., 1] < self.plate_top_y)

    def plate_on_grid(self, grid: Grid) -> np.ndarray:
        """Holder plate: the slab ``plate_top_y <= y < plate_top_y + thickness`` (all x, z)."""
        _, yc, _ = axis_coords(grid)
        rows = (yc >= self.plate_top_y) & (yc < self.plate_top_y + self.plate_thickness_mm)
        return np.broadcast_to(rows[None, :, None], grid.shape)

    def bounding_box(self, *, step_mm: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned box (lo, hi) in mm that contains the specimen, from a coarse lattice."""
        reach = (1.0 + max(float(self.deformation.values.max()), 0.0)) * float(
            np.max(self.semi_axes)
        ) + step_mm
        lo = self.centre - reach
        counts = int(np.ceil(2 * reach / step_mm)) + 1
        lattice = Grid(
            shape=(counts, counts, counts),
            spacing=(step_mm, step_mm, step_mm),
            origin=(float(lo[0]), float(lo[1]), float(lo[2])),
        )
        inside = self.inside_on_grid(lattice)
        if not inside.any():
            raise ValueError("degenerate specimen")
        kk, jj, ii = np.nonzero(inside)
        lo_idx = np.array([ii.min(), jj.min(), kk.min()], float)
        hi_idx = np.array([ii.max(), jj.max(), kk.max()], float)
        box_lo = lo + lo_idx * step_mm - step_mm
        box_hi = lo + hi_idx * step_mm + step_mm
        box_hi[1] = min(box_hi[1], self.plate_top_y)
        return box_lo, box_hi


def build_specimen(*, rng: np.random.Generator, preset: SizePreset) -> SpecimenShape:
    """Draw a specimen of the preset's scale (longest axis along z before the yaw)."""
    long_mm = rng.uniform(*preset.specimen_long_mm)
    width = min(long_mm * rng.uniform(*preset.specimen_width_frac), preset.max_width_mm)
    height = min(long_mm * rng.uniform(*preset.specimen_height_frac), preset.max_height_mm)
    cut = rng.uniform(0.15, 0.3)  # fraction of the y semi-axis flattened by the plate
    semi_y = height / (2.0 - cut)
    semi = np.array([width / 2.0, semi_y, long_mm / 2.0])
    rotation = rotation_matrix(
        yaw_deg=rng.uniform(-30, 30), pitch_deg=rng.uniform(-8, 8), roll_deg=rng.uniform(-8, 8)
    )
    centre = np.array([rng.uniform(-3, 3), rng.uniform(-2, 2), rng.uniform(-3, 3)])
    plate_top = float(centre[1] + semi_y * (1.0 - cut))
    reach = 1.5 * float(semi.max())
    lo, hi = centre - reach, centre + reach
    low_sigma = rng.uniform(0.3, 0.45) * float(np.min(semi[[0, 2]]))
    low = smooth_noise(rng=rng, lo_xyz=lo, hi_xyz=hi, sigma_mm=max(low_sigma, 3.0))
    mid = smooth_noise(rng=rng, lo_xyz=lo, hi_xyz=hi, sigma_mm=rng.uniform(1.5, 3.0))
    amp_low = rng.uniform(0.05, 0.12)
    amp_mid = rng.uniform(0.01, 0.03)
    deformation = np.clip(mid.values, -2.5, 2.5) * amp_mid
    deformation += np.clip(low.on_grid(mid.grid), -2.5, 2.5) * amp_low
    return SpecimenShape(
        centre=centre,
        semi_axes=semi,
        rotation=rotation,
        plate_top_y=plate_top,
        plate_thickness_mm=float(rng.uniform(2.0, 4.0)),
        deformation=CoarseField(values=deformation.astype(np.float32), grid=mid.grid),
    )


# --------------------------------------------------------------------- fibroglandular


@dataclass(frozen=True)
class FibroTexture:
    """Fibroglandular tissue: regions ``g > t`` plus sheets ``|h| < eps`` where ``g > t - delta``."""

    regions: CoarseField
    sheets: CoarseField
    threshold: float
    sheet_eps: float
    sheet_delta: float
    density: float  # nominal fraction of the specimen

    def indicator(self) -> CoarseField:
        """A field that is > 0 exactly on fibroglandular tissue (on the sheets' lattice)."""
        g = self.regions.on_grid(self.sheets.grid)
        h = self.sheets.values
        sheet = np.minimum(self.sheet_eps - np.abs(h), g - (self.threshold - self.sheet_delta))
        return CoarseField(
            values=np.maximum(g - self.threshold, sheet).astype(np.float32), grid=self.sheets.grid
        )

    def on_grid(self, grid: Grid) -> np.ndarray:
        return self.indicator().on_grid(grid) > 0


def build_fibro(
    *, rng: np.random.Generator, lo_xyz: np.ndarray, hi_xyz: np.ndarray, small: bool
) -> FibroTexture:
    density = rng.uniform(0.1, 0.35)
    regions = smooth_noise(
        rng=rng,
        lo_xyz=lo_xyz,
        hi_xyz=hi_xyz,
        sigma_mm=rng.uniform(2.0, 3.5) if small else rng.uniform(2.5, 5.0),
    )
    sheets = smooth_noise(
        rng=rng, lo_xyz=lo_xyz, hi_xyz=hi_xyz, sigma_mm=rng.uniform(1.2, 2.0), points_per_sigma=3.0
    )
    return FibroTexture(
        regions=regions,
        sheets=sheets,
        threshold=float(ndtri(1.0 - density)),
        sheet_eps=float(ndtri(0.5 + rng.uniform(0.09, 0.15))),
        sheet_delta=float(rng.uniform(0.6, 1.4)),
        density=float(density),
    )


# ------------------------------------------------------------------- hand-check case


def box_specimen_with_sphere(
    *,
    grid: Grid,
    box_lo_mm: tuple[float, float, float],
    box_hi_mm: tuple[float, float, float],
    centre_mm: tuple[float, float, float],
    radius_mm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Specimen = axis-aligned box, tumour = sphere (clipped to the box); both bool on ``grid``.

    The expected margin to the ``+x`` face is ``box_hi_mm[0] - centre_mm[0] - radius_mm``
    (and likewise for the other faces), which the truth must reproduce within a voxel.
    """
    zc, yc, xc = axis_coords(grid)
    lo, hi = np.asarray(box_lo_mm), np.asarray(box_hi_mm)
    inx = (xc >= lo[0]) & (xc <= hi[0])
    iny = (yc >= lo[1]) & (yc <= hi[1])
    inz = (zc >= lo[2]) & (zc <= hi[2])
    specimen = inz[:, None, None] & iny[None, :, None] & inx[None, None, :]
    c = np.asarray(centre_mm, float)
    r2 = (zc[:, None, None] - c[2]) ** 2 + (yc[None, :, None] - c[1]) ** 2 + (xc[None, None, :] - c[0]) ** 2
    tumour = (r2 <= radius_mm**2) & specimen
    return specimen, tumour
