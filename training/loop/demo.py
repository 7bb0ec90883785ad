"""The demo ensemble: generated phantoms in, a trained 5-fold bundle and report out, in minutes on a CPU.

``DEMO_TRAINING`` holds the tuned settings (the ``train_ensemble --demo`` command uses them). Phantoms
are generated with ``cases.phantoms`` (training and held-out test batches from different seeds, so no
synthetic patient is in both), read back through the product's DICOM ingestion, and trained with
``train_ensemble``. Run it directly with ``python -m training.loop.demo --out DIR``.

Three batches of different synthetic patients: training (seed 1000), tuning (seed 3000: every
setting below was chosen on it) and test (seed 4000: generated and evaluated once, at the end).
Measured with these defaults on 2 quiet CPU cores: phantom generation ~20 s, DICOM ingestion ~14 s,
training ~200 s (5 folds x 20 epochs, ~400 slices of 64 x 64 per fold, ~210 slices/s), held-out
evaluation ~12 s. Result: CV Dice 0.55 +/- 0.41 over all 199 validation tumour slices (0.82 +/- 0.20
over the 128 with >= 4 mm2 of tumour); on 30 test phantoms Dice 0.84 +/- 0.10 and margin status at
1 mm 15 TP / 15 TN / 0 FP / 0 FN (F1 1.0; measured with the earlier voxel-box margin analysis).
Reruns give bit-identical weights.

``--continuous-train-cases N`` adds N continuous-truth phantoms (``training.loop.continuous_source``:
wrappings none / film / container / gauze cycled, margins 0-4 mm, exact labels on the ingested grid,
cached per case under ``DATA/continuous``). Measured once (issue 13, N = 40, 12 epochs, one torch
thread, ~860 s of training at load 4-10): the tumour surface sat on the true one next to container
walls and film too, but the folds disagreed more, so the margin benchmark's call accuracy fell (see
docs/margin-method.md); not shipped. On a shared, loaded CPU set ``PETCTWEB_CPU_THREADS=1``.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from inference.engine.config import ModelConfig, NetworkConfig, PreprocessConfig
from training.loop.continuous_source import cases_from_continuous, ensure_continuous_cases
from training.loop.ensemble import TrainingResult, train_ensemble
from training.loop.loop import ProgressCallback
from training.loop.sources import cases_from_phantoms


@dataclass(frozen=True)
class DemoTraining:
    """Everything that defines the demo run; the defaults are the tuned values."""

    train_cases: int = 25
    test_cases: int = 30
    phantom_size: str = "small"
    train_data_seed: int = 1000  # generator batch seeds; different seeds = different synthetic patients
    # Continuous-truth phantoms (training.loop.continuous_source) to train on beside the voxel ones:
    # wrapped like real specimens (film, container wall, gauze), exact labels. Case seeds
    # continuous_seed + i are clear of the margin benchmark's (test 1500-1539, tuning 1600-1619,
    # speed 2000). Off (0) for the shipped ensemble: 40 cases at 12 epochs put the tumour surface on the
    # true one next to walls and film but left more fold disagreement, so fewer right calls on the
    # benchmark (docs/margin-method.md); --continuous-train-cases 40 trains that mix.
    continuous_train_cases: int = 0
    continuous_seed: int = 7000
    continuous_wrappings: tuple[str, ...] = ("none", "film", "container", "gauze")
    test_data_seed: int = 4000  # evaluated once, after every setting below was fixed
    # The settings were chosen on this batch (20 cases), never on the test batch; kept as a record.
    tuning_data_seed: int = 3000
    working_spacing_mm: float = 0.5
    network_channels: tuple[int, ...] = (8, 16, 32, 64)  # half the product default width: ~2x faster on CPU
    network_strides: tuple[int, ...] = (2, 2, 2)
    num_res_units: int = 2
    slice_size: int = 64  # 32 mm crops around the specimen at 0.5 mm (inference still sees whole slices)
    folds: int = 5
    epochs: int = 20  # best epochs fell at 8-12 of 12; 20 moved close calls further from the threshold
    batch_size: int = 8  # more optimiser steps per epoch than 16 for the same compute; converged better
    lr: float = 1.5e-3  # at 3e-3 one fold collapsed to background on the tuning run
    seed: int = 0
    tumour_free_fraction: float = (
        0.3  # hard negatives: fewer false-positive blobs in hot fibroglandular tissue
    )
    max_tumour_slices_per_case: int | None = 8
    margin_threshold_mm: float = 1.0
    keep_largest_only: bool = True  # removed every false positive margin on the tuning batch
    # Where the tumour surface is drawn on the ensemble's mean probability. At 0.5 the continuous-truth
    # margins read 0.13 mm too small on average; higher levels remove that bias. 0.8 gave the most right
    # margin calls with no false negative on the continuous tuning cases (bench seeds 1600-1619, none,
    # film and container; 0.85 and up missed positives), never on the benchmark's test seeds
    # (1500-1539); the table is in demo_model/model.json and docs/margin-method.md.
    decision_level: float = 0.8

    # The best epoch of each fold is chosen by validation Dice at this level, not at decision_level,
    # so re-tuning the decision level after training leaves the weights as they are (the shipped
    # ensemble was trained with 0.5 as its level and re-tuned afterwards, to 0.7 and then 0.8).
    checkpoint_level: float = 0.5

    def model_config(self) -> ModelConfig:
        return ModelConfig(
            threshold=self.decision_level,
            preprocess=PreprocessConfig(working_spacing_mm=self.working_spacing_mm),
            network=NetworkConfig(
                channels=self.network_channels, strides=self.network_strides, num_res_units=self.num_res_units
            ),
        )

    def continuous_batch(self) -> dict:
        """Which continuous phantoms train the model: generating and reading them back name the same batch."""
        return {"n": self.continuous_train_cases, "seed": self.continuous_seed,
                "wrappings": self.continuous_wrappings, "size": self.phantom_size}

    def train_kwargs(self) -> dict:
        """Keyword arguments of ``train_ensemble`` (besides cases, test cases, device and out_dir)."""
        return {
            "config": self.model_config(),
            "folds": self.folds,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "seed": self.seed,
            "slice_size": self.slice_size,
            "tumour_free_fraction": self.tumour_free_fraction,
            "max_tumour_slices_per_case": self.max_tumour_slices_per_case,
            "margin_threshold_mm": self.margin_threshold_mm,
            "checkpoint_level": self.checkpoint_level,
        }


DEMO_TRAINING = DemoTraining()


def _span(progress: ProgressCallback | None, start: float, end: float) -> ProgressCallback:
    def report(fraction: float, message: str) -> None:
        if progress is not None:
            progress(start + (end - start) * fraction, message)

    return report


def _ensure_phantoms(*, path: Path, n: int, seed: int, size: str, progress: ProgressCallback) -> Path:
    """Generate ``n`` phantoms into ``path`` unless the same batch is already there."""
    from cases.phantoms.generator import generate_phantoms
    from cases.phantoms.report import GENERATOR_VERSION

    manifest = path / "manifest.json"
    if manifest.is_file():
        existing = json.loads(manifest.read_text())
        wanted = (n, seed, size, GENERATOR_VERSION)
        if tuple(existing.get(key) for key in ("n", "seed", "size", "generator_version")) == wanted:
            return path
    generate_phantoms(
        out_dir=path,
        n=n,
        seed=seed,
        size=size,
        progress=lambda done, total, summary: progress(done / total, f"generated phantom {done}/{total}"),
    )
    return path


def generate_demo_data(
    *, data_dir: Path, settings: DemoTraining = DEMO_TRAINING, progress: ProgressCallback | None = None
) -> tuple[Path, Path, Path]:
    """(voxel train folder, voxel test folder, continuous train folder) of phantoms under ``data_dir``."""
    data_dir = Path(data_dir)
    train = _ensure_phantoms(
        path=data_dir / "train",
        n=settings.train_cases,
        seed=settings.train_data_seed,
        size=settings.phantom_size,
        progress=_span(progress, 0.0, 0.3),
    )
    test = _ensure_phantoms(
        path=data_dir / "test",
        n=settings.test_cases,
        seed=settings.test_data_seed,
        size=settings.phantom_size,
        progress=_span(progress, 0.3, 0.5),
    )
    continuous = data_dir / "continuous"
    if settings.continuous_train_cases:
        ensure_continuous_cases(
            path=continuous,
            working_spacing_mm=settings.working_spacing_mm,
            progress=_span(progress, 0.5, 1.0),
            **settings.continuous_batch(),
        )
    return train, test, continuous


def run_demo(
    *,
    out_dir: Path,
    data_dir: Path | None = None,
    settings: DemoTraining = DEMO_TRAINING,
    device: str = "auto",
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
    show_progress: bool = True,
) -> TrainingResult:
    """Generate (or reuse) the demo phantoms, train the ensemble and evaluate it on the held-out batch."""
    out_dir = Path(out_dir)
    data_dir = Path(data_dir) if data_dir is not None else out_dir / "phantoms"
    started = time.perf_counter()
    train_dir, test_dir, continuous_dir = generate_demo_data(
        data_dir=data_dir, settings=settings, progress=_span(progress, 0.0, 0.15)
    )
    generated = time.perf_counter()
    config = settings.model_config()
    report = _span(progress, 0.15, 0.25)
    report(0.0, "reading the training phantoms")
    train_cases = cases_from_phantoms(path=train_dir, config=config.preprocess)
    if settings.continuous_train_cases:
        train_cases += cases_from_continuous(path=continuous_dir, config=config.preprocess,
                                             **settings.continuous_batch())
    report(0.7, "reading the test phantoms")
    test_cases = cases_from_phantoms(path=test_dir, config=config.preprocess)
    loaded = time.perf_counter()
    result = train_ensemble(
        cases=train_cases,
        test_cases=test_cases,
        device=device,
        out_dir=out_dir,
        progress=_span(progress, 0.25, 1.0),
        name="demo",
        version="demo",
        description={
            "demo": asdict(settings),
            "phantom_train_dir": str(train_dir),
            "phantom_test_dir": str(test_dir),
            "continuous_train_dir": str(continuous_dir) if settings.continuous_train_cases else None,
        },
        overwrite=overwrite,
        show_progress=show_progress,
        **settings.train_kwargs(),
    )
    result.timings["generate_phantoms_s"] = generated - started
    result.timings["load_phantoms_s"] = loaded - generated
    result.timings["demo_total_s"] = time.perf_counter() - started
    return result


INT_OPTIONS = (
    "epochs", "batch_size", "slice_size", "train_cases", "test_cases", "seed", "folds", "continuous_train_cases",
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="bundle + report folder")
    parser.add_argument("--data", type=Path, default=None, help="phantom folder (default OUT/phantoms)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--overwrite", action="store_true")
    for name in INT_OPTIONS:
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--decision-level", type=float, default=None)
    args = parser.parse_args(argv)
    overrides = {
        name: getattr(args, name)
        for name in (*INT_OPTIONS, "lr", "decision_level")
        if getattr(args, name) is not None
    }
    settings = replace(DEMO_TRAINING, **overrides)
    result = run_demo(
        out_dir=args.out, data_dir=args.data, settings=settings, device=args.device, overwrite=args.overwrite
    )
    test = result.test_metrics.summary() if result.test_metrics else {}
    print(
        json.dumps(
            {
                "settings": asdict(settings),
                "cv_dice": [result.cv_dice_mean, result.cv_dice_sd, result.cv_images],
                "cv_dice_substantial_slices": result.cv_substantial,
                "test": {
                    k: test.get(k)
                    for k in (
                        "dice_mean",
                        "dice_sd",
                        "sensitivity",
                        "specificity",
                        "f1",
                        "tp",
                        "fp",
                        "tn",
                        "fn",
                    )
                },
                "throughput_slices_per_s": result.throughput_slices_per_s,
                "timings": result.timings,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
