"""Slice selection and cropping."""

from __future__ import annotations

import numpy as np
import pytest

from tests.training.synthetic import synthetic_case
from training.loop.data import build_slice_set, crop_or_pad
from training.loop.validation import TrainingInputError


def test_tumour_slices_kept_and_cropped_around_specimen(tiny_config) -> None:
    case = synthetic_case(case_id="c", patient_id="p", seed=0, shape=(12, 40, 40))
    slices = build_slice_set(cases=[case], config=tiny_config, slice_size=32, tumour_free_fraction=1.0)
    tumour_z = set(np.flatnonzero(case.tumour_mask.any(axis=(1, 2))))
    assert tumour_z <= set(slices.slice_indices)
    assert slices.images.shape[1:] == (2, 32, 32)
    # Every tumour pixel of each kept slice survives the crop.
    for mask, z in zip(slices.masks, slices.slice_indices, strict=True):
        assert mask.sum() == case.tumour_mask[z].sum()
    assert set(slices.case_ids) == {"c"} and set(slices.patient_ids) == {"p"}


def test_tumour_free_fraction_and_cap(tiny_config) -> None:
    case = synthetic_case(case_id="c", patient_id="p", seed=0, shape=(16, 40, 40))
    none_free = build_slice_set(cases=[case], config=tiny_config, slice_size=32, tumour_free_fraction=0.0)
    assert none_free.has_tumour.all()
    capped = build_slice_set(
        cases=[case],
        config=tiny_config,
        slice_size=32,
        tumour_free_fraction=0.0,
        max_tumour_slices_per_case=3,
    )
    assert len(capped) == 3


def test_auto_slice_size_is_a_pad_multiple(tiny_config) -> None:
    slices = build_slice_set(cases=[synthetic_case(case_id="c", patient_id="p", seed=0)], config=tiny_config)
    assert slices.images.shape[-1] % 2 == 0 and slices.images.shape[-1] >= 28


def test_slice_size_must_fit_network(tiny_config) -> None:
    with pytest.raises(TrainingInputError, match="multiple of 2"):
        build_slice_set(
            cases=[synthetic_case(case_id="c", patient_id="p", seed=0)], config=tiny_config, slice_size=33
        )


def test_crop_or_pad_fills_outside() -> None:
    array = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    out = crop_or_pad(array=array, start_y=-1, start_x=2, size=3)
    assert out.shape == (1, 3, 3)
    assert out[0, 0].tolist() == [0, 0, 0]
    assert out[0, 1].tolist() == [2, 3, 0]
