"""Margin benchmark on continuous-truth phantoms: geometry alone, end to end, and seconds per analysis.

(a) geometry: the true tumour and specimen occupancy fields through ``analyse_margins``;
(b) end to end: DICOM written, read back by the real ingest (``load_studies``), ``predict_case``
with the shipped demo ensemble; errors against the exact continuous margin.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from cases.imaging.study import load_studies
from cases.phantoms.continuous import generate_continuous_case
from inference.engine.margins import analyse_margins
from inference.engine.pipeline import predict_case

BAND_MM = (0.5, 2.0)


def geometry_errors(*, n: int, seed: int, size: str = "small") -> list[dict]:
    rows = []
    for index in range(n):
        case = generate_continuous_case(seed=seed + index, size=size, band=True)
        started = time.perf_counter()
        result = analyse_margins(tumour_probability=case.tumour_occupancy, specimen_occupancy=case.specimen_occupancy,
                                 spacing=case.working_grid.spacing, grid=case.working_grid)
        rows.append({"truth_mm": case.truth["closest_margin_mm"], "measured_mm": result.closest_mm,
                     "seconds": time.perf_counter() - started, "wrapping": case.wrapping})
    return rows


def end_to_end(*, n: int, seed: int, predictor, threshold_mm: float, wrapping: str = "none",
               size: str = "small", deid_secret: str = "bench") -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(n):
            case = generate_continuous_case(seed=seed + index, size=size, band=True, wrapping=wrapping)
            folder = case.write(Path(scratch) / "cases")
            (study,) = load_studies(path=folder, working_spacing_mm=predictor.config.preprocess.working_spacing_mm,
                                    deid_secret=deid_secret, temp_parent=Path(scratch))
            prediction = predict_case(ct_hu=study.ct_working.array, pet=study.pet_working.array,
                                      suv_factor=study.suv.factor, grid=study.ct_working.grid, predictor=predictor,
                                      threshold_mm=threshold_mm)
            rows.append({"truth_mm": case.truth["closest_margin_mm"], "measured_mm": prediction.margin["closest_mm"],
                         "status": prediction.margin["status"], "seconds": prediction.timings.get("margin_s"),
                         "wrapping": wrapping})
    return rows


def summarise(rows: list[dict], *, threshold_mm: float) -> dict:
    """MAE / median / p95 absolute error, call accuracy, sensitivity, specificity (indeterminate = positive)."""
    if not rows:
        return {"n": 0}
    truth = np.array([r["truth_mm"] for r in rows], dtype=float)
    measured = np.array([np.nan if r["measured_mm"] is None else r["measured_mm"] for r in rows], dtype=float)
    errors = np.abs(measured - truth)
    errors = np.where(np.isnan(errors), np.inf, errors)
    truly_positive = truth <= threshold_mm
    called = np.array([r.get("status", "positive" if m <= threshold_mm else "negative") in ("positive", "indeterminate")
                       for r, m in zip(rows, measured, strict=True)])
    missed = truly_positive & ~called & (truth < threshold_mm - 0.25)
    band = (truth >= BAND_MM[0]) & (truth <= BAND_MM[1])

    def ratio(a, b):
        return None if b == 0 else round(float(a) / float(b), 3)

    return {
        "n": len(rows), "n_band": int(band.sum()),
        "mae_mm": round(float(np.mean(errors)), 3), "median_abs_mm": round(float(np.median(errors)), 3),
        "p95_abs_mm": round(float(np.percentile(errors, 95)), 3),
        "accuracy": ratio((called == truly_positive).sum(), len(rows)),
        "sensitivity": ratio((called & truly_positive).sum(), truly_positive.sum()),
        "specificity": ratio((~called & ~truly_positive).sum(), (~truly_positive).sum()),
        "band_accuracy": ratio((called == truly_positive)[band].sum(), band.sum()),
        "missed_beyond_0_25mm": int(missed.sum()),
    }
