"""Where a legacy phantom's tumours go: primary at a margin category, optional satellite."""

from __future__ import annotations

import numpy as np

from cases.imaging.components import ALL_NEIGHBOURS, largest_component
from cases.imaging.volume import Grid
from cases.phantoms import config as C
from cases.phantoms.anatomy import build_tumour
from cases.phantoms.placement import GapProbe, Placement, place_primary, place_satellite
from cases.phantoms.truth import index_to_xyz


def place_tumours(
    *,
    rng: np.random.Generator,
    tumour_rng: np.random.Generator,
    preset: C.SizePreset,
    specimen: np.ndarray,
    grid: Grid,
    probe: GapProbe,
    extent_mm: np.ndarray,
    category: str,
) -> list[Placement]:
    min_dim = float(np.min(extent_mm))
    cap = max(3.0, 0.55 * min_dim - 2.0)
    diameter = min(tumour_rng.uniform(*preset.tumour_diameter_mm), cap)
    spiculated = bool(tumour_rng.random() < 0.6)
    centre = index_to_xyz(grid, np.argwhere(specimen[::3, ::3, ::3]) * 3).mean(axis=0)
    primary: Placement | None = None
    for attempt in range(12):
        if attempt and attempt % 3 == 0:
            diameter = max(2.5, diameter * 0.8)
        if attempt == 9:
            spiculated = False
        shape = build_tumour(
            rng=tumour_rng, spacing=grid.spacing, diameter_mm=diameter, spiculated=spiculated
        )
        direction = np.array([0.0, 1.0, 0.0])
        while direction[1] > 0.3:  # mostly sideways (the specimen is flat), not into the plate
            direction = rng.standard_normal(3) * np.array([1.0, 0.5, 1.0])
            direction /= np.linalg.norm(direction)
        origin = centre + rng.uniform(-0.1, 0.1, size=3) * extent_mm
        gap_range = {"close": C.CLOSE_GAP_MM, "clear": C.CLEAR_GAP_MM}.get(category)
        primary = place_primary(
            rng=rng,
            shape=shape,
            probe=probe,
            origin_xyz=origin,
            direction=direction,
            category=category,
            gap_range_mm=gap_range,
            protrusion_mm=float(rng.uniform(*C.TRANSECT_PROTRUSION_FRAC)) * shape.radius_mm,
        )
        if primary is not None:
            break
    if primary is None:
        raise RuntimeError("could not place the tumour")
    placements = [primary]
    if tumour_rng.random() < 0.3:
        sat_shape = build_tumour(
            rng=tumour_rng,
            spacing=grid.spacing,
            diameter_mm=tumour_rng.uniform(*preset.satellite_diameter_mm),
            spiculated=bool(tumour_rng.random() < 0.3),
            lobulated=False,
        )
        reach = primary.shape.radius_mm * 1.45 + (8.0 if primary.shape.n_spicules else 0.0)
        primary_xyz = index_to_xyz(grid, np.asarray(primary.centre_index)[None])[0]
        satellite = place_satellite(
            rng=rng,
            shape=sat_shape,
            probe=probe,
            min_gap_mm=max(C.MIN_SATELLITE_GAP_MM, primary.estimated_gap_mm if category == "clear" else 0.0),
            avoid=[(primary_xyz, reach)],
        )
        if satellite is not None:
            placements.append(satellite)
    return placements


def keep_main_components(
    *, placements: list[Placement], tumour: np.ndarray, ids: np.ndarray, uptake: np.ndarray
) -> None:
    """After clipping to the specimen keep each tumour's largest connected piece."""
    for number, placement in enumerate(placements, start=1):
        origin = np.asarray(placement.centre_index) - np.asarray(placement.shape.centre_index)
        start = np.maximum(origin, 0)
        stop = np.minimum(origin + np.asarray(placement.shape.mask.shape), tumour.shape)
        crop = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
        mine = ids[crop] == number
        keep = largest_component(mask=mine, connectivity=ALL_NEIGHBOURS)
        drop = mine & ~keep
        if drop.any():
            tumour[crop][drop] = False
            ids[crop][drop] = 0
            uptake[crop][drop] = 0.0
