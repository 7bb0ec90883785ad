"""Legacy phantom tumours: deformed ellipsoidal lobes plus optional spicules on a local patch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.special import ndtr

from cases.imaging.components import ALL_NEIGHBOURS, largest_component
from cases.imaging.volume import Grid
from cases.phantoms.clips import _paint_capsule
from cases.phantoms.fields import smooth_noise
from cases.phantoms.shape_math import (
    _quadratic_form_on_grid,
    random_unit_vector,
    rotation_matrix,
)

# ---------------------------------------------------------------------------- tumour


@dataclass(frozen=True)
class TumourShape:
    """A tumour on a local patch with the CT spacing; centre at ``centre_index``."""

    mask: np.ndarray  # bool [k, j, i], mass and spicules
    body: np.ndarray  # bool [k, j, i], the mass alone (lobes, no spicules): what imaging resolves
    uptake: np.ndarray  # float32 [k, j, i], relative uptake (0 outside the mask)
    centre_index: tuple[int, int, int]
    spacing: tuple[float, float, float]  # (sz, sy, sx)
    diameter_mm: float  # nominal core diameter
    n_lobes: int
    n_spicules: int
    necrotic: bool

    @property
    def radius_mm(self) -> float:
        return self.diameter_mm / 2.0

    def boundary_offsets(self, *, body_only: bool = False) -> np.ndarray:
        """(N, 3) k, j, i offsets from the centre of mask voxels with a non-mask 6-neighbour.

        ``body_only`` uses the mass without its spicules.
        """
        mask = self.body if body_only else self.mask
        eroded = ndi.binary_erosion(mask, border_value=0)
        return np.argwhere(mask & ~eroded) - np.asarray(self.centre_index)

    def voxel_offsets(self) -> np.ndarray:
        return np.argwhere(self.mask) - np.asarray(self.centre_index)


def build_tumour(
    *,
    rng: np.random.Generator,
    spacing: tuple[float, float, float],
    diameter_mm: float,
    spiculated: bool,
    lobulated: bool = True,
) -> TumourShape:
    """A lobulated blob with optional spicules and a heterogeneous relative uptake."""
    radius = diameter_mm / 2.0
    n_spicules = int(rng.integers(8, 19)) if spiculated else 0
    spicule_reach = min(8.0, 0.7 * radius + 3.0)
    half = 1.45 * radius + (spicule_reach if n_spicules else 0.0) + 0.5
    sz, sy, sx = spacing
    counts = [2 * int(np.ceil(half / s)) + 1 for s in (sz, sy, sx)]
    centre_index = tuple(c // 2 for c in counts)
    patch = Grid(
        shape=tuple(counts),
        spacing=(sz, sy, sx),
        origin=(-centre_index[2] * sx, -centre_index[1] * sy, -centre_index[0] * sz),
    )
    origin0 = np.zeros(3)
    deform = smooth_noise(
        rng=rng, lo_xyz=origin0 - half, hi_xyz=origin0 + half, sigma_mm=max(1.0, 0.3 * radius)
    )
    amp = rng.uniform(0.08, 0.18)
    limit = 1.0 + amp * np.clip(deform.on_grid(patch), -2.5, 2.5)
    limit_sq = limit * limit

    n_lobes = 1 + (int(rng.integers(0, 4)) if lobulated else 0)
    mask = np.zeros(patch.shape, bool)
    main_r2 = None
    for lobe in range(n_lobes):
        if lobe == 0:
            centre = np.zeros(3)
            r = radius * rng.uniform(0.82, 0.95)
        else:
            centre = random_unit_vector(rng) * radius * rng.uniform(0.3, 0.55)
            r = radius * rng.uniform(0.45, 0.7)
        semi = r * rng.uniform(0.8, 1.2, size=3)
        rot = rotation_matrix(
            yaw_deg=rng.uniform(0, 360), pitch_deg=rng.uniform(-90, 90), roll_deg=rng.uniform(0, 360)
        )
        r2 = _quadratic_form_on_grid(grid=patch, centre=centre, rotation=rot, semi_axes=semi)
        if lobe == 0:
            main_r2 = r2
        mask |= r2 < limit_sq

    uptake_field = smooth_noise(
        rng=rng, lo_xyz=origin0 - half, hi_xyz=origin0 + half, sigma_mm=max(1.0, 0.3 * radius)
    )
    uptake = (0.7 + 0.6 * ndtr(uptake_field.on_grid(patch))).astype(np.float32)
    necrotic = bool(diameter_mm >= 14.0 and rng.random() < 0.35)
    if necrotic and main_r2 is not None:
        core = main_r2 < rng.uniform(0.35, 0.55) ** 2
        uptake[core] *= rng.uniform(0.25, 0.45)

    spicules = np.zeros(patch.shape, bool)
    for _ in range(n_spicules):
        direction = random_unit_vector(rng)
        # from inside the core to 1..reach mm beyond its nominal surface, tapering to a tip
        _paint_capsule(
            spicules,
            grid=patch,
            start=direction * radius * 0.6,
            end=direction * (radius + rng.uniform(1.5, spicule_reach)),
            radius_start=rng.uniform(0.4, 0.8),
            radius_end=max(0.1, 0.55 * min(spacing)),  # thin, but still connected when sampled
        )
    spicules &= ~mask
    mask |= spicules
    uptake[spicules] = uptake[spicules] * 0.6
    mask = largest_component(mask=mask, connectivity=ALL_NEIGHBOURS)
    uptake[~mask] = 0.0
    return TumourShape(
        mask=mask,
        body=mask & ~spicules,
        uptake=uptake,
        centre_index=centre_index,
        spacing=(sz, sy, sx),
        diameter_mm=float(diameter_mm),
        n_lobes=n_lobes,
        n_spicules=n_spicules,
        necrotic=necrotic,
    )
