"""Surgical clips of the legacy phantoms: metal capsules just under the specimen surface."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cases.imaging.volume import Grid
from cases.phantoms.fields import axis_coords
from cases.phantoms.shape_math import (
    random_unit_vector,
)


def _paint_capsule(
    out: np.ndarray,
    *,
    grid: Grid,
    start: np.ndarray,
    end: np.ndarray,
    radius_start: float,
    radius_end: float,
) -> None:
    """Set voxels of ``out`` within a tapered rod from ``start`` to ``end`` (mm) to True."""
    rmax = max(radius_start, radius_end)
    lo = np.minimum(start, end) - rmax
    hi = np.maximum(start, end) + rmax
    idx_lo = np.floor(grid.patient_to_index(lo[None])[0]).astype(int)
    idx_hi = np.ceil(grid.patient_to_index(hi[None])[0]).astype(int)
    a = np.minimum(idx_lo, idx_hi)
    b = np.maximum(idx_lo, idx_hi)
    a = np.clip(a, 0, np.asarray(grid.shape) - 1)
    b = np.clip(b, 0, np.asarray(grid.shape) - 1)
    if np.any(b < a):
        return
    zc, yc, xc = axis_coords(grid)
    z = zc[a[0] : b[0] + 1][:, None, None]
    y = yc[a[1] : b[1] + 1][None, :, None]
    x = xc[a[2] : b[2] + 1][None, None, :]
    d = end - start
    length2 = float(d @ d)
    if length2 == 0:
        return
    t = ((x - start[0]) * d[0] + (y - start[1]) * d[1] + (z - start[2]) * d[2]) / length2
    t = np.clip(t, 0.0, 1.0)
    dist2 = (x - start[0] - t * d[0]) ** 2 + (y - start[1] - t * d[1]) ** 2 + (z - start[2] - t * d[2]) ** 2
    rad = radius_start + (radius_end - radius_start) * t
    out[a[0] : b[0] + 1, a[1] : b[1] + 1, a[2] : b[2] + 1] |= dist2 < rad * rad


# ----------------------------------------------------------------------------- clips


@dataclass(frozen=True)
class Clip:
    """A straight metal rod (surgical clip limb)."""

    start: np.ndarray  # mm
    end: np.ndarray  # mm
    diameter_mm: float

    def to_dict(self) -> dict:
        return {
            "start_mm": [round(float(v), 3) for v in self.start],
            "end_mm": [round(float(v), 3) for v in self.end],
            "diameter_mm": round(float(self.diameter_mm), 3),
        }


def paint_clips(*, grid: Grid, clips: list[Clip]) -> np.ndarray:
    out = np.zeros(grid.shape, bool)
    for clip in clips:
        _paint_capsule(
            out,
            grid=grid,
            start=clip.start,
            end=clip.end,
            radius_start=clip.diameter_mm / 2,
            radius_end=clip.diameter_mm / 2,
        )
    return out


def build_clips(
    *,
    rng: np.random.Generator,
    surface_xyz: np.ndarray,
    normals_xyz: np.ndarray,
    avoid_xyz: list[tuple[np.ndarray, float]],
    count: int,
) -> list[Clip]:
    """Clips lying tangentially 0.3-1.5 mm under random surface points (away from the plate
    face and from the ``(centre, radius)`` regions in ``avoid_xyz``). A clip is a V of two
    rods or a single rod."""
    clips: list[Clip] = []
    candidates = np.nonzero(normals_xyz[:, 1] < 0.5)[0]
    if len(candidates) == 0:
        return clips
    tries = 0
    while len(clips) < count and tries < 50 * max(count, 1):
        tries += 1
        pick = int(candidates[rng.integers(len(candidates))])
        point, normal = surface_xyz[pick], normals_xyz[pick]
        if any(np.linalg.norm(point - c) < r + 3.0 for c, r in avoid_xyz):
            continue
        diameter = rng.uniform(0.5, 0.8)
        depth = rng.uniform(0.3, 1.5) + diameter / 2
        centre = point - normal * depth
        tangent = np.cross(normal, random_unit_vector(rng))
        if np.linalg.norm(tangent) < 1e-6:
            continue
        tangent /= np.linalg.norm(tangent)
        length = rng.uniform(3.0, 6.0)
        if rng.random() < 0.5:
            clips.append(Clip(centre - tangent * length / 2, centre + tangent * length / 2, diameter))
        else:  # V-shaped clip: two limbs meeting at one end
            other = np.cross(normal, tangent)
            angle = np.deg2rad(rng.uniform(15, 35))
            apex = centre - tangent * length / 2
            for sign in (-1.0, 1.0):
                limb = tangent * np.cos(angle) + sign * other * np.sin(angle)
                clips.append(Clip(apex, apex + limb * length, diameter))
        avoid_xyz = [*avoid_xyz, (centre, length)]
    return clips
