"""The folds' interval a reader can trust: whole case and per slice (lamella), against known geometry.

The ensemble's mean-probability surface is no fold's surface: two folds whose tumours are shifted
sideways agree on the distance, but the mean at a 0.7 decision level keeps only where both see
tumour (a lens), whose pole lies farther from the surface than either fold's. The interval must
still hold the distance shown, and the call must be indeterminate when the ensemble and the folds
disagree about the threshold.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.engine.margins import analyse_margins
from tests.engine.margin_fields import ball, partial_volume, slab

SPACING = (0.5, 0.5, 0.5)
SHAPE = (44, 48, 48)
PRECISION_MM = 0.15
# At a 0.7 decision level the iso-surface of a partial-volume ball lies up to ~0.2 mm inside the ball.
AT_LEVEL_07_MM = 0.25
SPECIMEN = partial_volume(SHAPE, SPACING, slab((2.0, 2.0, 2.0), (20.0, 22.0, 22.0)))


def _sideways_folds(gap_mm: float, shift_mm: float = 1.5, radius: float = 3.0) -> list[np.ndarray]:
    """Two balls ``gap_mm`` above the -z face, shifted +-``shift_mm`` along x (parallel to the face)."""
    z = 2.0 + gap_mm + radius
    return [partial_volume(SHAPE, SPACING, ball((z, 12.0, 12.0 + side * shift_mm), radius)) for side in (-1, 1)]


def _lens_gap(gap_mm: float, shift_mm: float = 1.5, radius: float = 3.0) -> float:
    return gap_mm + radius - np.sqrt(radius**2 - shift_mm**2)  # pole of the two balls' intersection


def test_an_ensemble_distance_beyond_every_fold_lies_inside_the_interval_and_the_call_is_indeterminate():
    folds = _sideways_folds(0.8)
    result = analyse_margins(tumour_probability=np.mean(folds, axis=0), fold_probabilities=folds, tumour_level=0.7,
                             specimen_occupancy=SPECIMEN, spacing=SPACING, threshold_mm=1.0)
    fold_distances = [f.closest_mm for f in result.folds]
    assert fold_distances == pytest.approx([0.8, 0.8], abs=AT_LEVEL_07_MM)
    assert result.closest_mm == pytest.approx(_lens_gap(0.8), abs=AT_LEVEL_07_MM)  # about 1.2 mm
    assert result.closest_mm > max(fold_distances)  # the ensemble lies outside the folds' own range
    low, high = result.interval_mm
    assert low == min(fold_distances) and high == result.closest_mm
    # Both folds call it positive, the ensemble negative: the calls disagree about the threshold.
    assert [f.status for f in result.folds] == ["positive", "positive"]
    assert result.status == "indeterminate"
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["interval_mm"] == [low, high]


def test_when_every_call_agrees_the_interval_still_holds_the_distance_and_the_call_stands():
    folds = _sideways_folds(2.0)
    result = analyse_margins(tumour_probability=np.mean(folds, axis=0), fold_probabilities=folds, tumour_level=0.7,
                             specimen_occupancy=SPECIMEN, spacing=SPACING, threshold_mm=1.0)
    low, high = result.interval_mm
    assert low <= result.closest_mm <= high and high == result.closest_mm
    assert low == pytest.approx(2.0, abs=AT_LEVEL_07_MM) and result.closest_mm > low
    assert result.status == "negative"


def test_without_folds_there_is_no_interval():
    folds = _sideways_folds(0.8)
    result = analyse_margins(tumour_probability=np.mean(folds, axis=0), tumour_level=0.7,
                             specimen_occupancy=SPECIMEN, spacing=SPACING, threshold_mm=1.0)
    assert result.interval_mm is None and result.status == "negative"
    assert all(s.interval_mm is None and s.fold_distances_mm == () for s in result.slices)


def _in_plane_folds():
    """Three folds approaching the -y face in plane: 0.3 mm and 0.4 mm (r 3 mm), 1.6 mm (r 2 mm).

    Centred at z = 11 mm (slice 22). The mean at 0.5 is where two folds agree: within 1 mm on the
    central slice. 2.5 mm above it the small fold has no tumour and the others lie beyond 1 mm.
    """
    centres = [(11.0, 2.0 + 0.3 + 3.0, 12.0, 3.0), (11.0, 2.0 + 0.4 + 3.0, 12.0, 3.0), (11.0, 2.0 + 1.6 + 2.0, 12.0, 2.0)]
    return [partial_volume(SHAPE, SPACING, ball((z, y, x), r)) for z, y, x, r in centres]


def test_a_slice_where_the_folds_disagree_is_indeterminate_with_its_interval():
    folds = _in_plane_folds()
    result = analyse_margins(tumour_probability=np.mean(folds, axis=0), fold_probabilities=folds,
                             specimen_occupancy=SPECIMEN, spacing=SPACING, threshold_mm=1.0)
    by_k = {s.k: s for s in result.slices}
    central = by_k[22]
    assert central.distance_mm < 1.0
    assert list(central.fold_distances_mm) == pytest.approx([0.3, 0.4, 1.6], abs=PRECISION_MM)
    assert central.status == "indeterminate"
    low, high = central.interval_mm
    assert low == min(central.fold_distances_mm) and high == max(central.fold_distances_mm)
    assert low <= central.distance_mm <= high

    # 2.5 mm higher: the small fold has no tumour in the slice (None: it calls the slice negative)
    # and the others are beyond 1 mm in plane (0.3 or 0.4 + 3 - sqrt(9 - 2.5^2) mm): all negative.
    upper = by_k[27]
    assert upper.fold_distances_mm[2] is None
    assert list(upper.fold_distances_mm[:2]) == pytest.approx([0.3 + 1.34, 0.4 + 1.34], abs=PRECISION_MM)
    assert upper.status == "negative"
    assert upper.interval_mm[0] <= upper.distance_mm <= upper.interval_mm[1]

    # The ensemble's own per-slice distances are those of an analysis without folds.
    alone = analyse_margins(tumour_probability=np.mean(folds, axis=0), specimen_occupancy=SPECIMEN,
                            spacing=SPACING, threshold_mm=1.0)
    assert [(s.k, s.distance_mm) for s in alone.slices] == [(s.k, s.distance_mm) for s in result.slices]
    assert {s.status for s in alone.slices} <= {"positive", "negative"}

    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    entry = next(s for s in data["slices"] if s["k"] == 22)
    assert entry["status"] == "indeterminate" and entry["interval_mm"] == [low, high]
    assert next(s for s in data["slices"] if s["k"] == 27)["fold_distances_mm"][2] is None
