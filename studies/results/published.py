"""The published figures of the study this product reproduces, beside this study's own (Django-free).

They come from another data set (the group's 31 test lamellae of 31 patients; the cross-validation
on 53 lamellae of 19 patients), so they are context for our figures, never a target they are tested
against. Each figure names its source, documented in ``docs/published-reference.md``.
"""

from __future__ import annotations

from typing import Any

SOURCE_DOC = "docs/published-reference.md"
NPJ_2025 = ("De Man K, Goeker M, Keereman V, et al. npj Breast Cancer 2025, doi 10.1038/s41523-025-00797-w")
ESMO_2024 = "Conference abstract of the same group, ESMO Breast 2024"

PUBLISHED = (
    {"key": "model_f1", "label": "Model (ensemble) F1, margin status per lamella", "value": 0.84,
     "sd": None, "unit": "proportion", "source": NPJ_2025, "anchor": "ensemble-f1",
     "data_set": "published test set: 31 lamella images of 31 patients (9 margin-positive)"},
    {"key": "reader_sensitivity", "label": "Readers' mean sensitivity", "value": 0.91, "sd": None,
     "unit": "proportion", "source": ESMO_2024, "anchor": "reader-sensitivity-and-specificity",
     "data_set": "published test set: seven physicians on the same 31 images"},
    {"key": "reader_specificity", "label": "Readers' mean specificity", "value": 0.94, "sd": None,
     "unit": "proportion", "source": ESMO_2024, "anchor": "reader-sensitivity-and-specificity",
     "data_set": "published test set: seven physicians on the same 31 images"},
    {"key": "model_dice", "label": "Model Dice against the pathology outline", "value": 0.71, "sd": 0.20,
     "unit": "dice", "source": NPJ_2025, "anchor": "cross-validation-dice",
     "data_set": "published five-fold cross-validation: 53 lamellae of 19 patients (mean ± SD over images)"},
)

NOTE = ("Published figures come from another data set (the group's own patients and scanner); they are shown "
        "for context, not as a comparison on the same cases. Our Dice is on this study's units against the "
        "pathologist's outline; the published Dice is cross-validation.")


def _value(entry: Any) -> float | None:
    return float(entry["value"]) if isinstance(entry, dict) and "value" in entry else None


def _ci(entry: Any) -> list | None:
    return entry.get("ci95") if isinstance(entry, dict) else None


def _reader_mean(accuracy: dict, metric: str) -> tuple[dict | None, str]:
    """The readers' mean of a metric in the first (unaided) session, as the published reader study read."""
    sessions = accuracy.get("sessions") or {}
    key = "unaided" if "unaided" in sessions else next(iter(sessions), None)
    if key is None:
        return None, ""
    msd = (sessions[key].get("reader_mean_sd") or {}).get(metric)
    return (msd if isinstance(msd, dict) and "mean" in msd else None), key


def _ours(report: dict, key: str) -> dict:
    accuracy = report.get("accuracy") or {}
    if key == "model_f1":
        f1 = (accuracy.get("model") or {}).get("f1")
        return {"value": _value(f1), "ci95": _ci(f1), "sd": None, "note": "this study's model call per unit"}
    if key in ("reader_sensitivity", "reader_specificity"):
        msd, session = _reader_mean(accuracy, key.split("_", 1)[1])
        if msd is None:
            return {"value": None, "ci95": None, "sd": None, "note": "not computable yet"}
        sd = msd.get("sd")
        return {"value": float(msd["mean"]), "ci95": None, "sd": sd if isinstance(sd, int | float) else None,
                "note": f"mean over readers, {session} session"}
    summary = ((((report.get("segmentation") or {}).get("vs_ground_truth") or {}).get("model") or {})
               .get("summary") or {}).get("dice")
    if isinstance(summary, dict) and "mean" in summary:
        sd = summary.get("sd")
        return {"value": float(summary["mean"]), "ci95": None, "sd": sd if isinstance(sd, int | float) else None,
                "note": "this study's units against the pathologist's outline"}
    return {"value": None, "ci95": None, "sd": None, "note": "not computable (no outlines or no model masks)"}


def published_section(report: dict) -> dict:
    """Rows {key, label, published: {...}, ours: {...}} for the dashboard's published column."""
    rows = []
    for item in PUBLISHED:
        published = {k: item[k] for k in ("value", "sd", "source", "data_set")}
        published["source_doc"] = f"{SOURCE_DOC}#{item['anchor']}"
        rows.append({"key": item["key"], "label": item["label"], "unit": item["unit"], "published": published,
                     "ours": _ours(report, item["key"])})
    return {"note": NOTE, "rows": rows, "another_data_set": True}
