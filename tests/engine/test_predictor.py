"""Ensemble predictor mechanics (never its accuracy: random weights prove nothing about tumours)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from inference.engine.config import ModelConfig, NetworkConfig
from inference.engine.network import build_network
from inference.engine.postprocess import clean_components
from inference.engine.predictor import EnsemblePredictor, InferenceMemoryError
from inference.engine.weights import write_bundle

TINY = ModelConfig(network=NetworkConfig(channels=(4, 8), strides=(2,), num_res_units=1))


class Affine(torch.nn.Module):
    """Deterministic toy 'segmenter': tumour logit = a * channel0 + b, background logit 0."""

    def __init__(self, a: float, b: float) -> None:
        super().__init__()
        self.a, self.b = a, b

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tumour = self.a * x[:, :1] + self.b
        return torch.cat([torch.zeros_like(tumour), tumour], dim=1)


class FailsAbove(torch.nn.Module):
    """Wraps a model and raises CUDA's out-of-memory error for batches larger than ``limit``."""

    def __init__(self, inner: torch.nn.Module, limit: int) -> None:
        super().__init__()
        self.inner, self.limit = inner, limit
        self.batches: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (injected)")
        self.batches.append(x.shape[0])
        return self.inner(x)


def _channels(shape=(2, 7, 37, 45), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _unets(count: int) -> list[torch.nn.Module]:
    models = []
    for seed in range(count):
        torch.manual_seed(seed)
        models.append(build_network(TINY.network))
    return models


def test_shapes_dtypes_and_progress():
    seen = []
    predictor = EnsemblePredictor(models=_unets(2), config=TINY, device="cpu", batch_size=3)
    result = predictor.predict(channels=_channels(), progress=seen.append)
    assert result.probability.shape == result.uncertainty.shape == result.mask.shape == (7, 37, 45)
    assert result.probability.dtype == np.float32 and result.mask.dtype == np.uint8
    assert result.fold_count == 2 and result.device == "cpu"
    assert seen == pytest.approx([3 / 7, 6 / 7, 1.0])
    assert {"upload", "network", "network_fold_0", "network_fold_1", "postprocess", "total"} <= set(
        result.timings
    )
    assert 0.0 <= result.probability.min() and result.probability.max() <= 1.0


def test_average_equals_manual_average_of_folds():
    channels = _channels()
    models = [Affine(4.0, -2.0), Affine(-3.0, 1.0), Affine(1.0, 0.5)]
    result = EnsemblePredictor(models=models, config=TINY, device="cpu").predict(channels=channels)
    folds = np.stack([1 / (1 + np.exp(-(m.a * channels[0] + m.b))) for m in models])
    np.testing.assert_allclose(result.probability, folds.mean(axis=0), atol=1e-6)
    np.testing.assert_allclose(result.uncertainty, folds.std(axis=0), atol=1e-6)


def test_unet_ensemble_equals_mean_of_single_fold_predictors():
    channels = _channels()
    models = _unets(3)
    ensemble = EnsemblePredictor(models=models, config=TINY, device="cpu").predict(channels=channels)
    singles = [
        EnsemblePredictor(models=[m], config=TINY, device="cpu").predict(channels=channels).probability
        for m in models
    ]
    np.testing.assert_allclose(ensemble.probability, np.mean(singles, axis=0), atol=1e-6)


def test_identical_folds_have_zero_uncertainty():
    torch.manual_seed(3)
    state = build_network(TINY.network).state_dict()
    predictor = EnsemblePredictor.from_state_dicts(state_dicts=[state] * 3, config=TINY, device="cpu")
    result = predictor.predict(channels=_channels())
    assert float(result.uncertainty.max()) < 1e-6


def test_batching_does_not_change_results():
    channels = _channels()
    one = EnsemblePredictor(models=_unets(2), config=TINY, device="cpu", batch_size=1).predict(
        channels=channels
    )
    many = EnsemblePredictor(models=_unets(2), config=TINY, device="cpu", batch_size=64).predict(
        channels=channels
    )
    np.testing.assert_allclose(one.probability, many.probability, atol=1e-6)
    np.testing.assert_allclose(one.uncertainty, many.uncertainty, atol=1e-6)


def test_threshold_and_override():
    channels = np.zeros((2, 3, 8, 8), dtype=np.float32)
    channels[0, :, :4] = 1.0  # top half: logit 2 -> p 0.88; bottom half: logit -1 -> p 0.27
    predictor = EnsemblePredictor(models=[Affine(3.0, -1.0)], config=TINY, device="cpu")
    result = predictor.predict(channels=channels, min_component_ml=0.0)
    assert result.threshold == 0.5
    assert result.mask[:, :4].all() and not result.mask[:, 4:].any()
    low = predictor.predict(channels=channels, threshold=0.2, min_component_ml=0.0)
    assert low.mask.all() and low.threshold == 0.2


def test_small_components_removed_and_largest_kept():
    mask = np.zeros((10, 10, 10), dtype=bool)
    mask[1:5, 1:5, 1:5] = True  # 64 voxels
    mask[7:9, 7:9, 7:9] = True  # 8 voxels
    mask[0, 9, 9] = True  # 1 voxel
    cleaned = clean_components(mask=mask, voxel_volume_ml=0.001, min_component_ml=0.008)
    assert cleaned.sum() == 72 and cleaned.dtype == np.uint8
    largest = clean_components(mask=mask, voxel_volume_ml=0.001, min_component_ml=0.0, keep_largest_only=True)
    assert largest.sum() == 64 and largest[1:5, 1:5, 1:5].all()
    assert clean_components(mask=np.zeros((3, 3, 3)), voxel_volume_ml=1, min_component_ml=1).sum() == 0


def test_predictor_cleanup_uses_spacing():
    channels = np.zeros((2, 4, 8, 8), dtype=np.float32)
    channels[0, 1, 2, 2] = 1.0  # one positive voxel
    predictor = EnsemblePredictor(models=[Affine(3.0, -1.0)], config=TINY, device="cpu")
    # Default working grid 0.5 mm -> 0.000125 ml per voxel < 0.005 ml minimum: removed.
    assert predictor.predict(channels=channels).mask.sum() == 0
    # 2 mm voxels are 0.008 ml each, above the minimum: kept.
    assert predictor.predict(channels=channels, spacing=(2.0, 2.0, 2.0)).mask.sum() == 1


def test_out_of_memory_halves_batch_and_still_matches():
    channels = _channels(shape=(2, 11, 16, 16))
    reference = EnsemblePredictor(models=_unets(2), config=TINY, device="cpu", batch_size=1).predict(
        channels=channels
    )
    wrapped = [FailsAbove(m, limit=3) for m in _unets(2)]
    predictor = EnsemblePredictor(models=wrapped, config=TINY, device="cpu", batch_size=16)
    result = predictor.predict(channels=channels)
    assert result.batch_size == 2 and predictor.batch_size == 2  # 16 -> 8 -> 4 -> 2
    assert set(wrapped[0].batches) <= {1, 2}
    np.testing.assert_allclose(result.probability, reference.probability, atol=1e-6)


def test_out_of_memory_at_batch_one_raises_clearly():
    predictor = EnsemblePredictor(
        models=[FailsAbove(Affine(1, 0), limit=0)], config=TINY, device="cpu", batch_size=4
    )
    with pytest.raises(InferenceMemoryError, match="even with one"):
        predictor.predict(channels=_channels(shape=(2, 3, 8, 8)))


def test_wrong_channel_count_refused():
    predictor = EnsemblePredictor(models=[Affine(1, 0)], config=TINY, device="cpu")
    with pytest.raises(ValueError, match="model expects 2 input channels, preprocessing gives 3"):
        predictor.predict(channels=_channels(shape=(3, 2, 8, 8)))


def test_from_bundle(tmp_path):
    states = [m.state_dict() for m in _unets(2)]
    bundle = write_bundle(path=tmp_path / "b", config=TINY, state_dicts=states)
    channels = _channels(shape=(2, 3, 16, 16))
    from_bundle = EnsemblePredictor.from_bundle(bundle=bundle, device="cpu").predict(channels=channels)
    direct = EnsemblePredictor(models=_unets(2), config=TINY, device="cpu").predict(channels=channels)
    np.testing.assert_allclose(from_bundle.probability, direct.probability, atol=1e-6)


def test_auto_device_is_cpu_without_cuda():
    predictor = EnsemblePredictor(models=[Affine(1, 0)], config=TINY, device="auto")
    assert predictor.device.type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_every_focus_is_kept_and_fold_maps_are_returned():
    channels = np.zeros((2, 4, 16, 16), dtype=np.float32)
    channels[0, :, 1:7, 1:7] = 1.0  # a large hot focus ...
    channels[0, :, 12:14, 12:14] = 1.0  # ... and a small separate one (a satellite, no longer dropped)
    model = Affine(3.0, -1.0)
    result = EnsemblePredictor(models=[model, model], config=TINY, device="cpu").predict(
        channels=channels, min_component_ml=0.0
    )
    assert result.mask[:, 1:7, 1:7].all() and result.mask[:, 12:14, 12:14].all()
    assert result.fold_probabilities.shape == (2, 4, 16, 16)
    assert np.allclose(result.fold_probabilities.astype(np.float32).mean(axis=0), result.probability, atol=1e-3)


def test_bundles_from_before_every_focus_counted_load_with_the_default():
    legacy = TINY.to_dict()
    del legacy["min_focus_volume_mm3"]
    legacy["keep_largest_only"] = True
    assert ModelConfig.from_dict(legacy).min_focus_volume_mm3 == 5.0
