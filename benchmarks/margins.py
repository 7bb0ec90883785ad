"""Margin benchmark on continuous-truth phantoms: geometry alone, end to end, and seconds per analysis.

(a) geometry: the true tumour and specimen occupancy fields through ``analyse_margins``;
(b) end to end: DICOM written, read back by the real ingest (``load_studies``), ``predict_case``
with the shipped demo ensemble; errors against the exact continuous margin.
Cases come from the on-disk cache (``benchmarks.margin_cases``), so reruns skip generation.
Each end-to-end row carries a diagnosis: the margin with the true tumour and the CT's specimen
surface (specimen error alone), with the model's tumour and the true specimen (tumour error alone),
and the model surface's signed offset from the true tumour surface (``benchmarks.margin_diagnosis``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from benchmarks.margin_cases import CachedCase, load_case
from benchmarks.margin_diagnosis import signed_offset_mm
from cases.imaging.specimen import specimen_surface_from_ct
from inference.engine.margins import analyse_margins
from inference.engine.pipeline import predict_case

BAND_MM = (0.5, 2.0)


def cached_cases(*, root: Path, seeds: Iterable[int], size: str, wrapping: str) -> Iterable[CachedCase]:
    for seed in seeds:
        yield load_case(root=root, seed=seed, size=size, wrapping=wrapping)


def geometry_row(case: CachedCase) -> dict:
    started = time.perf_counter()
    result = analyse_margins(tumour_probability=case.tumour_occupancy, specimen_occupancy=case.specimen_occupancy,
                             spacing=case.working_grid.spacing, grid=case.working_grid)
    return {"seed": case.seed, "truth_mm": case.truth_mm, "measured_mm": result.closest_mm,
            "seconds": time.perf_counter() - started, "wrapping": case.wrapping}


def end_to_end_row(case: CachedCase, *, predictor, threshold_mm: float, diagnose: bool = True) -> dict:
    prediction = predict_case(ct_hu=case.ct_hu, pet=case.pet, suv_factor=case.suv_factor, grid=case.ingest_grid,
                              predictor=predictor, threshold_mm=threshold_mm)
    row = {"seed": case.seed, "truth_mm": case.truth_mm, "measured_mm": prediction.margin["closest_mm"],
           "status": prediction.margin["status"], "interval_mm": prediction.margin.get("interval_mm"),
           "seconds": prediction.timings.get("margin_s"), "wrapping": case.wrapping}
    if diagnose and tuple(case.ingest_grid.shape) == tuple(case.working_grid.shape):
        row.update(_diagnosis(case, prediction, level=predictor.config.threshold))
    return row


def _diagnosis(case: CachedCase, prediction, *, level: float) -> dict:
    spacing = case.working_grid.spacing
    surface = specimen_surface_from_ct(ct_hu=case.ct_hu, spacing=spacing)
    specimen_only = analyse_margins(tumour_probability=case.tumour_occupancy, specimen_occupancy=surface.occupancy,
                                    spacing=spacing)
    tumour_only = analyse_margins(tumour_probability=prediction.probability, tumour_level=level,
                                  specimen_occupancy=case.specimen_occupancy, spacing=spacing)
    return {
        "specimen_only_mm": specimen_only.closest_mm,
        "tumour_only_mm": tumour_only.closest_mm,
        "tumour_offset_mm": signed_offset_mm(field=prediction.probability, level=level,
                                             truth=case.tumour_occupancy, spacing=spacing),
        "specimen_offset_mm": signed_offset_mm(field=surface.occupancy, level=0.5, truth=case.specimen_occupancy,
                                               spacing=spacing),
    }


def summarise(rows: list[dict], *, threshold_mm: float) -> dict:
    """MAE / median / p95 absolute error, call accuracy, sensitivity, specificity (indeterminate = positive)."""
    if not rows:
        return {"n": 0}
    truth = np.array([r["truth_mm"] for r in rows], dtype=float)
    measured = np.array([np.nan if r["measured_mm"] is None else r["measured_mm"] for r in rows], dtype=float)
    signed = measured - truth
    errors = np.where(np.isnan(signed), np.inf, np.abs(signed))
    truly_positive = truth <= threshold_mm
    called = np.array([r.get("status", "positive" if m <= threshold_mm else "negative") in ("positive", "indeterminate")
                       for r, m in zip(rows, measured, strict=True)])
    missed = truly_positive & ~called & (truth < threshold_mm - 0.25)
    band = (truth >= BAND_MM[0]) & (truth <= BAND_MM[1])

    def ratio(a, b):
        return None if b == 0 else round(float(a) / float(b), 3)

    summary = {
        "n": len(rows), "n_band": int(band.sum()), "n_truly_positive": int(truly_positive.sum()),
        "mae_mm": round(float(np.mean(errors)), 3), "median_abs_mm": round(float(np.median(errors)), 3),
        "p95_abs_mm": round(float(np.percentile(errors, 95)), 3),
        "mean_signed_mm": None if np.isnan(signed).all() else round(float(np.nanmean(signed)), 3),
        "accuracy": ratio((called == truly_positive).sum(), len(rows)),
        "sensitivity": ratio((called & truly_positive).sum(), truly_positive.sum()),
        "specificity": ratio((~called & ~truly_positive).sum(), (~truly_positive).sum()),
        "band_accuracy": ratio((called == truly_positive)[band].sum(), band.sum()),
        "band_mae_mm": round(float(np.mean(errors[band])), 3) if band.any() else None,
        "missed_beyond_0_25mm": int(missed.sum()),
        "indeterminate": sum(1 for r in rows if r.get("status") == "indeterminate"),
        "max_seconds": round(max(float(r["seconds"] or 0.0) for r in rows), 3),
    }
    for key in ("specimen_only_mm", "tumour_only_mm"):
        values = [r.get(key) for r in rows]
        if all(v is not None for v in values):
            part = np.array(values, dtype=float) - truth
            summary[f"{key[:-3]}_mae_mm"] = round(float(np.mean(np.abs(part))), 3)
            summary[f"{key[:-3]}_mean_signed_mm"] = round(float(np.mean(part)), 3)
    offsets = [r.get("tumour_offset_mm") for r in rows if r.get("tumour_offset_mm") is not None]
    if offsets:
        summary["tumour_surface_offset_mean_mm"] = round(float(np.mean(offsets)), 3)
    return summary
