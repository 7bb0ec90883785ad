"""Held-out evaluation of a trained ensemble, through the product's own inference path.

Each test case goes through ``inference.engine.pipeline.predict_case`` (prepare_channels ->
EnsemblePredictor: fold probabilities averaged, thresholded, small components removed -> specimen
from CT -> margin analysis), i.e. exactly what a surgeon would be shown. Reported: 3D Dice per case,
and margin status (positive = closest margin <= threshold, default 1 mm, close counted as positive)
against the reference margin, as sensitivity, specificity and F1.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from inference.engine.config import ModelConfig
from inference.engine.margins import STATUS_TOLERANCE_MM, analyse_margins
from inference.engine.pipeline import predict_case
from inference.engine.predictor import EnsemblePredictor
from training.loop.data import TrainingCase, specimen_region


@dataclass(frozen=True)
class CaseEvaluation:
    case_id: str
    patient_id: str
    dice: float  # 3D, predicted vs reference tumour mask
    predicted_closest_mm: float | None  # None when no tumour was detected
    truth_closest_mm: float
    predicted_positive: bool
    truth_positive: bool
    predicted_volume_ml: float
    truth_volume_ml: float
    seconds: float


@dataclass
class TestMetrics:
    margin_threshold_mm: float
    cases: list[CaseEvaluation]
    dice_mean: float
    dice_sd: float
    tp: int
    fp: int
    tn: int
    fn: int
    sensitivity: float  # nan when there is no positive reference case
    specificity: float  # nan when there is no negative reference case
    f1: float
    accuracy: float
    timings: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict:
        data = asdict(self)
        data.pop("cases")
        data["n_cases"] = len(self.cases)
        return data

    def to_dict(self) -> dict:
        return asdict(self)


def dice_3d(*, prediction: np.ndarray, truth: np.ndarray) -> float:
    prediction, truth = np.asarray(prediction) > 0, np.asarray(truth) > 0
    total = int(prediction.sum()) + int(truth.sum())
    return 1.0 if total == 0 else 2.0 * int((prediction & truth).sum()) / total


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else float("nan")


def confusion_metrics(*, predicted: Sequence[bool], truth: Sequence[bool]) -> dict[str, float]:
    predicted, truth = np.asarray(predicted, dtype=bool), np.asarray(truth, dtype=bool)
    tp, fp = int((predicted & truth).sum()), int((predicted & ~truth).sum())
    tn, fn = int((~predicted & ~truth).sum()), int((~predicted & truth).sum())
    return {
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "accuracy": _ratio(tp + tn, len(truth)),
    }


def _truth_closest_mm(*, case: TrainingCase, config: ModelConfig, threshold_mm: float) -> float:
    """The reference margin: given with the case (pathology / phantom truth), else measured on the truth mask."""
    if case.truth_closest_margin_mm is not None:
        return float(case.truth_closest_margin_mm)
    channels = case.channels if case.ct_hu is None else None
    specimen = specimen_region(case=case, channels=channels, config=config.preprocess) | (
        case.tumour_mask > 0
    )
    result = analyse_margins(
        tumour_mask=case.tumour_mask > 0,
        specimen_mask=specimen,
        spacing=tuple(case.spacing),
        threshold_mm=threshold_mm,
    )
    return float(result.closest_mm) if result.closest_mm is not None else math.inf


def _predict(
    *, case: TrainingCase, predictor: EnsemblePredictor, threshold_mm: float
) -> tuple[np.ndarray, dict]:
    if case.ct_hu is not None and case.pet is not None:
        # The product path: specimen found from the CT, as for a new scan.
        prediction = predict_case(
            ct_hu=case.ct_hu,
            pet=case.pet,
            suv_factor=case.suv_factor,
            grid=case.working_grid,
            predictor=predictor,
            threshold_mm=threshold_mm,
        )
        return prediction.mask, prediction.margin
    # Channels only (no CT in HU to find the surface): the case's specimen mask or one from its CT channel.
    prediction = predictor.predict(channels=case.channels, spacing=tuple(case.spacing))
    specimen = specimen_region(case=case, channels=case.channels, config=predictor.config.preprocess)
    margin = analyse_margins(
        tumour_mask=prediction.mask > 0,
        specimen_mask=specimen,
        spacing=tuple(case.spacing),
        threshold_mm=threshold_mm,
    )
    return prediction.mask, margin.to_dict()


def evaluate_ensemble(
    *,
    state_dicts: Sequence[dict[str, torch.Tensor]],
    config: ModelConfig,
    cases: Sequence[TrainingCase],
    margin_threshold_mm: float = 1.0,
    device: str = "auto",
) -> TestMetrics:
    """Dice per case and margin-status sensitivity / specificity / F1 of the fold ensemble on ``cases``."""
    started = time.perf_counter()
    predictor = EnsemblePredictor.from_state_dicts(
        state_dicts=list(state_dicts), config=config, device=device
    )
    evaluations = []
    for case in cases:
        start = time.perf_counter()
        mask, margin = _predict(case=case, predictor=predictor, threshold_mm=margin_threshold_mm)
        truth_closest = _truth_closest_mm(case=case, config=config, threshold_mm=margin_threshold_mm)
        voxel_ml = float(np.prod(case.spacing)) / 1000.0
        evaluations.append(
            CaseEvaluation(
                case_id=case.case_id,
                patient_id=case.patient_id,
                dice=dice_3d(prediction=mask, truth=case.tumour_mask),
                predicted_closest_mm=margin.get("closest_mm"),
                truth_closest_mm=truth_closest,
                predicted_positive=margin.get("status") == "positive",
                truth_positive=truth_closest <= margin_threshold_mm + STATUS_TOLERANCE_MM,
                predicted_volume_ml=float((mask > 0).sum()) * voxel_ml,
                truth_volume_ml=float((np.asarray(case.tumour_mask) > 0).sum()) * voxel_ml,
                seconds=time.perf_counter() - start,
            )
        )
    dices = np.array([e.dice for e in evaluations], dtype=float)
    confusion = confusion_metrics(
        predicted=[e.predicted_positive for e in evaluations], truth=[e.truth_positive for e in evaluations]
    )
    total = time.perf_counter() - started
    return TestMetrics(
        margin_threshold_mm=float(margin_threshold_mm),
        cases=evaluations,
        dice_mean=float(dices.mean()),
        dice_sd=float(dices.std()),
        timings={"total_s": total, "per_case_s": total / max(len(evaluations), 1)},
        **confusion,
    )


def main(argv: list[str] | None = None) -> int:
    """``python -m training.loop.evaluate --bundle DIR --data DIR``: a bundle on a folder of cases."""
    from inference.engine.weights import ModelFileError, read_bundle
    from training.loop.sources import cases_from_data
    from training.loop.validation import TrainingInputError

    parser = argparse.ArgumentParser(
        prog="python -m training.loop.evaluate",
        description="Dice and margin status of a model bundle on held-out cases (phantoms or DICOM/NIfTI with masks).",
    )
    parser.add_argument("--bundle", type=Path, required=True, help="model bundle folder (model.json + folds)")
    parser.add_argument(
        "--data", type=Path, required=True, help="a make_phantoms folder or a folder of cases"
    )
    parser.add_argument(
        "--threshold-mm", type=float, default=1.0, help="margin status threshold (default 1 mm)"
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--json", action="store_true", help="print every case as JSON")
    args = parser.parse_args(argv)
    if args.threshold_mm < 0:
        parser.error("--threshold-mm must be 0 or more")
    try:
        bundle = read_bundle(args.bundle)
        cases = cases_from_data(path=args.data, config=bundle.config.preprocess)
    except (ModelFileError, TrainingInputError) as exc:
        parser.exit(2, f"error: {exc}\n")
    metrics = evaluate_ensemble(
        state_dicts=bundle.state_dicts,
        config=bundle.config,
        cases=cases,
        margin_threshold_mm=args.threshold_mm,
        device=args.device,
    )
    if args.json:
        print(json.dumps(metrics.to_dict(), indent=2))
        return 0
    for case in metrics.cases:
        predicted = "none" if case.predicted_closest_mm is None else f"{case.predicted_closest_mm:.2f}"
        print(
            f"{case.case_id}: Dice {case.dice:.3f}, margin {predicted} mm (truth {case.truth_closest_mm:.2f}), "
            f"{'positive' if case.predicted_positive else 'negative'} "
            f"(truth {'positive' if case.truth_positive else 'negative'})"
        )
    print(
        f"{len(metrics.cases)} cases: Dice {metrics.dice_mean:.3f} +/- {metrics.dice_sd:.3f}; margin status at "
        f"{args.threshold_mm:g} mm: TP {metrics.tp}, FP {metrics.fp}, TN {metrics.tn}, FN {metrics.fn}, "
        f"sensitivity {metrics.sensitivity:.3f}, specificity {metrics.specificity:.3f}, F1 {metrics.f1:.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
