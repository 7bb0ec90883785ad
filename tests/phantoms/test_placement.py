"""Margin categories are placed by the tumour's mass; spicule tips never decide them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from cases.imaging.volume import Grid
from cases.phantoms.anatomy import build_tumour
from cases.phantoms.placement import GapProbe, paste, place_primary
from cases.phantoms.truth import measure_margins, surface_model

GRID = Grid(shape=(60, 60, 80), spacing=(0.4, 0.4, 0.4), origin=(-16.0, -12.0, -12.0))


def _box_specimen() -> np.ndarray:
    specimen = np.zeros(GRID.shape, bool)
    specimen[5:-5, 5:-5, 5:-5] = True
    return specimen


def _place(category: str, seed: int):
    specimen = _box_specimen()
    probe = GapProbe(specimen=specimen, grid=GRID, surface=surface_model(specimen=specimen, grid=GRID))
    rng = np.random.default_rng(seed)
    for _ in range(20):  # as the generator does: a new shape when one cannot be placed
        shape = build_tumour(rng=rng, spacing=GRID.spacing, diameter_mm=5.0, spiculated=True)
        placement = place_primary(
            rng=rng,
            shape=shape,
            probe=probe,
            origin_xyz=np.array([0.0, 0.0, 0.0]),
            direction=np.array([1.0, 0.0, 0.0]),
            category=category,
            gap_range_mm={"close": (0.4, 0.8), "clear": (2.2, 4.0)}.get(category),
            protrusion_mm=0.5,
        )
        if placement is not None:
            break
    assert placement is not None and placement.shape.n_spicules > 0

    def margin(shape_mask: np.ndarray) -> float:
        tumour = np.zeros(GRID.shape, bool)
        paste(placement=replace(placement, shape=replace(placement.shape, mask=shape_mask)), mask=tumour)
        return measure_margins(specimen=specimen, tumour=tumour & specimen, grid=GRID).closest_mm

    return margin(placement.shape.body), margin(placement.shape.mask)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_transected_means_the_mass_is_cut(seed):
    mass_mm, whole_mm = _place("transected", seed)
    assert mass_mm == 0.0 and whole_mm == 0.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_close_means_the_mass_is_close_and_no_spicule_is_cut(seed):
    mass_mm, whole_mm = _place("close", seed)
    assert 0.0 < mass_mm < 1.0
    assert 0.0 < whole_mm <= mass_mm


@pytest.mark.parametrize("seed", [0, 1])
def test_clear_keeps_spicules_clear_too(seed):
    mass_mm, whole_mm = _place("clear", seed)
    assert whole_mm > 2.0 and mass_mm >= whole_mm
