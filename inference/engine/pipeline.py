"""The whole prediction for one case on its working grid: preprocess, ensemble, margins.

Django-free: the Celery task and the ``predict`` command both call ``predict_case``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cases.imaging.specimen import specimen_surface_from_ct
from cases.imaging.volume import Grid
from inference.engine.margins import analyse_margins
from inference.engine.preprocess import prepare_channels

Progress = Callable[[float, str], None]


@dataclass
class CasePrediction:
    mask: np.ndarray  # uint8 (Z, Y, X) on the working grid
    probability: np.ndarray  # float32 ensemble mean
    uncertainty: np.ndarray  # float32 spread across folds
    specimen_mask: np.ndarray  # uint8
    margin: dict  # MarginResult.to_dict()
    pet_mode: str  # "suv" or "uptake_ratio"
    timings: dict[str, float] = field(default_factory=dict)
    fold_probabilities: np.ndarray | None = None  # (K, Z, Y, X) float16: stored to re-run the margins


def predict_case(
    *,
    ct_hu: np.ndarray,
    pet: np.ndarray,
    suv_factor: float | None,
    grid: Grid,
    predictor,
    threshold_mm: float,
    specimen_mask: np.ndarray | None = None,
    specimen_occupancy: np.ndarray | None = None,
    specimen_qc: Sequence[dict] = (),
    progress: Progress | None = None,
) -> CasePrediction:
    """Segment the tumour with the ensemble and call margin status at ``threshold_mm``.

    The specimen surface comes from the CT (sub-voxel occupancy) unless it is given: as
    ``specimen_occupancy`` (float in [0, 1], the one found at ingest, with its ``specimen_qc``) or as
    ``specimen_mask`` (e.g. a reader's corrected surface), whose voxel faces are then the surface.
    """
    if specimen_mask is not None and specimen_occupancy is not None:
        raise ValueError("give at most one of specimen_mask and specimen_occupancy")
    if specimen_occupancy is not None and np.shape(specimen_occupancy) != np.shape(ct_hu):
        raise ValueError(f"specimen occupancy {np.shape(specimen_occupancy)} does not match the CT {np.shape(ct_hu)}")
    report = progress or (lambda fraction, message: None)
    timings: dict[str, float] = {}

    started = time.perf_counter()
    prepared = prepare_channels(ct_hu=ct_hu, pet=pet, suv_factor=suv_factor, config=predictor.config.preprocess)
    timings["preprocess_s"] = time.perf_counter() - started
    report(0.05, "preprocessed")

    started = time.perf_counter()
    prediction = predictor.predict(
        channels=prepared.channels, spacing=grid.spacing, progress=lambda fraction: report(0.05 + 0.85 * fraction, "segmenting")
    )
    timings["network_s"] = time.perf_counter() - started

    started = time.perf_counter()
    if specimen_occupancy is not None:
        occupancy = np.asarray(specimen_occupancy, dtype=np.float32)
        specimen_mask, specimen_qc = occupancy >= 0.5, [dict(flag) for flag in specimen_qc]
    elif specimen_mask is None:
        surface = specimen_surface_from_ct(ct_hu=ct_hu, spacing=grid.spacing)
        specimen_mask, occupancy, specimen_qc = surface.mask, surface.occupancy, list(surface.qc)
    else:
        occupancy, specimen_qc = np.asarray(specimen_mask, dtype=np.float32), []
    suv = pet.astype(np.float32) * np.float32(suv_factor) if suv_factor is not None else None
    model_spacing = float(predictor.config.preprocess.working_spacing_mm)
    margin = analyse_margins(
        tumour_probability=prediction.probability,
        fold_probabilities=prediction.fold_probabilities,
        tumour_level=prediction.threshold,
        specimen_occupancy=occupancy,
        spacing=grid.spacing,
        grid=grid,
        threshold_mm=threshold_mm,
        min_focus_volume_mm3=predictor.config.min_focus_volume_mm3,
        suv=suv,
        specimen_qc=specimen_qc,
        inputs={
            "working_spacing_mm": [float(v) for v in grid.spacing],
            "model_spacing_mm": model_spacing,
            "spacing_matches": bool(np.allclose(grid.spacing, model_spacing, rtol=0.01)),
            "pet_mode": prepared.pet_mode,
        },
    )
    timings["margin_s"] = time.perf_counter() - started
    report(1.0, "done")
    return CasePrediction(
        mask=prediction.mask.astype(np.uint8),
        probability=prediction.probability.astype(np.float32),
        uncertainty=prediction.uncertainty.astype(np.float32),
        specimen_mask=specimen_mask.astype(np.uint8),
        margin=margin.to_dict(),
        pet_mode=prepared.pet_mode,
        timings=timings,
        fold_probabilities=prediction.fold_probabilities,
    )


def summarise_margin(margin: dict) -> dict:
    """The flat margin fields the API, the pages and ``predict --json`` show, from MarginResult.to_dict()."""
    tumour_point = margin.get("tumour_point") or {}
    surface_point = margin.get("surface_point") or {}
    closest_point = None
    if tumour_point:
        closest_point = {
            "tumour_kji": tumour_point.get("index_kji"),
            "surface_kji": surface_point.get("index_kji"),
            "tumour_mm": tumour_point.get("patient_mm"),
            "surface_mm": surface_point.get("patient_mm"),
        }
    return {
        "status": margin["status"],
        "closest_margin_mm": margin.get("closest_mm"),
        "threshold_mm": margin.get("threshold_mm"),
        "faces": {face["face"]: face["distance_mm"] for face in margin.get("faces") or []},
        "closest_point": closest_point,
        "interval_mm": margin.get("interval_mm"),
        "folds": margin.get("folds") or [],
        "n_foci": margin.get("n_foci"),
        "tumour_volume_ml": margin.get("tumour_volume_ml"),
        "suv_max": margin.get("suv_max"),
        "suv_mean": margin.get("suv_mean"),
    }
