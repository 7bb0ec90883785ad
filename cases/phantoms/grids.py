"""CT and PET voxel grids of a case.

The CT field of view is cropped tightly around the specimen and the holder plate
(rectangular, sub-millimetre voxels, coarser slices). The PET field of view is a square
in-plane reconstruction around the bore axis with larger isotropic voxels and its own
axial extent, so the two series never share a grid: ingestion has to resample.
Both are axial (identity direction). A byte budget coarsens the grids if needed.
"""

from __future__ import annotations

import numpy as np

from cases.imaging.volume import Grid
from cases.phantoms.config import SizePreset

HEADER_BYTES_PER_FILE = 2_000


def dicom_bytes(grid: Grid) -> int:
    """Approximate size of a 16-bit one-file-per-slice series on ``grid``."""
    k, j, i = grid.shape
    return k * (j * i * 2 + HEADER_BYTES_PER_FILE)


def _grid(lo_xyz: np.ndarray, hi_xyz: np.ndarray, spacing_xyz: np.ndarray) -> Grid:
    counts = np.ceil((hi_xyz - lo_xyz) / spacing_xyz).astype(int) + 1
    return Grid(
        shape=(int(counts[2]), int(counts[1]), int(counts[0])),
        spacing=(float(spacing_xyz[2]), float(spacing_xyz[1]), float(spacing_xyz[0])),
        origin=(float(lo_xyz[0]), float(lo_xyz[1]), float(lo_xyz[2])),
    )


def _round_mm(value: float) -> float:
    return float(np.round(value, 4))


def choose_grids(
    *,
    rng: np.random.Generator,
    preset: SizePreset,
    specimen_lo: np.ndarray,
    specimen_hi: np.ndarray,
    plate_bottom_y: float,
) -> tuple[Grid, Grid]:
    """(ct_grid, pet_grid) covering the specimen box ``[specimen_lo, specimen_hi]`` (x, y, z mm)."""
    lo = np.asarray(specimen_lo, float)
    hi = np.asarray(specimen_hi, float)
    margin = rng.uniform(*preset.air_margin_mm, size=3)
    ct_lo = lo - margin
    ct_hi = hi + margin
    ct_hi[1] = plate_bottom_y + rng.uniform(0.8, 2.0)  # the whole plate and a little air below
    inplane = _round_mm(rng.uniform(*preset.ct_inplane_mm))
    slice_mm = _round_mm(rng.uniform(*preset.ct_slice_mm))
    ct_lo = ct_lo - rng.uniform(0, 1, size=3) * np.array([inplane, inplane, slice_mm])
    ct_lo = np.round(ct_lo, 3)

    pet_voxel = _round_mm(rng.uniform(*preset.pet_voxel_mm))
    shift = rng.uniform(-2.0, 2.0, size=2)
    centre_xy = 0.5 * (lo[:2] + hi[:2]) + shift
    half_side = 0.5 * max(hi[0] - lo[0], hi[1] - lo[1]) + rng.uniform(4.0, 8.0) + 2.0
    pet_z_lo = lo[2] - rng.uniform(3.0, 8.0)
    pet_z_hi = hi[2] + rng.uniform(3.0, 8.0)

    for _ in range(60):
        ct = _grid(ct_lo, ct_hi, np.array([inplane, inplane, slice_mm]))
        n_side = int(np.ceil(2 * half_side / pet_voxel)) + 1
        pet_lo = np.array(
            [
                centre_xy[0] - 0.5 * (n_side - 1) * pet_voxel,
                centre_xy[1] - 0.5 * (n_side - 1) * pet_voxel,
                pet_z_lo,
            ]
        )
        pet_lo = np.round(pet_lo, 3)
        pet_hi = pet_lo + np.array([(n_side - 1) * pet_voxel, (n_side - 1) * pet_voxel, pet_z_hi - pet_z_lo])
        pet = _grid(pet_lo, pet_hi, np.array([pet_voxel] * 3))
        if (
            dicom_bytes(ct) + dicom_bytes(pet) <= preset.max_dicom_bytes
            and int(np.prod(ct.shape)) <= preset.max_ct_voxels
        ):
            return ct, pet
        if slice_mm < preset.ct_slice_max_mm:
            slice_mm = _round_mm(min(slice_mm * 1.08, preset.ct_slice_max_mm))
        elif inplane < max(preset.ct_inplane_mm):
            inplane = _round_mm(min(inplane * 1.05, max(preset.ct_inplane_mm)))
        elif pet_voxel < max(preset.pet_voxel_mm):
            pet_voxel = _round_mm(min(pet_voxel * 1.05, max(preset.pet_voxel_mm)))
        else:
            return ct, pet  # the coarsest allowed grids; accept the overshoot
    return ct, pet
