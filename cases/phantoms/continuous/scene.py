"""A continuous scene: specimen, tumour at an exact margin, tray and wrapping (patient LPS mm, +y down).

Wrappings: ``none`` (specimen flat on the tray), ``film`` (a bag film, 0.1-0.3 mm, -150..0 HU,
wrapped tightly all round, under the specimen too, plus a free tail), ``container`` (specimen
pressed flat against a rigid wall, plane or cylinder, 1-2.5 mm, -150..+100 HU; the tumour is
placed towards that wall), ``gauze`` (a gauze pad of fibres between specimen and tray).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq

from cases.phantoms.anatomy import rotation_matrix
from cases.phantoms.config import SizePreset
from cases.phantoms.continuous.margins import closest_margin_mm
from cases.phantoms.continuous.shapes import (
    Blob,
    ContinuousSpecimen,
    HalfSpace,
    SphereUnion,
    VerticalCylinder,
)

WRAPPINGS: tuple[str, ...] = ("none", "film", "container", "gauze")
DOWN = np.array([0.0, 1.0, 0.0])


@dataclass(frozen=True)
class Wrapping:
    kind: str
    tray_top_y: float
    tray_thickness_mm: float
    film_mm: float = 0.0
    film_tail: dict = field(default_factory=dict)  # point, normal, direction, length, width
    wall: HalfSpace | VerticalCylinder | None = None
    wall_thickness_mm: float = 0.0
    gauze_mm: float = 0.0
    gauze_pitch_mm: float = 1.0
    gauze_thread_mm: float = 0.15  # radius

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "tray_top_y_mm": self.tray_top_y, "tray_thickness_mm": self.tray_thickness_mm}
        if self.kind == "film":
            out["film_thickness_mm"] = self.film_mm
        if self.wall is not None:
            shape = "plane" if isinstance(self.wall, HalfSpace) else "cylinder"
            out["container_wall"] = {"shape": shape, "thickness_mm": self.wall_thickness_mm}
        if self.kind == "gauze":
            out["gauze_thickness_mm"] = self.gauze_mm
        return out


def build_blob(*, rng: np.random.Generator, preset: SizePreset) -> Blob:
    long = rng.uniform(*preset.specimen_long_mm)
    width = min(long * rng.uniform(*preset.specimen_width_frac), preset.max_width_mm)
    height = min(long * rng.uniform(*preset.specimen_height_frac), preset.max_height_mm) / 0.85
    k = int(rng.integers(6, 10))
    dirs = rng.standard_normal((k, 3))
    return Blob(
        centre=np.zeros(3),
        rotation=rotation_matrix(
            yaw_deg=rng.uniform(0, 360), pitch_deg=rng.uniform(-8, 8), roll_deg=rng.uniform(-8, 8)
        ),
        semi_axes=np.array([width / 2, height / 2, long / 2]),
        bump_dirs=dirs / np.linalg.norm(dirs, axis=1, keepdims=True),
        bump_amps=rng.uniform(-0.07, 0.07, size=k),
        bump_widths=rng.uniform(0.4, 0.7, size=k),
    )


def build_scene(
    *, rng: np.random.Generator, preset: SizePreset, wrapping: str
) -> tuple[ContinuousSpecimen, Wrapping, np.ndarray]:
    """Specimen, wrapping and the outward direction the tumour should be placed towards."""
    blob = build_blob(rng=rng, preset=preset)
    bottom_y = float(blob.radius(DOWN[None])[0]) * rng.uniform(0.65, 0.8)  # flattened on the tray
    cuts: list = [HalfSpace(normal=DOWN.copy(), offset=bottom_y)]
    azimuth = rng.uniform(0, 2 * np.pi)
    side = np.array([np.cos(azimuth), rng.uniform(-0.25, 0.05), np.sin(azimuth)])
    side /= np.linalg.norm(side)
    tray = float(rng.uniform(3.0, 5.0))  # as the legacy holder plate
    if wrapping == "film":
        film = float(rng.uniform(0.1, 0.3))
        tail_dir = np.array([-np.cos(azimuth), -0.2, -np.sin(azimuth)])
        tail_dir /= np.linalg.norm(tail_dir)
        tail_normal = np.cross(tail_dir, DOWN)
        tail_normal /= np.linalg.norm(tail_normal)
        spec = ContinuousSpecimen(blob=blob, cuts=tuple(cuts))
        start = blob.surface_point(tail_dir[None])[0] - 1.0 * tail_dir
        tail = {"point": start, "normal": tail_normal, "direction": tail_dir,
                "length": float(rng.uniform(6, 10)), "width": float(rng.uniform(6, 10))}
        return spec, Wrapping("film", bottom_y + film, tray, film_mm=film, film_tail=tail), side
    if wrapping == "container":
        w = np.array([np.cos(azimuth), 0.0, np.sin(azimuth)])
        reach = float(blob.radius(w[None])[0])
        cut_at = reach * (1.0 - rng.uniform(0.12, 0.25))  # pressed flat over a wide contact
        if rng.random() < 0.5:
            wall = HalfSpace(normal=w, offset=cut_at)
        else:
            radius = float(rng.uniform(25.0, 40.0))
            axis = (cut_at - radius) * w
            wall = VerticalCylinder(axis_xz=np.array([axis[0], axis[2]]), radius=radius)
        cuts.append(wall)
        spec = ContinuousSpecimen(blob=blob, cuts=tuple(cuts))
        wrap = Wrapping("container", bottom_y, tray, wall=wall, wall_thickness_mm=float(rng.uniform(1.0, 2.5)))
        return spec, wrap, w
    spec = ContinuousSpecimen(blob=blob, cuts=tuple(cuts))
    if wrapping == "gauze":
        gauze = float(rng.uniform(1.0, 1.6))
        return spec, Wrapping("gauze", bottom_y + gauze, tray, gauze_mm=gauze,
                              gauze_pitch_mm=float(rng.uniform(0.8, 1.2)),
                              gauze_thread_mm=float(rng.uniform(0.1, 0.15))), side
    if wrapping != "none":
        raise ValueError(f"wrapping must be one of {WRAPPINGS}")
    return spec, Wrapping("none", bottom_y, tray), side


def build_tumour(*, rng: np.random.Generator, radius: float) -> SphereUnion:
    n = int(rng.integers(2, 5))
    dirs = rng.standard_normal((n, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    centres = np.vstack([np.zeros(3), dirs * radius * rng.uniform(0.35, 0.65, size=(n, 1))])
    radii = np.concatenate([[radius], radius * rng.uniform(0.4, 0.7, size=n)])
    return SphereUnion(centres=centres, radii=radii, focus=np.ones(n + 1, int))


def _raw_margin(specimen: ContinuousSpecimen, tumour: SphereUnion) -> float:
    return float(min(specimen.depth(c) - r for c, r in zip(tumour.centres, tumour.radii, strict=True)))


def place_tumour(
    *, rng: np.random.Generator, specimen: ContinuousSpecimen, tumour: SphereUnion, direction: np.ndarray,
    margin_mm: float,
) -> SphereUnion:
    """Slide ``tumour`` from the specimen's interior along ``direction`` until its exact closest
    margin is ``margin_mm`` (root of a continuous function, to 1e-6 mm)."""
    top = float(specimen.blob.radius(-DOWN[None])[0])
    start = specimen.blob.centre + np.array([0.0, 0.5 * (specimen.cuts[0].offset - top), 0.0])
    start = start + rng.uniform(-0.1, 0.1, size=3) * specimen.blob.semi_axes

    def f(t: float) -> float:
        return _raw_margin(specimen, tumour.shifted(start + t * direction)) - margin_mm

    if f(0.0) <= 0:
        raise ValueError("tumour does not fit")
    lo, hi = 0.0, 1.0
    while f(hi) > 0:
        lo, hi = hi, hi + 1.0
        if hi > 200:
            raise ValueError("tumour never reaches the surface")
    t = brentq(f, lo, hi, xtol=1e-7)
    return tumour.shifted(start + t * direction)


def add_satellite(
    *, rng: np.random.Generator, specimen: ContinuousSpecimen, tumour: SphereUnion, radius: float,
    min_margin_mm: float,
) -> SphereUnion:
    lo = specimen.blob.centre - specimen.blob.semi_axes
    hi = specimen.blob.centre + specimen.blob.semi_axes
    for _ in range(60):
        c = rng.uniform(lo, hi)
        if not specimen.inside(c[None])[0] or tumour.excess(c[None])[0] < radius + 3.0:
            continue
        if specimen.depth(c) - radius >= min_margin_mm:
            return SphereUnion(
                centres=np.vstack([tumour.centres, c]),
                radii=np.append(tumour.radii, radius),
                focus=np.append(tumour.focus, 2),
            )
    return tumour


def draw_margin(*, rng: np.random.Generator, band: bool) -> float:
    """0.3-2.5 mm in band mode; else 0-4 mm with about two thirds in 0.5-2 mm."""
    if band:
        return float(rng.uniform(0.3, 2.5))
    return float(rng.uniform(0.5, 2.0) if rng.random() < 0.45 else rng.uniform(0.0, 4.0))


def place_foci(
    *, rng: np.random.Generator, preset: SizePreset, specimen: ContinuousSpecimen, direction: np.ndarray,
    margin_mm: float,
) -> SphereUnion:
    radius = 0.5 * rng.uniform(*preset.tumour_diameter_mm)
    radius = min(radius, 0.3 * float(np.min(specimen.blob.semi_axes)))
    for _ in range(8):
        try:
            primary = place_tumour(
                rng=rng, specimen=specimen, tumour=build_tumour(rng=rng, radius=radius),
                direction=direction, margin_mm=margin_mm,
            )
            break
        except ValueError:
            radius *= 0.8
    else:
        raise RuntimeError("could not place the tumour")
    if rng.random() < 0.3:
        sat_radius = 0.5 * rng.uniform(*preset.satellite_diameter_mm)
        primary = add_satellite(
            rng=rng, specimen=specimen, tumour=primary, radius=sat_radius,
            min_margin_mm=margin_mm + rng.uniform(0.3, 3.0),
        )
    assert abs(closest_margin_mm(specimen=specimen, tumour=primary) - margin_mm) < 1e-4
    return primary
