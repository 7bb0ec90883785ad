"""End-to-end: a tiny 2-fold ensemble trains, reports, and writes a loadable bundle."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch

from inference.engine.network import build_network
from inference.engine.weights import read_bundle
from tests.training.synthetic import synthetic_case
from training.loop.data import build_slice_set
from training.loop.ensemble import train_ensemble
from training.loop.folds import assign_folds, fold_indices
from training.loop.loop import TrainSettings, train_fold
from training.loop.validation import TrainingInputError


@pytest.mark.slow
def test_tiny_ensemble_end_to_end(tiny_config, tiny_cases, tmp_path: Path) -> None:
    messages = []
    test_cases = [synthetic_case(case_id=f"t{i}", patient_id=f"tp{i}", seed=50 + i) for i in range(2)]
    result = train_ensemble(
        cases=tiny_cases,
        config=tiny_config,
        folds=2,
        epochs=2,
        batch_size=4,
        lr=3e-3,
        seed=0,
        device="cpu",
        test_cases=test_cases,
        out_dir=tmp_path / "model",
        progress=lambda f, m: messages.append((f, m)),
        slice_size=32,
        show_progress=False,
    )
    assert len(result.fold_state_dicts) == 2
    for state_dict in result.fold_state_dicts:
        build_network(tiny_config.network).load_state_dict(state_dict, strict=True)
    assert 0.0 <= result.cv_dice_mean <= 1.0 and result.cv_images > 0
    assert result.throughput_slices_per_s > 0
    assert result.test_metrics is not None and len(result.test_metrics.cases) == 2

    report = json.loads(result.report_json.read_text())
    assert {
        "config",
        "training",
        "folds",
        "cross_validation",
        "test",
        "throughput_slices_per_s",
        "timings",
        "bundle",
    } <= set(report)
    assert {"dice_mean", "dice_sd", "images"} <= set(report["cross_validation"])
    # The Dice over substantial cross-sections is a subset of the same per-slice Dice values.
    substantial = report["cross_validation"]["substantial_slices"]
    assert 0 <= substantial["images"] <= result.cv_images
    areas = [n * 1.0 for fold in report["folds"] for n in fold["val_tumour_pixels"]]  # 1 mm working grid
    dices = [d for fold in report["folds"] for d in fold["val_dices"]]
    kept = [d for d, a in zip(dices, areas, strict=True) if a >= substantial["min_tumour_area_mm2"]]
    assert substantial["images"] == len(kept)
    if kept:
        assert substantial["dice_mean"] == pytest.approx(sum(kept) / len(kept))
    assert {"sensitivity", "specificity", "f1", "dice_mean", "cases"} <= set(report["test"])
    assert len(report["folds"][0]["history"]) == 2
    assert result.report_png.stat().st_size > 1000

    bundle = read_bundle(tmp_path / "model")
    assert len(bundle.state_dicts) == 2 and bundle.config == tiny_config
    assert bundle.metrics["cv_dice_mean"] == pytest.approx(result.cv_dice_mean)

    fractions = [f for f, _ in messages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def _first_epoch(config, cases, seed: int):
    slices = build_slice_set(cases=cases, config=config, slice_size=32, seed=seed)
    folds = assign_folds(slice_counts=slices.slice_counts(), folds=2, seed=seed)
    train, val = fold_indices(patient_ids=slices.patient_ids, fold_patients=folds, fold=0)
    result = train_fold(
        train=slices.subset(train),
        val=slices.subset(val),
        config=config,
        settings=TrainSettings(epochs=1, batch_size=4, seed=seed, device="cpu", show_progress=False),
    )
    return result


def test_same_seed_same_first_epoch(tiny_config, tiny_cases) -> None:
    first = _first_epoch(tiny_config, tiny_cases[:4], seed=11)
    second = _first_epoch(tiny_config, tiny_cases[:4], seed=11)
    assert first.metrics.history[0].train_loss == second.metrics.history[0].train_loss
    for name, tensor in first.state_dict.items():
        assert torch.equal(tensor, second.state_dict[name])


def _channels_only(case, config):
    """The app may hand over prepared channels (no raw CT/PET), as TrainingCase allows."""
    channels = case.prepared_channels(config=config.preprocess)
    return dataclasses.replace(
        case, channels=channels, ct_hu=None, pet=None, suv_factor=None, specimen_mask=None
    )


def test_channels_only_cases_train_and_evaluate(tiny_config, tiny_cases, tmp_path: Path) -> None:
    cases = [_channels_only(case, tiny_config) for case in tiny_cases[:4]]
    test_cases = [_channels_only(synthetic_case(case_id="t", patient_id="tp", seed=9), tiny_config)]
    test_cases[0].truth_closest_margin_mm = 0.0
    result = train_ensemble(
        cases=cases,
        config=tiny_config,
        folds=2,
        epochs=1,
        batch_size=4,
        lr=3e-3,
        seed=1,
        device="cpu",
        test_cases=test_cases,
        out_dir=tmp_path / "model",
        show_progress=False,
    )
    (evaluation,) = result.test_metrics.cases
    assert evaluation.truth_positive and 0.0 <= evaluation.dice <= 1.0


def _first_epoch_at(config, cases, *, checkpoint_level):
    slices = build_slice_set(cases=cases, config=config, slice_size=32, seed=3)
    folds = assign_folds(slice_counts=slices.slice_counts(), folds=2, seed=3)
    train, val = fold_indices(patient_ids=slices.patient_ids, fold_patients=folds, fold=0)
    settings = TrainSettings(
        epochs=1, batch_size=4, seed=3, device="cpu", show_progress=False, checkpoint_level=checkpoint_level
    )
    return train_fold(train=slices.subset(train), val=slices.subset(val), config=config, settings=settings)


def test_checkpoint_level_decouples_epoch_choice_from_the_decision_level(tiny_config, tiny_cases) -> None:
    """Validation Dice (which picks the best epoch) is scored at checkpoint_level when it is given."""
    low, high = dataclasses.replace(tiny_config, threshold=0.2), dataclasses.replace(tiny_config, threshold=0.8)
    free = [_first_epoch_at(c, tiny_cases[:4], checkpoint_level=None).metrics for c in (low, high)]
    assert free[0].val_dices != free[1].val_dices  # the level matters ...
    fixed = [_first_epoch_at(c, tiny_cases[:4], checkpoint_level=0.5).metrics for c in (low, high)]
    assert fixed[0].val_dices == fixed[1].val_dices  # ... and is then the same for every decision level


def test_checkpoint_level_outside_zero_one_is_refused(tiny_config, tiny_cases) -> None:
    with pytest.raises(TrainingInputError, match="checkpoint level must be within"):
        _first_epoch_at(tiny_config, tiny_cases[:4], checkpoint_level=1.5)


def test_training_threads_follow_the_cpu_cap(monkeypatch) -> None:
    import os

    from training.loop.loop import training_threads

    monkeypatch.setenv("PETCTWEB_CPU_THREADS", "1")
    assert training_threads() == 1
    monkeypatch.setenv("PETCTWEB_CPU_THREADS", "many")  # not a count: every core, as before
    assert training_threads() == (os.cpu_count() or 1)
