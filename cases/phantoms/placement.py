"""Placing tumours in the specimen to reach a chosen margin category.

The primary tumour is moved along a ray from near the specimen centre towards the
surface; a bisection on the ray finds the position whose tumour-to-surface gap (same box
gap as the truth, from a KD-tree of surface voxels) matches the target:

* ``clear``: the whole tumour, spicules included, lies ``CLEAR_GAP_MM`` (> 2 mm) inside;
* ``close``: the tumour's mass lies ``CLOSE_GAP_MM`` (0 < gap < 1 mm) inside; spicules are
  trimmed where they would come closer than the mass;
* ``transected``: the mass first touches the surface, then is pushed a fraction of its
  radius further out and is cut by the surface ("ink on tumour").

Close and transected are placed by the mass, not by a spicule tip, because the tips are far
below the scanner's resolution (0.2-0.4 mm wide against a 1 mm PET FWHM, and tumour-like HU in
fibroglandular tissue): a category decided by a tip would be invisible in the images. The truth
still includes the spicules, so a spicule can only make a close margin closer.

The truth is measured afterwards, independently (see :mod:`cases.phantoms.truth`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage as ndi

from cases.imaging.components import ALL_NEIGHBOURS, largest_component
from cases.imaging.volume import Grid
from cases.phantoms.anatomy import TumourShape
from cases.phantoms.truth import SurfaceModel, box_gap, index_to_xyz


@dataclass(frozen=True)
class Placement:
    shape: TumourShape
    centre_index: tuple[int, int, int]  # CT voxel of the tumour's nominal centre
    target_category: str
    target_gap_mm: float | None
    estimated_gap_mm: float


class GapProbe:
    """Fast estimate of the gap between a tumour placed at a voxel and the specimen surface.

    A distance transform of the specimen on a 2x coarser grid picks the tumour voxels that
    can be closest; only those are measured exactly against the surface voxels.
    """

    def __init__(self, *, specimen: np.ndarray, grid: Grid, surface: SurfaceModel) -> None:
        self.specimen = specimen
        self.grid = grid
        self.surface = surface
        sz, sy, sx = grid.spacing
        self.spacing_xyz = np.array([sx, sy, sz])
        pad = [(0, n % 2) for n in specimen.shape]
        padded = np.pad(specimen, pad).astype(np.uint8)
        k, j, i = (n // 2 for n in padded.shape)
        coarse = padded.reshape(k, 2, j, 2, i, 2).sum(axis=(1, 3, 5)) >= 4
        spacing = 2.0 * np.asarray(grid.spacing, float)
        self.coarse_edt = ndi.distance_transform_edt(coarse, sampling=tuple(spacing))
        self.tolerance = 2.0 * float(np.linalg.norm(spacing))

    def gap(
        self, *, offsets: np.ndarray, centre_index: np.ndarray, all_offsets: np.ndarray | None = None
    ) -> float:
        """Gap of a tumour (boundary voxel ``offsets``) centred at ``centre_index``.

        When the tumour sticks out of the specimen the result is 0, or, given all its voxel
        offsets, the gap of the part inside the specimen (what remains after clipping).
        """
        idx = offsets + centre_index
        shape = np.asarray(self.specimen.shape)
        protrudes = bool(np.any(idx < 0) or np.any(idx >= shape))
        if not protrudes:
            protrudes = not self.specimen[idx[:, 0], idx[:, 1], idx[:, 2]].all()
        if protrudes:
            if all_offsets is None:
                return 0.0
            idx = all_offsets + centre_index
            idx = idx[np.all((idx >= 0) & (idx < shape), axis=1)]
            idx = idx[self.specimen[idx[:, 0], idx[:, 1], idx[:, 2]]]
            if len(idx) == 0:
                return 0.0
        approx = self.coarse_edt[idx[:, 0] // 2, idx[:, 1] // 2, idx[:, 2] // 2]
        lowest = float(approx.min())
        idx = idx[approx <= lowest + self.tolerance]
        gaps = self._surface_gaps(index_to_xyz(self.grid, idx), upper_bound=lowest + 2 * self.tolerance)
        return float(gaps.min()) if np.isfinite(gaps).any() else lowest

    def _surface_gaps(self, xyz: np.ndarray, *, upper_bound: float = np.inf) -> np.ndarray:
        """Box gap from each point to its nearest surface voxels (inf when none lies within ``upper_bound``)."""
        k = min(4, len(self.surface.xyz))
        dist, nearest = self.surface.tree.query(xyz, k=k, distance_upper_bound=upper_bound)
        found = np.isfinite(dist.reshape(len(xyz), k))
        nearest = np.where(found, nearest.reshape(len(xyz), k), 0)
        gaps = box_gap(self.surface.xyz[nearest] - xyz[:, None, :], self.spacing_xyz)
        return np.where(found, gaps, np.inf).min(axis=1)

    def point_gaps(self, *, kji: np.ndarray) -> np.ndarray:
        """Box gap (mm) from each voxel ``kji`` (N, 3) to the surface; 0 outside the specimen."""
        kji = np.asarray(kji, int)
        shape = np.asarray(self.specimen.shape)
        gaps = np.zeros(len(kji))
        inside = np.all((kji >= 0) & (kji < shape), axis=1)
        inside[inside] = self.specimen[tuple(kji[inside].T)]
        if inside.any():
            gaps[inside] = self._surface_gaps(index_to_xyz(self.grid, kji[inside]))
        return gaps


def trim_spicules(
    *, shape: TumourShape, probe: GapProbe, centre_index: np.ndarray, min_gap_mm: float
) -> TumourShape:
    """``shape`` without the spicule voxels that would come closer than ``min_gap_mm`` to the surface."""
    spicule_idx = np.argwhere(shape.mask & ~shape.body)
    if len(spicule_idx) == 0:
        return shape
    gaps = probe.point_gaps(kji=spicule_idx - np.asarray(shape.centre_index) + np.asarray(centre_index))
    mask = shape.mask.copy()
    mask[tuple(spicule_idx[gaps < min_gap_mm].T)] = False
    mask = largest_component(mask=mask, connectivity=ALL_NEIGHBOURS)
    return replace(
        shape, mask=mask, body=shape.body & mask, uptake=np.where(mask, shape.uptake, 0.0).astype(np.float32)
    )


def _ray_index(grid: Grid, origin_xyz: np.ndarray, direction: np.ndarray, s: float) -> np.ndarray:
    kji = grid.patient_to_index((origin_xyz + s * direction)[None])[0]
    return np.round(kji).astype(int)


def _exit_distance(specimen: np.ndarray, grid: Grid, origin_xyz: np.ndarray, direction: np.ndarray) -> float:
    step = min(grid.spacing) / 2
    s = 0.0
    shape = np.asarray(specimen.shape)
    while True:
        idx = _ray_index(grid, origin_xyz, direction, s)
        if np.any(idx < 0) or np.any(idx >= shape) or not specimen[tuple(idx)]:
            return s
        s += step


def place_primary(
    *,
    rng: np.random.Generator,
    shape: TumourShape,
    probe: GapProbe,
    origin_xyz: np.ndarray,
    direction: np.ndarray,
    category: str,
    gap_range_mm: tuple[float, float] | None,
    protrusion_mm: float = 0.0,
) -> Placement | None:
    """Position ``shape`` on the ray so the gap matches the category; ``None`` if impossible.

    For ``close``/``clear`` the target gap is drawn from ``gap_range_mm`` (its upper end is
    lowered to what the ray allows); ``transected`` pushes the tumour ``protrusion_mm``
    beyond first contact.
    """
    whole_offsets = shape.boundary_offsets()
    # Close and transected are decided by the mass (see the module docstring); clear by everything.
    by_mass = category in ("close", "transected")
    offsets = shape.boundary_offsets(body_only=True) if by_mass else whole_offsets
    all_offsets = np.argwhere(shape.body if by_mass else shape.mask) - np.asarray(shape.centre_index)
    grid = probe.grid
    s_exit = _exit_distance(probe.specimen, grid, origin_xyz, direction)

    def gap_at(s: float) -> float:
        centre = _ray_index(grid, origin_xyz, direction, s)
        return probe.gap(offsets=offsets, centre_index=centre, all_offsets=all_offsets)

    gap0 = gap_at(0.0)
    if category == "transected":
        if gap0 <= 0.0:
            return None
        lo, hi = 0.0, s_exit  # gap(lo) > 0, gap(hi) == 0
        for _ in range(14):
            mid = 0.5 * (lo + hi)
            if gap_at(mid) > 0.0:
                lo = mid
            else:
                hi = mid
        s = hi + protrusion_mm
        while gap_at(s) > 0.0 and s > hi:  # the cut part must still touch the surface
            s -= min(grid.spacing)
        if gap_at(s) > 0.0:
            return None
        centre = _ray_index(grid, origin_xyz, direction, s)
        return Placement(shape, tuple(int(c) for c in centre), category, None, 0.0)

    assert gap_range_mm is not None
    low, high = gap_range_mm
    high = min(high, gap0 - 0.05)
    if high < low:
        return None
    target_gap_mm = float(rng.uniform(low, high))
    lo, hi = 0.0, s_exit  # gap(lo) >= target > gap(hi)
    best_s, best_err = 0.0, abs(gap0 - target_gap_mm)
    for _ in range(16):
        mid = 0.5 * (lo + hi)
        g = gap_at(mid)
        if abs(g - target_gap_mm) < best_err:
            best_s, best_err = mid, abs(g - target_gap_mm)
        if g >= target_gap_mm:
            lo = mid
        else:
            hi = mid
        if hi - lo < min(grid.spacing) / 4:
            break
    # keep the position on the safe side of the category boundary
    s = best_s
    g = gap_at(s)
    if category == "close" and g <= 0.0:
        s, g = lo, gap_at(lo)
    centre = _ray_index(grid, origin_xyz, direction, s)
    if category == "close":
        # Spicules stop where the mass does: a tip crossing the surface would make it transected.
        shape = trim_spicules(shape=shape, probe=probe, centre_index=centre, min_gap_mm=g)
        g = probe.gap(offsets=shape.boundary_offsets(), centre_index=centre)
    return Placement(shape, tuple(int(c) for c in centre), category, target_gap_mm, g)


def place_satellite(
    *,
    rng: np.random.Generator,
    shape: TumourShape,
    probe: GapProbe,
    min_gap_mm: float,
    avoid: list[tuple[np.ndarray, float]],
    tries: int = 40,
) -> Placement | None:
    """Random position inside the specimen with gap >= ``min_gap_mm`` away from ``avoid``."""
    offsets = shape.boundary_offsets()
    inside = np.argwhere(probe.specimen[::4, ::4, ::4]) * 4
    if len(inside) == 0:
        return None
    for _ in range(tries):
        centre = inside[rng.integers(len(inside))]
        xyz = index_to_xyz(probe.grid, centre[None])[0]
        if any(np.linalg.norm(xyz - c) < r + shape.radius_mm + 2.0 for c, r in avoid):
            continue
        g = probe.gap(offsets=offsets, centre_index=centre)
        if g >= min_gap_mm:
            return Placement(shape, tuple(int(c) for c in centre), "clear", min_gap_mm, g)
    return None


def paste(
    *,
    placement: Placement,
    mask: np.ndarray,
    uptake: np.ndarray | None = None,
    label: int | None = None,
    ids: np.ndarray | None = None,
) -> None:
    """Write the placed tumour into ``mask`` (bool), ``uptake`` (max) and ``ids`` (label)."""
    shape = placement.shape
    start = np.asarray(placement.centre_index) - np.asarray(shape.centre_index)
    stop = start + np.asarray(shape.mask.shape)
    lo = np.maximum(start, 0)
    hi = np.minimum(stop, mask.shape)
    if np.any(hi <= lo):
        return
    dst = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
    src = tuple(slice(a - s, b - s) for a, b, s in zip(lo, hi, start, strict=True))
    piece = shape.mask[src]
    mask[dst] |= piece
    if uptake is not None:
        np.maximum(uptake[dst], np.where(piece, shape.uptake[src], 0.0), out=uptake[dst])
    if ids is not None and label is not None:
        ids[dst][piece] = label
