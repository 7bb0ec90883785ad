"""Fixtures for the training tests: a tiny network configuration and tiny in-memory cases."""

from __future__ import annotations

import pytest

from inference.engine.config import ModelConfig, NetworkConfig, PreprocessConfig
from tests.training.synthetic import synthetic_case
from training.loop.data import TrainingCase


@pytest.fixture
def tiny_config() -> ModelConfig:
    return ModelConfig(
        preprocess=PreprocessConfig(working_spacing_mm=1.0),
        network=NetworkConfig(channels=(4, 8), strides=(2,), num_res_units=1),
        min_component_ml=0.0,
    )


@pytest.fixture
def tiny_cases() -> list[TrainingCase]:
    return [synthetic_case(case_id=f"c{i}", patient_id=f"p{i // 2}", seed=i) for i in range(6)]
