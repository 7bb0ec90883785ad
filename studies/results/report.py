"""Every statistic of a study, computed from a :class:`~studies.results.data.StudyTable` with studies.stats.

Django-free (masks come through a loader function and an optional cache object with ``get``/``set``).
The result is plain JSON. Wherever a method cannot run on the data (too few readers or cases, no
truth-positive cases, missing ground truth, ...) the value is ``{"not_computable": true, "reason":
...}``; every such place is also listed in ``not_computable`` with its path. Nothing is NaN.

Conventions are documented in ``METHODS`` (served with the report).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

from studies.results.report_calls import (
    accuracy_section,
    agreement_section,
    comparisons_section,
    mrmc_data,
    per_face_section,
    roc_curve,
    roc_section,
)
from studies.results.report_segmentation import MaskLoader, segmentation_section
from studies.results.table import (
    MODEL_KEY,
    NO_TUMOUR_SCORE,
    CaseRow,
    StudyTable,
    cases_with_truth,
    reader_call,
)
from studies.stats.results import jsonable

__all__ = ["METHODS", "SCHEMA", "build_report", "collect_not_computable", "headline", "mrmc_data", "roc_curve"]

SCHEMA = "petctweb-study-results/1"

METHODS = {
    "truth": ("Histopathological ground truth: the latest signed-off version per case. A case without one is "
              "left out of every analysis against truth. Calls are made binary with the study's positive "
              "categories (by default close counts as positive)."),
    "reader_call": "Each reader's final call per session: the latest amendment.",
    "reading_unit": (
        "Whole-specimen studies: one row per case. Lamella studies: one row per reading unit (a case's axial "
        "slice matching a pathology section; the row's code is the unit's label): readers call that image; "
        "the truth is the pathologist's status of that section (its section status, or the case's status when "
        "it is the outlined section); the model's call is its in-plane call on that slice from the stored "
        "per-slice margins (no tumour in the slice = negative); Dice is on that slice."),
    "model_call": (
        "The model's call: the newest finished run of the study's model version (see model.selection), "
        "re-classified at the study's margin threshold from the stored closest tumour-to-surface distance: "
        "0 mm = positive (tumour at the surface), <= threshold = close, beyond (or no tumour detected) = "
        "negative; indeterminate when the calls of the ensemble and its folds disagree about the threshold "
        "(their closest margins straddle it, or some folds see no tumour; lamella units: their in-plane margins "
        "on the slice straddle it, where the stored result holds the folds' per-slice margins); then made "
        "binary with the study's positive categories, "
        "indeterminate as the study's indeterminate_counts_as setting says (see model.indeterminate)."),
    "model_score": (
        "Model ROC score: minus the closest margin distance in mm (higher = more suspicious); no tumour "
        f"detected scores {NO_TUMOUR_SCORE:g}. The model's operating point is its call at the study threshold."),
    "reader_score": (
        "Reader ROC score: ordinal 1-10 from the binary call and the confidence (1-5): negative with "
        "confidence 5 = 1 ... negative 1 = 5, positive 1 = 6 ... positive 5 = 10. Score >= 6 is the call."),
    "accuracy": ("Sensitivity, specificity, PPV, NPV, accuracy with exact Clopper-Pearson 95% CIs; F1 with a "
                 "percentile bootstrap CI (2000 resamples, seed 0); readers' mean +/- SD (ddof 1) per session."),
    "per_face": ("Per face: every (case, face) pair with a face status in the ground truth and a face call of the "
                 "rater, pooled; faces of one specimen are not independent, so these CIs are too narrow."),
    "roc": "Empirical ROC; Wilcoxon AUC with DeLong SE and Wald 95% CI.",
    "agreement": (
        "Cohen's kappa on the binary calls (Fleiss-Cohen-Everitt SE, Wald CI): each reader vs ground truth, "
        "vs the model (cases both rated), and between readers (kappa matrix on the cases every reader of the "
        "session called); Fleiss' kappa across the readers on those cases (bootstrap CI)."),
    "comparisons": (
        "McNemar exact tests on paired calls: model vs each reader and aided vs unaided per reader, on "
        "correctness against truth (overall, within truth-positive = sensitivity, within truth-negative = "
        "specificity) and on the calls themselves (positive-call rates). MRMC: Obuchowski-Rockette with "
        "Hillis df, random readers and random cases, on the reader scores of the fully crossed cases "
        "(difference = aided - unaided). Model vs readers: 1T-RRRC (model AUC - readers' mean AUC)."),
    "segmentation": (
        "Dice, HD95 and mean surface distance (mm, working-grid spacing). Against ground truth: the "
        "pathologist's outline is drawn on one axial slice (GroundTruth.slice_index, else the only slice it "
        "covers), so the comparison is 2D on that slice with the in-plane spacing; an outline spanning several "
        "slices without a slice index is compared in 3D. Between readers and reader vs the model mask the "
        "reader started from (parent chain): 3D on the working grid. Summaries: mean +/- SD over cases; "
        "HD95/MSD are not computable for a case where a mask is empty."),
}


def _case_payload(case: CaseRow) -> dict:
    def plain(obj):
        return None if obj is None else dataclasses.asdict(obj)

    return {
        "code": case.code,
        "case": case.case_code or case.code,
        "unit": case.code if case.unit_id is not None else None,
        "slice_index": case.slice_index,
        "truth": plain(case.truth),
        "truth_missing": case.truth_missing or None,
        "model": plain(case.model),
        "model_missing": case.model_missing or None,
        "reads": {s: {r: plain(call) for r, call in by_r.items()} for s, by_r in case.reads.items()},
    }


def _completeness(table: StudyTable) -> dict:
    truth_cases = cases_with_truth(table.cases)
    return {
        "n_cases": len(table.cases),
        "n_with_truth": len(truth_cases),
        "n_truth_positive": sum(1 for c in truth_cases if c.truth.positive),
        "n_truth_negative": sum(1 for c in truth_cases if not c.truth.positive),
        "missing_truth": {c.code: c.truth_missing for c in table.cases if c.truth is None},
        "pending_truth_correction": [c.code for c in truth_cases if c.truth.pending_correction],
        "n_with_model": sum(1 for c in table.cases if c.model is not None),
        "missing_model": {c.code: c.model_missing for c in table.cases if c.model is None},
        "reads": {s.key: {r: sum(1 for c in table.cases if reader_call(c, s.key, r) is not None)
                          for r in table.readers} for s in table.sessions},
    }


def collect_not_computable(value: Any, path: str = "") -> list[dict[str, str]]:
    """Every ``not_computable`` entry of a JSON report with its dotted path."""
    found: list[dict[str, str]] = []
    if isinstance(value, dict):
        if value.get("not_computable") is True:
            return [{"path": path, "reason": value.get("reason", "")}]
        for k, v in value.items():
            if k == "cases" and path.startswith("segmentation"):
                continue  # per-case empty-mask reasons; the summaries list them under "excluded"
            found += collect_not_computable(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found += collect_not_computable(v, f"{path}[{i}]")
    return found


def _indeterminate_note(table: StudyTable) -> dict:
    setting = table.study.get("indeterminate_counts_as", "positive")
    counted = sum(1 for c in table.cases if c.model is not None and c.model.status == "indeterminate")
    excluded = sum(1 for c in table.cases if c.model is None and "indeterminate" in (c.model_missing or ""))
    text = {"positive": "counted as positive (as close is)", "negative": "counted as negative",
            "excluded": "left out of the model's statistics"}.get(setting, setting)
    return {"counts_as": setting, "n_counted": counted, "n_excluded": excluded,
            "text": f"Indeterminate model calls are {text}: {counted + excluded} case(s)."}


def build_report(*, table: StudyTable, load_mask: MaskLoader | None = None, cache=None) -> dict:
    """The full results report (JSON-ready)."""
    report = {
        "schema": SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "study": {**table.study, "sessions": [{"key": s.key, "number": s.number, "aided": s.aided}
                                              for s in table.sessions]},
        "model": {"label": table.model.label, "selection": table.model.selection,
                  "reason": table.model.reason or None, "key": MODEL_KEY,
                  "indeterminate": _indeterminate_note(table)},
        "methods": METHODS,
        "completeness": _completeness(table),
        "cases": [_case_payload(c) for c in table.cases],
        "accuracy": accuracy_section(table=table),
        "per_face": per_face_section(table=table),
        "roc": roc_section(table=table),
        "agreement": agreement_section(table=table),
        "comparisons": comparisons_section(table=table),
        "segmentation": segmentation_section(table=table, loader=load_mask, cache=cache),
    }
    out = jsonable(report)
    out["not_computable"] = [item for section in ("accuracy", "per_face", "roc", "agreement", "comparisons",
                                                  "segmentation")
                             for item in collect_not_computable(out[section], section)]
    return out


def headline(report: dict) -> list[str]:
    """A few plain lines: sensitivity / specificity / AUC of the model and readers per session."""

    def pct(m: dict, name: str) -> str:
        v = m.get(name, {}) if isinstance(m, dict) else {}
        return "n/a" if not isinstance(v, dict) or "value" not in v else f"{100 * v['value']:.0f}%"

    def auc(entry) -> str:
        if not isinstance(entry, dict) or "auc" not in entry or "auc" not in (entry["auc"] or {}):
            return "n/a"
        return f"{entry['auc']['auc']:.3f}"

    lines = []
    c = report["completeness"]
    lines.append(f"cases {c['n_cases']} (truth {c['n_with_truth']}: {c['n_truth_positive']} positive), "
                 f"model results {c['n_with_model']}")
    m = report["accuracy"]["model"]
    lines.append(f"model ({report['model']['label'] or 'none'}): sensitivity {pct(m, 'sensitivity')}, "
                 f"specificity {pct(m, 'specificity')}, F1 {pct(m, 'f1')}, AUC {auc(report['roc']['model'])}")
    if report["model"].get("indeterminate"):
        lines.append(report["model"]["indeterminate"]["text"])
    for key, s in report["accuracy"]["sessions"].items():
        msd = s["reader_mean_sd"]
        if isinstance(msd, dict) and "sensitivity" in msd and "mean" in msd["sensitivity"]:
            sd = msd["sensitivity"]["sd"]
            spread = "" if isinstance(sd, dict) else f" ± {100 * sd:.0f}"
            spec = msd["specificity"]
            spec_text = f"{100 * spec['mean']:.0f}%" if "mean" in spec else "n/a"
            lines.append(f"readers {key}: mean sensitivity {100 * msd['sensitivity']['mean']:.0f}%{spread}, "
                         f"mean specificity {spec_text}")
    mrmc = report["comparisons"]["mrmc"]
    if isinstance(mrmc, dict) and "result" in mrmc:
        res = mrmc["result"]
        means = ", ".join(f"{k} {v:.3f}" for k, v in res["modality_means"].items())
        rrrc = res["rrrc"]
        if isinstance(rrrc, dict) and "p" in rrrc:
            lines.append(f"MRMC (OR, RRRC): reader mean AUC {means}; difference {rrrc['difference']:+.3f}, "
                         f"p = {rrrc['p']:.3g}")
        else:
            lines.append(f"MRMC: reader mean AUC {means}; {rrrc.get('reason', '')}")
    elif isinstance(mrmc, dict):
        lines.append(f"MRMC: not computable ({mrmc.get('reason')})")
    return lines
