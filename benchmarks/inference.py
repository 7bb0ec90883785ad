"""Timing of one case through the engine: preprocessing, network (per fold), margin analysis.

Used by the ``bench_inference`` management command. A warm-up pass over one batch of slices runs
first so device start-up and kernel selection do not count against the measured case.
"""

from __future__ import annotations

import time

import numpy as np

from cases.imaging.specimen import specimen_surface_from_ct
from cases.imaging.volume import Grid
from inference.engine.margins import analyse_margins
from inference.engine.predictor import EnsemblePredictor
from inference.engine.preprocess import prepare_channels


def _ct_from_channels(channels: np.ndarray, predictor: EnsemblePredictor) -> np.ndarray:
    """Undo the CT channel's [0, 1] scaling (clipped HU are enough to find the specimen)."""
    names = predictor.config.preprocess.channels
    if "ct" not in names:
        raise ValueError("no CT channel in the input: pass ct_hu to time the margin analysis")
    low, high = predictor.config.preprocess.ct_clip_hu
    return channels[names.index("ct")].astype(np.float32) * (high - low) + low


def benchmark_case(
    *,
    predictor: EnsemblePredictor,
    channels: np.ndarray | None = None,
    ct_hu: np.ndarray | None = None,
    pet: np.ndarray | None = None,
    suv_factor: float | None = None,
    spacing: tuple[float, float, float] | None = None,
    grid: Grid | None = None,
    threshold_mm: float = 1.0,
    warmup: bool = True,
) -> dict:
    """Run one case and report seconds per stage and slices/s per fold model.

    Give either working-grid ``ct_hu`` and ``pet`` (preprocessing is then timed too) or prepared
    ``channels`` (C, Z, Y, X). ``spacing`` (sz, sy, sx) defaults to the configured working spacing.
    """
    seconds: dict[str, float | None] = {"preprocess": None}
    if ct_hu is not None and pet is not None:
        start = time.perf_counter()
        channels = prepare_channels(
            ct_hu=ct_hu, pet=pet, suv_factor=suv_factor, config=predictor.config.preprocess
        ).channels
        seconds["preprocess"] = time.perf_counter() - start
    if channels is None:
        raise ValueError("give channels, or ct_hu and pet")
    channels = np.asarray(channels, dtype=np.float32)
    if spacing is None:
        spacing = (predictor.config.preprocess.working_spacing_mm,) * 3
    depth = channels.shape[1]

    if warmup:
        predictor.predict(channels=channels[:, : min(depth, predictor.batch_size)], spacing=spacing)
    prediction = predictor.predict(channels=channels, spacing=spacing)
    timings = prediction.timings
    seconds["upload"] = timings["upload"]
    seconds["network"] = timings["network"]
    seconds["postprocess"] = timings["postprocess"]

    start = time.perf_counter()
    ct_for_mask = ct_hu if ct_hu is not None else _ct_from_channels(channels, predictor)
    specimen = specimen_surface_from_ct(ct_hu=ct_for_mask, spacing=spacing)
    seconds["specimen_surface"] = time.perf_counter() - start
    # The product's margin path (inference.engine.pipeline): the ensemble-mean field at the decision
    # level, every fold analysed alike for the interval, against the specimen occupancy.
    start = time.perf_counter()
    margins = analyse_margins(
        tumour_probability=prediction.probability,
        fold_probabilities=prediction.fold_probabilities,
        tumour_level=prediction.threshold,
        specimen_occupancy=specimen.occupancy,
        specimen_qc=specimen.qc,
        spacing=spacing,
        grid=grid,
        threshold_mm=threshold_mm,
        min_focus_volume_mm3=predictor.config.min_focus_volume_mm3,
    )
    seconds["margin_analysis"] = time.perf_counter() - start
    seconds["total"] = sum(value for value in seconds.values() if value is not None)

    fold_seconds = [timings[f"network_fold_{i}"] for i in range(prediction.fold_count)]
    return {
        "device": prediction.device,
        "batch_size": prediction.batch_size,
        "folds": prediction.fold_count,
        "input_shape": [int(n) for n in channels.shape],
        "slices": int(depth),
        "seconds": seconds,
        "slices_per_second_per_fold": [depth / s if s > 0 else None for s in fold_seconds],
        "slices_per_second_ensemble": depth / timings["network"] if timings["network"] > 0 else None,
        "tumour_voxels": int(prediction.mask.sum()),
        "margin_status": margins.status,
        "closest_mm": margins.closest_mm,
    }
