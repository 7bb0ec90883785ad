"""Margin analysis between continuous surfaces, against geometry whose answers are known exactly.

The old voxel-box expectations (distances in whole voxels, integer closest-point indices, ``inf``
for a face without tumour) are gone with the voxel-box convention: distances are now between
sub-voxel iso-surfaces, so expectations are exact geometric gaps within the method's precision.
For binary masks the 0.5 iso-surface runs along the voxel faces, so flat box gaps are unchanged.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from cases.imaging.volume import Grid
from inference.engine.margins import analyse_margins
from tests.engine.margin_fields import ball, partial_volume, slab

SPACING = (0.5, 0.5, 0.5)
SHAPE = (44, 48, 48)
PRECISION_MM = 0.15  # per-case bound; the benchmark reports the distribution (p95 well below)
SPECIMEN_LOW, SPECIMEN_HIGH = (2.0, 2.0, 2.0), (20.0, 22.0, 22.0)


def _analyse(tumour, specimen, **options):
    return analyse_margins(tumour_probability=tumour, specimen_occupancy=specimen, spacing=SPACING, **options)


@pytest.mark.parametrize("gap", [0.3, 0.8, 1.2, 2.0])
@pytest.mark.parametrize("offset", [0.0, 0.13, 0.29])
def test_sphere_near_a_plane(gap, offset):
    low = (SPECIMEN_LOW[0] + offset, *SPECIMEN_LOW[1:])
    specimen = partial_volume(SHAPE, SPACING, slab(low, SPECIMEN_HIGH))
    centre = (low[0] + gap + 3.0, 12.0 + offset, 11.9)
    tumour = partial_volume(SHAPE, SPACING, ball(centre, 3.0))
    result = _analyse(tumour, specimen)
    assert result.closest_mm == pytest.approx(gap, abs=PRECISION_MM)
    assert result.status == ("positive" if gap <= 1.0 else "negative")
    # The closest-point pair sits on the approach axis: tumour pole and the -z face below it.
    assert result.tumour_point.index_kji[0] * SPACING[0] == pytest.approx(centre[0] - 3.0, abs=PRECISION_MM)
    assert result.surface_point.index_kji[0] * SPACING[0] == pytest.approx(low[0], abs=PRECISION_MM)
    faces = {f.face: f.distance_mm for f in result.faces}
    assert faces["-z"] == result.closest_mm
    assert faces["+z"] == pytest.approx(SPECIMEN_HIGH[0] - centre[0] - 3.0, abs=PRECISION_MM)
    json.dumps(result.to_dict(), allow_nan=False)


@pytest.mark.parametrize("gap", [0.3, 0.8, 1.2, 2.0])
def test_sphere_in_a_round_specimen(gap):
    specimen_centre, specimen_radius, radius = np.array([11.0, 12.0, 12.0]), 9.7, 2.5
    direction = np.array([0.3, -0.5, 0.81]) / np.linalg.norm([0.3, -0.5, 0.81])
    centre = specimen_centre + direction * (specimen_radius - gap - radius)
    specimen = partial_volume(SHAPE, SPACING, ball(specimen_centre, specimen_radius))
    tumour = partial_volume(SHAPE, SPACING, ball(centre, radius))
    result = _analyse(tumour, specimen)
    assert result.closest_mm == pytest.approx(gap, abs=PRECISION_MM)
    along = (np.asarray(result.surface_point.index_kji) * SPACING - specimen_centre) / specimen_radius
    assert along @ direction == pytest.approx(1.0, abs=0.02)  # the surface end lies on the approach ray


def test_satellite_focus_sets_the_margin_and_tiny_specks_are_ignored():
    specimen = partial_volume(SHAPE, SPACING, slab(SPECIMEN_LOW, SPECIMEN_HIGH))
    main = partial_volume(SHAPE, SPACING, ball((11.0, 12.0, 12.0), 3.0))  # 6 mm from every side
    satellite = partial_volume(SHAPE, SPACING, ball((11.0, 12.0, 2.0 + 0.7 + 1.2), 1.2))  # 0.7 mm, 7.2 mm3
    speck = partial_volume(SHAPE, SPACING, ball((11.0, 2.0 + 0.3 + 0.5, 12.0), 0.5))  # 0.5 mm3: noise
    result = _analyse(np.maximum.reduce([main, satellite, speck]), specimen)
    assert result.n_foci == 2 and len(result.foci) == 2
    assert result.closest_mm == pytest.approx(0.7, abs=PRECISION_MM) and result.status == "positive"
    volumes = sorted(f.volume_mm3 for f in result.foci)
    assert volumes[0] == pytest.approx(4 / 3 * np.pi * 1.2**3, rel=0.25)
    assert sorted(f.closest_mm for f in result.foci)[1] == pytest.approx(6.0, abs=PRECISION_MM)
    bigger_minimum = _analyse(np.maximum(main, satellite), specimen, min_focus_volume_mm3=20.0)
    assert bigger_minimum.n_foci == 1 and bigger_minimum.closest_mm == pytest.approx(6.0, abs=PRECISION_MM)


def test_tumour_outside_the_specimen_is_clipped_at_zero():
    specimen = partial_volume(SHAPE, SPACING, slab(SPECIMEN_LOW, SPECIMEN_HIGH))
    tumour = partial_volume(SHAPE, SPACING, ball((3.0, 12.0, 12.0), 2.5))  # pokes 1.5 mm out of the -z face
    result = _analyse(tumour, specimen)
    assert result.closest_mm == 0.0 and result.status == "positive"
    cap = np.pi * 1.5**2 * (3 * 2.5 - 1.5) / 3  # volume of the spherical cap beyond z = 2 mm
    assert result.tumour_outside_specimen_mm3 == pytest.approx(cap, rel=0.3)
    assert {f.face: f.distance_mm for f in result.faces}["-z"] == 0.0
    assert result.surface_point.index_kji[0] * SPACING[0] == pytest.approx(2.0, abs=0.05)
    # Hot PET blur wholly in the air beside the specimen is no tumour in it.
    in_air = partial_volume(SHAPE, SPACING, ball((11.0, 12.0, 22.0 + 0.5 + 2.0), 2.0))
    assert _analyse(in_air, specimen).status == "no_tumour_detected"


def test_every_face_is_a_number_or_null_and_json_is_strict():
    # A prism, ridge up: the faces are finite distances (null is kept for a face with no surface).
    def prism(z, y, x):
        return (z > 2.0) & (y > 2.0) & (y < 22.0) & (np.abs(x - 12.0) < (20.0 - z) * 0.9)

    specimen = partial_volume(SHAPE, SPACING, prism)
    tumour = partial_volume(SHAPE, SPACING, ball((6.0, 12.0, 12.0), 2.0))
    data = _analyse(tumour, specimen).to_dict()
    faces = {f["face"]: f for f in data["faces"]}
    assert faces["-z"]["distance_mm"] == pytest.approx(2.0, abs=PRECISION_MM)
    assert all(f["distance_mm"] is None or f["distance_mm"] >= 0 for f in faces.values())
    text = json.dumps(data, allow_nan=False)
    assert "Infinity" not in text and "NaN" not in text


def _fold_case(fold_gaps):
    specimen = partial_volume(SHAPE, SPACING, slab(SPECIMEN_LOW, SPECIMEN_HIGH))
    folds = [partial_volume(SHAPE, SPACING, ball((2.0 + gap + 3.0, 12.0, 12.0), 3.0)) for gap in fold_gaps]
    return specimen, np.mean(folds, axis=0), folds


def test_fold_interval_and_indeterminate():
    specimen, mean, folds = _fold_case([0.6, 0.9, 1.4, 1.6])
    result = _analyse(mean, specimen, fold_probabilities=folds)
    low, high = result.interval_mm
    assert low == pytest.approx(0.6, abs=PRECISION_MM) and high == pytest.approx(1.6, abs=PRECISION_MM)
    assert [f.status for f in result.folds] == ["positive", "positive", "negative", "negative"]
    assert result.status == "indeterminate"
    assert json.loads(json.dumps(result.to_dict(), allow_nan=False))["interval_mm"] == [low, high]

    specimen, mean, folds = _fold_case([1.3, 1.6, 2.0])
    agreed = _analyse(mean, specimen, fold_probabilities=folds)
    assert agreed.status == "negative" and agreed.interval_mm[0] > 1.0


def test_masks_measure_the_gap_between_voxel_faces():
    """Binary masks still work: their surfaces are the voxel faces, so box gaps are whole voxels."""
    specimen = np.zeros((30, 30, 30), bool)
    specimen[3:27, 3:27, 3:27] = True
    tumour = np.zeros_like(specimen)
    tumour[7:12, 10:16, 10:16] = True  # 4 clear voxels below it along k
    result = analyse_margins(tumour_mask=tumour, specimen_mask=specimen, spacing=(1.0, 1.0, 1.0),
                             min_focus_volume_mm3=0.0)
    assert result.closest_mm == pytest.approx(4.0, abs=0.01)
    touching = np.zeros_like(specimen)
    touching[3:8, 10:16, 10:16] = True
    for threshold in (1.0, 0.0):
        found = analyse_margins(tumour_mask=touching, specimen_mask=specimen, spacing=(1, 1, 1),
                                threshold_mm=threshold)
        assert found.closest_mm == 0.0 and found.status == "positive"


def test_faces_follow_grid_direction_orientation_and_patient_points():
    specimen = partial_volume(SHAPE, SPACING, slab(SPECIMEN_LOW, SPECIMEN_HIGH))
    tumour = partial_volume(SHAPE, SPACING, ball((11.0, 12.0, 2.0 + 1.5 + 2.5), 2.5))  # 1.5 mm from low i
    grid = Grid(shape=SHAPE, spacing=SPACING, origin=(10.0, 0.0, 0.0),
                direction=((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, -1.0)))
    result = _analyse(tumour, specimen, grid=grid, orientation={"+x": "lateral"})
    faces = {f.face: f for f in result.faces}
    assert faces["+x"].distance_mm == pytest.approx(1.5, abs=PRECISION_MM)  # low i looks along +x here
    assert faces["+x"].anatomical == "lateral" and faces["-y"].anatomical is None
    assert result.surface_point.patient_mm[0] == pytest.approx(10.0 - 2.0, abs=0.05)
    with pytest.raises(ValueError, match="orientation"):
        _analyse(tumour, specimen, orientation={"up": "superior"})


def test_per_slice_in_plane_distances():
    specimen = partial_volume(SHAPE, SPACING, slab(SPECIMEN_LOW, SPECIMEN_HIGH))
    tumour = partial_volume(SHAPE, SPACING, ball((11.0, 12.0, 2.0 + 1.0 + 3.0), 3.0))
    result = _analyse(tumour, specimen)
    slices = {s.k: s for s in result.slices}
    centre = slices[22]  # z = 11 mm: the disc of radius 3 mm, 1 mm from x = 2 mm
    assert centre.distance_mm == pytest.approx(1.0, abs=PRECISION_MM)
    off = slices[26]  # z = 13 mm: radius sqrt(5) mm
    assert off.distance_mm == pytest.approx(1.0 + 3.0 - np.sqrt(5.0), abs=PRECISION_MM)
    assert centre.tumour_area_mm2 == pytest.approx(np.pi * 9.0, rel=0.1)


def test_suv_statistics_inputs_and_qc_pass_through():
    specimen = partial_volume(SHAPE, SPACING, slab(SPECIMEN_LOW, SPECIMEN_HIGH))
    tumour = partial_volume(SHAPE, SPACING, ball((11.0, 12.0, 12.0), 3.0))
    suv = np.where(tumour > 0.5, 4.0, 1.0).astype(np.float32)
    suv[22, 24, 24] = 9.5
    qc = [{"code": "touches_fov_edge", "message": "specimen touches the edge"}]
    inputs = {"working_spacing_mm": [0.5, 0.5, 0.5], "model_spacing_mm": 0.5, "spacing_matches": True,
              "pet_mode": "suv"}
    data = _analyse(tumour, specimen, suv=suv, specimen_qc=qc, inputs=inputs).to_dict()
    assert data["suv_max"] == pytest.approx(9.5) and 4.0 < data["suv_mean"] < 4.1
    assert data["specimen_qc"] == qc and data["inputs"] == inputs
    assert data["tumour_volume_ml"] == pytest.approx(4 / 3 * np.pi * 27 / 1000, rel=0.05)
    assert set(data) >= {"status", "threshold_mm", "closest_mm", "interval_mm", "folds", "tumour_point",
                         "surface_point", "faces", "slices", "foci", "n_foci", "tumour_outside_specimen_mm3",
                         "specimen_volume_ml", "method"}


def test_no_tumour_and_bad_inputs():
    specimen = partial_volume(SHAPE, SPACING, slab(SPECIMEN_LOW, SPECIMEN_HIGH))
    empty = _analyse(np.zeros(SHAPE, np.float32), specimen)
    assert empty.status == "no_tumour_detected" and empty.closest_mm is None and empty.faces == ()
    json.dumps(empty.to_dict(), allow_nan=False)
    with pytest.raises(ValueError, match="empty|0.5"):
        _analyse(np.zeros(SHAPE, np.float32), np.zeros(SHAPE, np.float32))
    with pytest.raises(ValueError, match="grid spacing"):
        _analyse(specimen, specimen, grid=Grid(shape=SHAPE, spacing=(1, 1, 1), origin=(0, 0, 0)))
    with pytest.raises(ValueError, match="finite"):
        _analyse(np.full(SHAPE, np.nan, np.float32), specimen)


@pytest.mark.parametrize("code, expected", [("leak_suspected", "indeterminate"), ("fov_edge", "indeterminate"),
                                            ("implausible_volume", "indeterminate"), ("thick_wrapping_layer", "indeterminate"),
                                            ("wrapping_removed", "negative")])
def test_a_negative_call_on_a_surface_that_may_include_non_specimen_fails_safe(code, expected):
    specimen = partial_volume(SHAPE, SPACING, slab(SPECIMEN_LOW, SPECIMEN_HIGH))
    tumour = partial_volume(SHAPE, SPACING, ball((11.0, 12.0, 12.0), 3.0))  # about 6 mm from every face
    qc = [{"code": code, "message": "from the specimen surface"}]
    result = _analyse(tumour, specimen, specimen_qc=qc)
    assert result.closest_mm > 4.0 and result.status == expected
    near = partial_volume(SHAPE, SPACING, ball((SPECIMEN_LOW[0] + 3.5, 12.0, 12.0), 3.0))  # 0.5 mm: positive
    assert _analyse(near, specimen, specimen_qc=qc).status == "positive"
