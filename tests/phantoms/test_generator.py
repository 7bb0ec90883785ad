"""Determinism, variety and margin categories of generated cases."""

from __future__ import annotations

import numpy as np
import pytest

from cases.phantoms import config as C
from cases.phantoms.generator import batch_categories, case_seed

TRUTH_KEYS = {
    "schema",
    "case_id",
    "seed",
    "size",
    "description",
    "ct_grid",
    "pet_grid",
    "closest_margin_mm",
    "closest_margin_centre_mm",
    "closest_face",
    "face_margins_mm",
    "margin_status",
    "margin_category",
    "target_margin_category",
    "margin_definition",
    "n_tumours",
    "tumour_volume_ml",
    "tumour_suv",
    "suv_per_bqml",
    "has_clips",
    "tumours",
    "specimen",
    "plate",
    "clips",
    "ct",
    "pet",
    "pet_calibration",
    "labels",
    "dicom",
}


def test_same_seed_same_case(batch_cases, regenerated):
    first, again = batch_cases[0], regenerated
    assert again.truth == first.truth
    for name in ("ct_stored", "pet_stored", "labels", "specimen_mask", "tumour_mask", "suv_true"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))
    assert again.pet_slopes == first.pet_slopes
    assert again.study == first.study


def test_case_seed_rule():
    assert case_seed(seed=1, index=0) == case_seed(seed=1, index=0)
    assert len({case_seed(seed=s, index=i) for s in range(3) for i in range(5)}) == 15


def test_variety_across_seeds(batch_cases):
    truths = [c.truth for c in batch_cases]
    assert len({tuple(c.ct_grid.shape) for c in batch_cases}) == len(batch_cases)
    assert len({round(t["tumour_volume_ml"], 4) for t in truths}) == len(truths)
    assert len({round(t["specimen"]["volume_ml"], 2) for t in truths}) == len(truths)
    assert len({round(t["suv_per_bqml"], 8) for t in truths}) == len(truths)
    assert len({round(t["ct"]["noise_sd_hu"], 2) for t in truths}) > 1
    assert {t["has_clips"] for t in truths} == {True, False}
    assert len({t["dicom"]["study_instance_uid"] for t in truths}) == len(truths)


def test_positive_and_negative_margins_occur(batch_cases):
    statuses = {c.truth["margin_status"]["1mm"] for c in batch_cases}
    assert statuses == {"positive", "negative"}
    assert {c.truth["margin_status"]["0mm"] for c in batch_cases} == {"positive", "negative"}
    for case in batch_cases:
        t = case.truth
        expected = {"transected": "positive", "close": "close", "clear": "negative"}[
            t["target_margin_category"]
        ]
        assert t["margin_category"] == expected, t["description"]


def test_batch_schedule_balanced():
    for seed in range(20):
        cats = batch_categories(seed=seed, n=8)
        assert {"transected", "clear"} <= set(cats)


def test_truth_contents(batch_cases):
    for case in batch_cases:
        t = case.truth
        assert TRUTH_KEYS <= set(t)
        assert set(t["face_margins_mm"]) == {"+x", "-x", "+y", "-y", "+z", "-z"}
        assert t["closest_margin_mm"] == min(v for v in t["face_margins_mm"].values() if v is not None)
        assert 1 <= t["n_tumours"] <= 2
        assert t["tumour_volume_ml"] > 0
        # tumour FDG-avid, blur lowers the mean
        assert 3.0 <= t["tumour_suv"]["true_max"] <= 12.5
        assert t["tumour_suv"]["pet_mean"] < t["tumour_suv"]["true_mean"] * 1.1
        # masks are consistent with the label map
        assert not (case.tumour_mask & ~case.specimen_mask).any()
        assert (case.labels[case.tumour_mask] == C.LABEL_TUMOUR).mean() > 0.95
        assert ((case.labels == C.LABEL_PLATE) & case.specimen_mask).sum() == 0


def test_specimen_scale_and_contact_with_plate(batch_cases):
    from scipy import ndimage as ndi

    for case in batch_cases:
        t = case.truth
        assert 20.0 <= max(t["specimen"]["extent_mm"]) <= 48.0
        assert ndi.label(case.specimen_mask)[1] == 1
        # the specimen rests on the plate: some specimen voxels sit right above plate voxels
        plate = case.labels == C.LABEL_PLATE
        touching = case.specimen_mask[:, :-1, :] & plate[:, 1:, :]
        assert touching.any()


def test_ct_values(batch_cases):
    case = batch_cases[1]
    hu = case.ct_hu
    air = hu[:, :3, :].ravel()  # top rows: air far from tissue
    assert (case.labels[:, :3, :] == C.LABEL_AIR).all()
    assert abs(float(np.median(air)) + 1000) < 10
    assert 8 < float(air.std()) < 25
    fat = float(np.median(hu[case.labels == C.LABEL_FAT]))
    assert -130 < fat < -70
    plate = float(np.median(hu[case.labels == C.LABEL_PLATE]))
    assert 90 < plate < 310


def test_pet_field_of_view_covers_specimen(batch_cases):
    from cases.phantoms.fields import nearest_mask

    for case in batch_cases:
        on_pet = nearest_mask(mask=case.specimen_mask, source=case.ct_grid, target=case.pet_grid)
        pet_ml = on_pet.sum() * np.prod(case.pet_grid.spacing) / 1000
        assert pet_ml == pytest.approx(case.truth["specimen"]["volume_ml"], rel=0.05)
        assert case.ct_grid.shape != case.pet_grid.shape
        assert not np.allclose(case.ct_grid.origin, case.pet_grid.origin)
