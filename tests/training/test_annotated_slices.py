"""Cases annotated on some slices only (2D lamella ground truth): only those slices are trained on."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from tests.training.synthetic import synthetic_case
from training.loop.data import build_slice_set
from training.loop.validation import TrainingInputError, validate_cases


def _tumour_and_free_z(case) -> tuple[list[int], list[int]]:
    has = case.tumour_mask.any(axis=(1, 2))
    tissue = case.specimen_mask.any(axis=(1, 2))
    return [int(z) for z in np.flatnonzero(has)], [int(z) for z in np.flatnonzero(tissue & ~has)]


def test_only_annotated_slices_are_selected(tiny_config) -> None:
    case = synthetic_case(case_id="c", patient_id="p", seed=0, shape=(16, 40, 40))
    tumour_z, free_z = _tumour_and_free_z(case)
    lamella = tumour_z[len(tumour_z) // 2]
    annotated = replace(case, annotated_slices=(lamella,))
    slices = build_slice_set(cases=[annotated], config=tiny_config, slice_size=32, tumour_free_fraction=1.0)
    assert slices.slice_indices == [lamella]
    assert slices.masks[0].sum() == case.tumour_mask[lamella].sum()
    # A tumour-free annotated slice is sampled like any tumour-free slice (fraction 1: kept; 0: none).
    both = replace(case, annotated_slices=(free_z[0], lamella))
    assert build_slice_set(cases=[both], config=tiny_config, slice_size=32,
                           tumour_free_fraction=1.0).slice_indices == sorted([free_z[0], lamella])
    assert build_slice_set(cases=[both], config=tiny_config, slice_size=32,
                           tumour_free_fraction=0.0).slice_indices == [lamella]


def test_without_annotation_every_slice_is_a_candidate(tiny_config) -> None:
    case = synthetic_case(case_id="c", patient_id="p", seed=0, shape=(16, 40, 40))
    tumour_z, free_z = _tumour_and_free_z(case)
    slices = build_slice_set(cases=[case], config=tiny_config, slice_size=32, tumour_free_fraction=1.0)
    assert slices.slice_indices == sorted(tumour_z + free_z)


def test_annotated_slices_are_checked_before_training() -> None:
    case = synthetic_case(case_id="c", patient_id="p", seed=0, shape=(8, 40, 40))
    with pytest.raises(TrainingInputError, match=r"case 'c': annotated slice\(s\) \[8\] outside"):
        validate_cases(cases=[replace(case, annotated_slices=(2, 8))])
    with pytest.raises(TrainingInputError, match="annotated slices are given but empty"):
        validate_cases(cases=[replace(case, annotated_slices=())])
