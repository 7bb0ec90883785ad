"""The demo settings are consistent, and generated phantoms load through the product's ingestion."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from inference.engine.network import pad_multiple
from inference.engine.weights import read_bundle
from training.loop.data import build_slice_set
from training.loop.demo import DEMO_TRAINING
from training.loop.sources import cases_from_phantoms


def test_demo_settings_are_consistent() -> None:
    config = DEMO_TRAINING.model_config()
    assert config.network.in_channels == len(config.preprocess.channels)
    assert DEMO_TRAINING.slice_size % pad_multiple(config.network) == 0
    seeds = {DEMO_TRAINING.train_data_seed, DEMO_TRAINING.test_data_seed, DEMO_TRAINING.tuning_data_seed}
    assert len(seeds) == 3  # training, tuning and test phantoms are different synthetic patients
    assert config.min_focus_volume_mm3 == 5.0  # every focus of 5 mm3 or more counts for the margin
    assert DEMO_TRAINING.train_cases >= DEMO_TRAINING.folds
    assert set(DEMO_TRAINING.train_kwargs()) >= {"config", "folds", "epochs", "batch_size", "lr", "seed"}


def test_shipped_demo_model_was_trained_with_the_current_demo_settings() -> None:
    """demo_model/ must be what ``python -m training.loop.demo`` makes today, verified by its hashes."""
    bundle = read_bundle(Path(__file__).resolve().parents[2] / "demo_model")
    assert bundle.training["demo"] == json.loads(json.dumps(asdict(DEMO_TRAINING)))
    assert bundle.config == DEMO_TRAINING.model_config()
    assert len(bundle.state_dicts) == DEMO_TRAINING.folds


@pytest.mark.slow
def test_generated_phantom_loads_on_the_working_grid(tmp_path: Path) -> None:
    from cases.phantoms.generator import generate_phantoms

    generate_phantoms(out_dir=tmp_path / "batch", n=1, seed=3, size="small")
    config = DEMO_TRAINING.model_config()
    (case,) = cases_from_phantoms(path=tmp_path / "batch", config=config.preprocess)
    assert case.patient_id == "batch/case_0000"
    assert case.spacing == (0.5, 0.5, 0.5)
    assert case.tumour_mask.shape == case.ct_hu.shape == case.pet.shape
    assert case.tumour_mask.any() and case.suv_factor is not None
    assert case.truth_closest_margin_mm is not None
    # Tumour is FDG-avid: its SUV is well above the specimen's median.
    suv = case.pet * case.suv_factor
    assert np.median(suv[case.tumour_mask > 0]) > 2 * np.median(suv[case.specimen_mask > 0])
    slices = build_slice_set(cases=[case], config=config, slice_size=DEMO_TRAINING.slice_size)
    assert slices.has_tumour.sum() >= 1
    # The crop keeps every tumour pixel of each selected slice.
    for mask, z in zip(slices.masks, slices.slice_indices, strict=True):
        assert mask.sum() == case.tumour_mask[z].sum()
