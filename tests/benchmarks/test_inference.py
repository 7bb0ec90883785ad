"""The benchmark reports every stage and a rate per fold model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from django.core.management import CommandError, call_command

from benchmarks.inference import benchmark_case
from inference.engine.config import ModelConfig, NetworkConfig
from inference.engine.network import build_network
from inference.engine.predictor import EnsemblePredictor

TINY = ModelConfig(network=NetworkConfig(channels=(4, 8), strides=(2,), num_res_units=1))


def _predictor(folds: int = 2) -> EnsemblePredictor:
    models = []
    for seed in range(folds):
        torch.manual_seed(seed)
        models.append(build_network(TINY.network))
    return EnsemblePredictor(models=models, config=TINY, device="cpu", batch_size=4)


def _scene():
    ct = np.full((10, 32, 32), -1000.0, dtype=np.float32)
    ct[2:8, 6:26, 6:26] = -80.0
    pet = np.zeros_like(ct)
    pet[2:8, 6:26, 6:26] = 5000.0
    return ct, pet


def test_benchmark_from_ct_and_pet():
    ct, pet = _scene()
    report = benchmark_case(predictor=_predictor(), ct_hu=ct, pet=pet, suv_factor=None)
    assert report["slices"] == 10 and report["folds"] == 2 and report["input_shape"] == [2, 10, 32, 32]
    assert set(report["seconds"]) >= {"preprocess", "network", "specimen_surface", "margin_analysis", "total"}
    assert all(v is not None and v >= 0 for v in report["seconds"].values())
    assert len(report["slices_per_second_per_fold"]) == 2 and all(
        r > 0 for r in report["slices_per_second_per_fold"]
    )
    json.dumps(report)


def test_benchmark_from_channels_recovers_ct():
    ct, pet = _scene()
    predictor = _predictor(folds=1)
    from inference.engine.preprocess import prepare_channels

    channels = prepare_channels(ct_hu=ct, pet=pet, suv_factor=None, config=TINY.preprocess).channels
    report = benchmark_case(predictor=predictor, channels=channels, warmup=False)
    assert report["seconds"]["preprocess"] is None
    assert report["margin_status"] in {"positive", "negative", "no_tumour_detected"}


@pytest.mark.django_db
def test_command_needs_a_registered_model() -> None:
    with pytest.raises(CommandError, match="no model registered"):
        call_command("bench_inference", "--device", "cpu")
