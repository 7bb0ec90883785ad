"""Train a K-fold ensemble, report cross-validation and held-out performance, write the model bundle.

This is the one public entry point of the training pipeline (the management command and the Celery
task both call ``train_ensemble``). Everything is checked before the first epoch; the folds are
patient-grouped; the held-out evaluation uses the product's own ensemble predictor and margin
analysis, so the reported test numbers are what the product would do on those cases.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from inference.engine.config import ModelConfig
from inference.engine.weights import MANIFEST_NAME, write_bundle
from training.loop.data import TrainingCase, build_slice_set
from training.loop.evaluate import TestMetrics, evaluate_ensemble
from training.loop.folds import assign_folds, fold_indices
from training.loop.loop import FoldMetrics, ProgressCallback, TrainSettings, resolve_device, train_fold
from training.loop.report import jsonable, plot_learning_curves, write_json
from training.loop.validation import TrainingInputError, validate_cases

REPORT_JSON = "report.json"
REPORT_PNG = "report.png"


SUBSTANTIAL_TUMOUR_MM2 = 4.0  # a 2 x 2 mm cross-section: 16 pixels at 0.5 mm


@dataclass
class TrainingResult:
    fold_state_dicts: list[dict[str, torch.Tensor]]  # best epoch of each fold, CPU tensors
    fold_metrics: list[FoldMetrics]
    cv_dice_mean: float  # over all validation tumour slices of all folds (the paper's "over images")
    cv_dice_sd: float
    cv_images: int  # how many validation images the CV Dice is over
    test_metrics: TestMetrics | None
    report_json: Path
    report_png: Path
    bundle_dir: Path  # holds model.json + fold_<k>.safetensors
    throughput_slices_per_s: float  # training slices per second (augmentation, forward, backward)
    timings: dict[str, float] = field(default_factory=dict)  # seconds
    fold_patients: list[tuple[str, ...]] = field(default_factory=list)
    slice_size: int = 0
    device: str = "cpu"
    cv_substantial: dict = field(default_factory=dict)  # CV Dice over slices with >= 4 mm2 of tumour


def _check_config(config: ModelConfig) -> None:
    if config.network.in_channels != len(config.preprocess.channels):
        raise TrainingInputError(
            f"the network takes {config.network.in_channels} input channels but preprocessing makes "
            f"{len(config.preprocess.channels)} ({', '.join(config.preprocess.channels)})"
        )


def _fold_summary(metrics: FoldMetrics) -> dict:
    summary = asdict(metrics)
    summary["fold"] = metrics.fold + 1  # people count folds from 1
    return summary


def train_ensemble(
    *,
    cases: list[TrainingCase],
    config: ModelConfig,
    folds: int = 5,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    device: str,
    test_cases: list[TrainingCase] | None,
    out_dir: Path,
    progress: ProgressCallback | None = None,
    slice_size: int | None = None,
    tumour_free_fraction: float = 0.25,
    max_tumour_slices_per_case: int | None = None,
    augment: bool = True,
    weight_decay: float = 1e-4,
    schedule: str = "onecycle",
    allow_empty_masks: bool = False,
    margin_threshold_mm: float = 1.0,
    checkpoint_level: float | None = None,
    name: str = "",
    version: str = "",
    description: dict | None = None,
    overwrite: bool = False,
    show_progress: bool = True,
) -> TrainingResult:
    """Train ``folds`` patient-grouped fold models on ``cases``; evaluate the ensemble on ``test_cases``.

    Writes into ``out_dir``: model.json + fold_<k>.safetensors (the bundle), report.json and
    report.png. Raises TrainingInputError before any training when the input cannot work.
    """
    started = time.perf_counter()
    report = progress or (lambda fraction, message: None)
    out_dir = Path(out_dir)
    # --- everything that can fail cheaply fails here, before the first epoch -----------------
    _check_config(config)
    validate_cases(
        cases=cases, folds=folds, in_channels=config.network.in_channels, allow_empty_masks=allow_empty_masks
    )
    if test_cases:
        validate_cases(cases=test_cases, in_channels=config.network.in_channels, role="test")
        overlap = {c.patient_id for c in cases} & {c.patient_id for c in test_cases}
        if overlap:
            raise TrainingInputError(
                f"patient(s) {sorted(overlap)} appear in both the training and the held-out test cases"
            )
    if (out_dir / MANIFEST_NAME).exists() and not overwrite:
        raise TrainingInputError(
            f"{out_dir} already holds a model bundle; choose another folder or overwrite it"
        )
    settings = TrainSettings(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=weight_decay,
        schedule=schedule,
        seed=seed,
        device=device,
        augment=augment,
        show_progress=show_progress,
        checkpoint_level=checkpoint_level,
    )
    if epochs < 1 or batch_size < 1 or lr <= 0:
        raise TrainingInputError("epochs and batch size must be at least 1 and the learning rate positive")
    torch_device = resolve_device(device)
    timings: dict[str, float] = {}

    report(0.0, f"preparing slices of {len(cases)} cases")
    start = time.perf_counter()
    slices = build_slice_set(
        cases=cases,
        config=config,
        slice_size=slice_size,
        tumour_free_fraction=tumour_free_fraction,
        max_tumour_slices_per_case=max_tumour_slices_per_case,
        seed=seed,
    )
    fold_patients = assign_folds(slice_counts=slices.slice_counts(), folds=folds, seed=seed)
    timings["prepare_s"] = time.perf_counter() - start

    # --- folds -----------------------------------------------------------------------------------
    train_share = 0.9 if test_cases else 0.97
    results = []
    for fold in range(folds):
        train_idx, val_idx = fold_indices(
            patient_ids=slices.patient_ids, fold_patients=fold_patients, fold=fold
        )
        span = (0.03 + (train_share - 0.03) * fold / folds, 0.03 + (train_share - 0.03) * (fold + 1) / folds)
        results.append(
            train_fold(
                train=slices.subset(train_idx),
                val=slices.subset(val_idx),
                config=config,
                settings=settings,
                fold=fold,
                progress=progress,
                progress_span=span,
            )
        )
        timings[f"fold_{fold + 1}_train_s"] = results[-1].metrics.train_seconds
    timings["train_s"] = time.perf_counter() - start - timings["prepare_s"]
    fold_metrics = [result.metrics for result in results]
    state_dicts = [result.state_dict for result in results]
    cv_dices = np.concatenate([np.asarray(m.val_dices, dtype=float) for m in fold_metrics])
    cv_mean = float(cv_dices.mean()) if cv_dices.size else float("nan")
    cv_sd = float(cv_dices.std()) if cv_dices.size else float("nan")
    # Slices that only graze the tumour (a spicule, its first or last millimetre) score 0 or 1 on a
    # handful of pixels; the Dice over substantial cross-sections is the figure comparable to the
    # paper's lamella images. Both are reported.
    pixel_mm2 = float(config.preprocess.working_spacing_mm) ** 2
    cv_areas = np.concatenate([np.asarray(m.val_tumour_pixels, dtype=float) for m in fold_metrics]) * pixel_mm2
    substantial = cv_dices[cv_areas >= SUBSTANTIAL_TUMOUR_MM2]
    cv_substantial = {
        "min_tumour_area_mm2": SUBSTANTIAL_TUMOUR_MM2,
        "dice_mean": float(substantial.mean()) if substantial.size else float("nan"),
        "dice_sd": float(substantial.std()) if substantial.size else float("nan"),
        "images": int(substantial.size),
    }
    seen = sum(m.slices_per_second * m.train_seconds for m in fold_metrics)
    throughput = seen / max(sum(m.train_seconds for m in fold_metrics), 1e-9)

    # --- held-out evaluation with the product's predictor ------------------------------------------
    test_metrics = None
    if test_cases:
        report(train_share, f"evaluating the ensemble on {len(test_cases)} held-out cases")
        start = time.perf_counter()
        test_metrics = evaluate_ensemble(
            state_dicts=state_dicts,
            config=config,
            cases=test_cases,
            margin_threshold_mm=margin_threshold_mm,
            device=str(torch_device),
        )
        timings["evaluate_s"] = time.perf_counter() - start

    # --- bundle and report -----------------------------------------------------------------------
    report(0.98, "writing the model bundle and report")
    start = time.perf_counter()
    metrics_summary = {
        "cv_dice_mean": cv_mean,
        "cv_dice_sd": cv_sd,
        "cv_images": int(cv_dices.size),
        "cv_substantial_slices": cv_substantial,
        "fold_dice": [{"mean": m.val_dice_mean, "sd": m.val_dice_sd} for m in fold_metrics],
        "test": test_metrics.summary() if test_metrics else None,
    }
    training_summary = {
        "settings": asdict(settings),
        "folds": folds,
        "fold_patients": [list(p) for p in fold_patients],
        "cases": len(cases),
        "patients": len({c.patient_id for c in cases}),
        "slices": len(slices),
        "tumour_slices": int(slices.has_tumour.sum()),
        "slice_size": int(slices.images.shape[-1]),
        "tumour_free_fraction": tumour_free_fraction,
        "max_tumour_slices_per_case": max_tumour_slices_per_case,
        "test_cases": len(test_cases or []),
        "device": str(torch_device),
        "throughput_slices_per_s": throughput,
        **(description or {}),
    }
    write_bundle(
        path=out_dir,
        config=config,
        state_dicts=state_dicts,
        metrics=jsonable(metrics_summary),  # model.json is strict JSON: NaN -> null
        training=jsonable(training_summary),
        name=name,
        version=version,
        overwrite=overwrite,
    )
    png = plot_learning_curves(
        path=out_dir / REPORT_PNG,
        folds=fold_metrics,
        title=(
            f"{folds}-fold CV Dice {cv_mean:.2f} +/- {cv_sd:.2f} (n={cv_dices.size} images); "
            f"{cv_substantial['dice_mean']:.2f} +/- {cv_substantial['dice_sd']:.2f} on the "
            f"{cv_substantial['images']} with >= {SUBSTANTIAL_TUMOUR_MM2:g} mm2 of tumour"
        ),
    )
    timings["write_s"] = time.perf_counter() - start
    timings["total_s"] = time.perf_counter() - started
    payload = {
        "config": config.to_dict(),
        "training": training_summary,
        "folds": [_fold_summary(m) for m in fold_metrics],
        "cross_validation": {
            "dice_mean": cv_mean,
            "dice_sd": cv_sd,
            "images": int(cv_dices.size),
            "substantial_slices": cv_substantial,
        },
        "test": test_metrics.to_dict() if test_metrics else None,
        "throughput_slices_per_s": throughput,
        "timings": timings,
        "bundle": {
            "path": str(out_dir),
            "manifest": MANIFEST_NAME,
            "files": [f"fold_{k}.safetensors" for k in range(folds)],
        },
    }
    json_path = write_json(path=out_dir / REPORT_JSON, payload=payload)
    report(1.0, f"done: CV Dice {cv_mean:.3f} +/- {cv_sd:.3f}")
    return TrainingResult(
        fold_state_dicts=state_dicts,
        fold_metrics=fold_metrics,
        cv_dice_mean=cv_mean,
        cv_dice_sd=cv_sd,
        cv_images=int(cv_dices.size),
        cv_substantial=cv_substantial,
        test_metrics=test_metrics,
        report_json=json_path,
        report_png=png,
        bundle_dir=out_dir,
        throughput_slices_per_s=throughput,
        timings=timings,
        fold_patients=list(fold_patients),
        slice_size=int(slices.images.shape[-1]),
        device=str(torch_device),
    )
