"""The data behind each dashboard chart, as CSV rows (Django-free; built from the report JSON).

The dashboard draws the same numbers in the browser (``frontend/static/results/render.mjs``); these rows
let a statistician take the plotted values as they are. Operating points come from the accuracy section,
so they exist even when an ROC curve cannot be computed (few cases, one truth class, no AUC CI).
"""

from __future__ import annotations

import io
from typing import Any

from petctweb.csv_safety import csv_writer

CHARTS = ("roc", "forest")
ROC_COLUMNS = ["session", "rater", "kind", "threshold", "fpr", "tpr", "sensitivity", "specificity", "reason"]
FOREST_COLUMNS = ["session", "rater", "metric", "value", "ci_low", "ci_high", "reason"]


def _nc(value: Any) -> bool:
    return isinstance(value, dict) and value.get("not_computable") is True


def _value(estimate: Any) -> float | None:
    if not isinstance(estimate, dict) or _nc(estimate) or not isinstance(estimate.get("value"), int | float):
        return None
    return float(estimate["value"])


def operating_point(metrics: Any) -> dict | None:
    """{fpr, tpr} of a rater's binary calls, when both sensitivity and specificity are defined."""
    if not isinstance(metrics, dict) or _nc(metrics):
        return None
    sensitivity, specificity = _value(metrics.get("sensitivity")), _value(metrics.get("specificity"))
    if sensitivity is None or specificity is None:
        return None
    return {"fpr": 1.0 - specificity, "tpr": sensitivity}


def _raters(report: dict) -> list[tuple[str, str, Any, Any]]:
    """(session, rater, accuracy metrics, ROC entry) for the model, then each session's readers."""
    rows = [("", report["model"]["key"], report["accuracy"]["model"], report["roc"]["model"])]
    for session in report["study"]["sessions"]:
        key = session["key"]
        for reader in report["study"]["readers"]:
            rows.append((key, reader, report["accuracy"]["sessions"][key]["readers"].get(reader),
                         report["roc"]["sessions"][key]["readers"].get(reader)))
    return rows


def roc_rows(report: dict) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for session, rater, metrics, entry in _raters(report):
        if _nc(entry):
            rows.append([session, rater, "curve", "", "", "", "", "", entry.get("reason", "")])
        elif isinstance(entry, dict) and isinstance(entry.get("curve"), list):
            for point in entry["curve"]:
                rows.append([session, rater, "curve", "" if point.get("threshold") is None else point["threshold"],
                             point["fpr"], point["tpr"], "", "", ""])
        point = operating_point(metrics)
        if point is None:
            reason = metrics.get("reason", "") if _nc(metrics) else "sensitivity or specificity is undefined"
            rows.append([session, rater, "operating_point", "", "", "", "", "", reason])
        else:
            rows.append([session, rater, "operating_point", "", point["fpr"], point["tpr"], point["tpr"],
                         1.0 - point["fpr"], ""])
    return rows


def forest_rows(report: dict) -> list[list[Any]]:
    rows: list[list[Any]] = []
    for session, rater, metrics, _ in _raters(report):
        for name in ("sensitivity", "specificity"):
            estimate = metrics if _nc(metrics) else (metrics or {}).get(name)
            if _nc(estimate) or _value(estimate) is None:
                rows.append([session, rater, name, "", "", "", (estimate or {}).get("reason", "not computable")])
                continue
            low, high = (estimate.get("ci95") or [None, None])[:2]
            # A degenerate interval (low == high) says nothing; it is left out as on the dashboard.
            defined = isinstance(low, int | float) and isinstance(high, int | float) and high > low
            rows.append([session, rater, name, estimate["value"], low if defined else "", high if defined else "",
                         "" if defined else "no interval: too few cases"])
    return rows


def chart_csv(report: dict, *, chart: str) -> str:
    if chart not in CHARTS:
        raise ValueError(f"unknown chart {chart!r}; use one of {', '.join(CHARTS)}")
    columns, rows = (ROC_COLUMNS, roc_rows(report)) if chart == "roc" else (FOREST_COLUMNS, forest_rows(report))
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    writer.writerow(columns)
    writer.writerows(rows)
    return buffer.getvalue()
