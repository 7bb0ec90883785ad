"""The call-based sections of the study report: accuracy, per face, ROC, agreement, comparisons.

Django-free; see :mod:`studies.results.report` for the whole report and its conventions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studies.results.table import CaseRow, StudyTable, cases_with_truth, reader_call
from studies.stats.binary import binary_metrics, reader_mean_sd
from studies.stats.imrmc import MrmcData, MrmcInputError
from studies.stats.kappa import cohens_kappa, fleiss_kappa, kappa_matrix
from studies.stats.mcnemar import compare_paired_accuracy, mcnemar_exact
from studies.stats.mrmc import obuchowski_rockette
from studies.stats.results import NotComputable
from studies.stats.roc import auc_with_ci
from studies.stats.standalone import model_vs_readers_auc

BINARY_LABELS = ("positive", "negative")  # kappa categories of the binary calls


def roc_curve(*, truth: list[bool], scores: list[float]) -> list[dict[str, float]] | NotComputable:
    """Empirical ROC points (every distinct score as a threshold "score >= t"), from (0, 0) to (1, 1)."""
    t = np.asarray(truth, dtype=bool)
    s = np.asarray(scores, dtype=float)
    n1, n0 = int(t.sum()), int((~t).sum())
    if n1 == 0 or n0 == 0:
        return NotComputable(reason=f"needs truth-positive and truth-negative cases; got {n1} and {n0}")
    points = [{"threshold": None, "fpr": 0.0, "tpr": 0.0}]
    for thr in sorted(set(s.tolist()), reverse=True):
        hit = s >= thr
        points.append({"threshold": float(thr), "fpr": float((hit & ~t).sum() / n0),
                       "tpr": float((hit & t).sum() / n1)})
    return points


def _operating_point(truth: list[bool], calls: list[bool]) -> dict[str, float | None]:
    t, c = np.asarray(truth, bool), np.asarray(calls, bool)
    n1, n0 = int(t.sum()), int((~t).sum())
    return {"fpr": float((c & ~t).sum() / n0) if n0 else None, "tpr": float((c & t).sum() / n1) if n1 else None}


def _label(positive: bool) -> str:
    return BINARY_LABELS[0] if positive else BINARY_LABELS[1]


# --- sections ----------------------------------------------------------------------------------


def accuracy_section(*, table: StudyTable) -> dict:
    truth_cases = cases_with_truth(table.cases)
    out: dict[str, Any] = {"sessions": {}}
    with_model = [c for c in truth_cases if c.model is not None]
    if not truth_cases:
        out["model"] = NotComputable(reason="no case has signed-off ground truth")
    elif not with_model:
        out["model"] = NotComputable(reason=f"no case with ground truth has a model result ({table.model.reason or 'none'})")
    else:
        out["model"] = binary_metrics(truth=[c.truth.positive for c in with_model],
                                      calls=[c.model.positive for c in with_model])
    for s in table.sessions:
        per_reader: dict[str, Any] = {}
        computable = {}
        for reader in table.readers:
            rated = [c for c in truth_cases if reader_call(c, s.key, reader) is not None]
            if not rated:
                per_reader[reader] = NotComputable(reason="no case with ground truth has a call of this reader in this session")
                continue
            m = binary_metrics(truth=[c.truth.positive for c in rated],
                               calls=[reader_call(c, s.key, reader).positive for c in rated])
            per_reader[reader] = computable[reader] = m
        summary: Any = (reader_mean_sd(per_reader=computable) if computable
                        else NotComputable(reason="no reader has calls on cases with ground truth in this session"))
        out["sessions"][s.key] = {"readers": per_reader, "reader_mean_sd": summary}
    return out


def per_face_section(*, table: StudyTable) -> dict | NotComputable:
    truth_cases = [c for c in cases_with_truth(table.cases) if c.truth.face_status]
    if not truth_cases:
        return NotComputable(reason="no ground truth records a per-face margin status")

    def pairs(get_calls) -> tuple[list[bool], list[bool]]:
        truth, calls = [], []
        for c in truth_cases:
            rater = get_calls(c) or {}
            for face, status in c.truth.face_status.items():
                if face in rater:
                    truth.append(status in table.positive_categories)
                    calls.append(rater[face] in table.positive_categories)
        return truth, calls

    def metrics(get_calls, who: str):
        truth, calls = pairs(get_calls)
        if not truth:
            return NotComputable(reason=f"no face with a ground-truth status has a face call of {who}")
        return binary_metrics(truth=truth, calls=calls)

    out: dict[str, Any] = {
        "n_cases_with_face_truth": len(truth_cases),
        "n_faces_with_truth": sum(len(c.truth.face_status) for c in truth_cases),
        "model": metrics(lambda c: c.model.faces if c.model else None, "the model"),
        "sessions": {},
    }
    for s in table.sessions:
        per_reader = {r: metrics(lambda c, r=r, k=s.key: (reader_call(c, k, r).face_calls
                                                          if reader_call(c, k, r) else None), "this reader")
                      for r in table.readers}
        computable = {r: m for r, m in per_reader.items() if not isinstance(m, NotComputable)}
        out["sessions"][s.key] = {
            "readers": per_reader,
            "reader_mean_sd": reader_mean_sd(per_reader=computable) if computable else NotComputable(reason=
                "no reader made face calls on faces with ground truth"),
        }
    return out


def _roc_entry(truth: list[bool], scores: list[float], calls: list[bool]) -> dict | NotComputable:
    if not truth:
        return NotComputable(reason="no case with ground truth has a score")
    auc = auc_with_ci(truth=truth, scores=scores)
    if isinstance(auc, NotComputable):
        return auc
    return {"auc": auc, "curve": roc_curve(truth=truth, scores=scores),
            "operating_point": _operating_point(truth, calls), "n_cases": len(truth)}


def roc_section(*, table: StudyTable) -> dict:
    truth_cases = cases_with_truth(table.cases)
    with_model = [c for c in truth_cases if c.model is not None]
    out: dict[str, Any] = {
        "model": (_roc_entry([c.truth.positive for c in with_model], [c.model.score for c in with_model],
                             [c.model.positive for c in with_model])
                  if with_model else NotComputable(reason="no case with ground truth has a model result")),
        "sessions": {},
    }
    for s in table.sessions:
        readers = {}
        for r in table.readers:
            rated = [c for c in truth_cases if reader_call(c, s.key, r) is not None]
            calls = [reader_call(c, s.key, r) for c in rated]
            readers[r] = _roc_entry([c.truth.positive for c in rated], [float(x.score) for x in calls],
                                    [x.positive for x in calls])
        out["sessions"][s.key] = {"readers": readers}
    return out


def _kappa_pair(a: list[bool], b: list[bool], what: str):
    if not a:
        return NotComputable(reason=f"no case {what}")
    return cohens_kappa(calls_a=[_label(x) for x in a], calls_b=[_label(x) for x in b], categories=BINARY_LABELS)


def common_cases(cases: list[CaseRow], session: str, readers: list[str]) -> list[CaseRow]:
    return [c for c in cases if all(reader_call(c, session, r) is not None for r in readers)]


def agreement_section(*, table: StudyTable) -> dict:
    truth_cases = cases_with_truth(table.cases)
    with_model = [c for c in truth_cases if c.model is not None]
    out: dict[str, Any] = {
        "model_vs_truth": _kappa_pair([c.model.positive for c in with_model], [c.truth.positive for c in with_model],
                                      "has both ground truth and a model result"),
        "sessions": {},
    }
    for s in table.sessions:
        vs_truth, vs_model = {}, {}
        for r in table.readers:
            rated = [c for c in truth_cases if reader_call(c, s.key, r) is not None]
            vs_truth[r] = _kappa_pair([reader_call(c, s.key, r).positive for c in rated],
                                      [c.truth.positive for c in rated], "has ground truth and a call of this reader")
            both = [c for c in table.cases if c.model is not None and reader_call(c, s.key, r) is not None]
            vs_model[r] = _kappa_pair([reader_call(c, s.key, r).positive for c in both],
                                      [c.model.positive for c in both], "has a model result and a call of this reader")
        common = common_cases(table.cases, s.key, table.readers)
        calls = {r: [_label(reader_call(c, s.key, r).positive) for c in common] for r in table.readers}
        if len(table.readers) < 2:
            pairs: Any = NotComputable(reason="one reader: there is no pair of readers")
            fleiss: Any = NotComputable(reason="Fleiss' kappa needs at least two readers")
        elif not common:
            pairs = fleiss = NotComputable(reason="no case has been called by every reader of this session yet")
        else:
            pairs = kappa_matrix(calls_by_rater=calls, categories=BINARY_LABELS)
            fleiss = fleiss_kappa(calls_by_rater=calls, categories=BINARY_LABELS)
        out["sessions"][s.key] = {"reader_vs_truth": vs_truth, "reader_vs_model": vs_model, "reader_pairs": pairs,
                                  "fleiss": fleiss, "n_common_cases": len(common)}
    return out


def _mcnemar_pair(truth_cases: list[CaseRow], all_cases: list[CaseRow], get_a, get_b, what: str) -> dict:
    paired = [c for c in truth_cases if get_a(c) is not None and get_b(c) is not None]
    calls_only = [c for c in all_cases if get_a(c) is not None and get_b(c) is not None]
    return {
        "correctness": (compare_paired_accuracy(truth=[c.truth.positive for c in paired],
                                                calls_a=[get_a(c).positive for c in paired],
                                                calls_b=[get_b(c).positive for c in paired])
                        if paired else NotComputable(reason=f"no case with ground truth has {what}")),
        "calls": (mcnemar_exact(a=[get_a(c).positive for c in calls_only], b=[get_b(c).positive for c in calls_only])
                  if calls_only else NotComputable(reason=f"no case has {what}")),
        "n_cases_with_truth": len(paired),
        "n_cases": len(calls_only),
    }


def mrmc_data(table: StudyTable) -> tuple[MrmcData | None, list[str], str]:
    """Reader scores on the cases with truth; (data, fully crossed cases, reason when none)."""
    truth_cases = cases_with_truth(table.cases)
    if not truth_cases:
        return None, [], "no case has signed-off ground truth"
    if not table.readers:
        return None, [], "the study has no readers"
    sessions = sorted(table.sessions, key=lambda s: not s.aided)  # aided first: difference = aided - unaided
    crossed = [c for c in truth_cases if all(reader_call(c, s.key, r) is not None
                                             for s in sessions for r in table.readers)]
    scores = {r: {s.key: {c.code: float(reader_call(c, s.key, r).score) for c in truth_cases
                          if reader_call(c, s.key, r) is not None} for s in sessions} for r in table.readers}
    scores = {r: {m: v for m, v in by_m.items() if v} for r, by_m in scores.items()}
    scores = {r: by_m for r, by_m in scores.items() if by_m}
    truth = {c.code: c.truth.positive for c in truth_cases}
    if not scores:
        return None, [], "no reader has called a case with ground truth"
    return MrmcData(truth=truth, scores=scores, description=(
        f"petctweb study {table.study['id']}: {table.study['name']}",
        "scores: reader ordinal 1-10 (call x confidence); truth: signed-off histopathology",
    )), [c.code for c in crossed], ""


def _mrmc(table: StudyTable) -> Any:
    data, crossed, reason = mrmc_data(table)
    if data is None:
        return NotComputable(reason=reason)
    if not crossed:
        return NotComputable(reason="no case with ground truth has been called by every reader in every session yet")
    keep = set(crossed)
    sub = MrmcData(truth={c: t for c, t in data.truth.items() if c in keep},
                   scores={r: {m: {c: v for c, v in by_c.items() if c in keep} for m, by_c in by_m.items()}
                           for r, by_m in data.scores.items()})
    try:
        result = obuchowski_rockette(data=sub)
    except MrmcInputError as exc:
        return NotComputable(reason=str(exc))
    return {"n_crossed_cases": len(crossed), "n_cases_with_truth": len(data.truth),
            "difference": "aided - unaided" if len(result.modalities) == 2 else None, "result": result}


def _model_vs_readers(table: StudyTable) -> dict:
    truth_cases = cases_with_truth(table.cases)
    out = {}
    for s in table.sessions:
        usable = [c for c in common_cases(truth_cases, s.key, table.readers) if c.model is not None]
        if not table.readers:
            out[s.key] = NotComputable(reason="the study has no readers")
        elif not usable:
            out[s.key] = NotComputable(reason="no case has ground truth, a model result and a call of every reader in this session")
        else:
            out[s.key] = {"n_cases": len(usable), "result": model_vs_readers_auc(
                truth=[c.truth.positive for c in usable], model_scores=[c.model.score for c in usable],
                reader_scores={r: [float(reader_call(c, s.key, r).score) for c in usable] for r in table.readers})}
    return out


def comparisons_section(*, table: StudyTable) -> dict:
    truth_cases = cases_with_truth(table.cases)
    out: dict[str, Any] = {"model_vs_reader": {}, "mrmc": _mrmc(table), "model_vs_readers_auc":
                           _model_vs_readers(table)}
    for s in table.sessions:
        out["model_vs_reader"][s.key] = {
            r: _mcnemar_pair(truth_cases, table.cases, lambda c: c.model,
                             lambda c, r=r, k=s.key: reader_call(c, k, r), "a model result and this reader's call")
            for r in table.readers}
    aided = [s for s in table.sessions if s.aided]
    unaided = [s for s in table.sessions if not s.aided]
    if aided and unaided:
        a, u = aided[0].key, unaided[0].key
        out["aided_vs_unaided"] = {
            r: _mcnemar_pair(truth_cases, table.cases, lambda c, r=r: reader_call(c, u, r),
                             lambda c, r=r: reader_call(c, a, r), "both an unaided and an aided call of this reader")
            for r in table.readers}
    else:
        out["aided_vs_unaided"] = NotComputable(reason=f"the study design '{table.study['design']}' has no unaided and aided "
                                      "sessions to compare")
    return out
