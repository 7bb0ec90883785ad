"""Every statistic of a study, computed from a :class:`~studies.results.data.StudyTable` with studies.stats.

Django-free (masks come through a loader function and an optional cache object with ``get``/``set``).
The result is plain JSON. Wherever a method cannot run on the data (too few readers or cases, no
truth-positive cases, missing ground truth, ...) the value is ``{"not_computable": true, "reason":
...}``; every such place is also listed in ``not_computable`` with its path. Nothing is NaN.

Conventions are documented in ``METHODS`` (served with the report).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np

from studies.results.table import MODEL_KEY, NO_TUMOUR_SCORE, CaseRow, StudyTable
from studies.stats.binary import binary_metrics, mean_sd, reader_mean_sd
from studies.stats.imrmc import MrmcData, MrmcInputError
from studies.stats.kappa import cohens_kappa, fleiss_kappa, kappa_matrix
from studies.stats.mcnemar import compare_paired_accuracy, mcnemar_exact
from studies.stats.mrmc import obuchowski_rockette
from studies.stats.results import NotComputable, jsonable
from studies.stats.roc import auc_with_ci
from studies.stats.segmentation import segmentation_agreement
from studies.stats.standalone import model_vs_readers_auc

SCHEMA = "petctweb-study-results/1"
BINARY_LABELS = ("positive", "negative")  # kappa categories of the binary calls
SEG_METRICS = ("dice", "hausdorff_mm", "mean_surface_distance_mm")

METHODS = {
    "truth": ("Histopathological ground truth: the latest signed-off version per case. A case without one is "
              "left out of every analysis against truth. Calls are made binary with the study's positive "
              "categories (by default close counts as positive)."),
    "reader_call": "Each reader's final call per session: the latest amendment.",
    "model_call": (
        "The model's call: the newest finished run of the study's model version (see model.selection), "
        "re-classified at the study's margin threshold from the stored closest tumour-to-surface distance: "
        "0 mm = positive (tumour at the surface), <= threshold = close, beyond (or no tumour detected) = "
        "negative; then made binary with the study's positive categories."),
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

MaskLoader = Callable[[int], np.ndarray]


def _nc(reason: str) -> NotComputable:
    return NotComputable(reason=reason)


# --- vectors -----------------------------------------------------------------------------------


def _truth_cases(cases: list[CaseRow]) -> list[CaseRow]:
    return [c for c in cases if c.truth is not None]


def _reader_call(case: CaseRow, session: str, reader: str):
    return case.reads.get(session, {}).get(reader)


def roc_curve(*, truth: list[bool], scores: list[float]) -> list[dict[str, float]] | NotComputable:
    """Empirical ROC points (every distinct score as a threshold "score >= t"), from (0, 0) to (1, 1)."""
    t = np.asarray(truth, dtype=bool)
    s = np.asarray(scores, dtype=float)
    n1, n0 = int(t.sum()), int((~t).sum())
    if n1 == 0 or n0 == 0:
        return _nc(f"needs truth-positive and truth-negative cases; got {n1} and {n0}")
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


def _accuracy(table: StudyTable) -> dict:
    truth_cases = _truth_cases(table.cases)
    out: dict[str, Any] = {"sessions": {}}
    with_model = [c for c in truth_cases if c.model is not None]
    if not truth_cases:
        out["model"] = _nc("no case has signed-off ground truth")
    elif not with_model:
        out["model"] = _nc(f"no case with ground truth has a model result ({table.model.reason or 'none'})")
    else:
        out["model"] = binary_metrics(truth=[c.truth.positive for c in with_model],
                                      calls=[c.model.positive for c in with_model])
    for s in table.sessions:
        per_reader: dict[str, Any] = {}
        computable = {}
        for reader in table.readers:
            rated = [c for c in truth_cases if _reader_call(c, s.key, reader) is not None]
            if not rated:
                per_reader[reader] = _nc("no case with ground truth has a call of this reader in this session")
                continue
            m = binary_metrics(truth=[c.truth.positive for c in rated],
                               calls=[_reader_call(c, s.key, reader).positive for c in rated])
            per_reader[reader] = computable[reader] = m
        summary: Any = (reader_mean_sd(per_reader=computable) if computable
                        else _nc("no reader has calls on cases with ground truth in this session"))
        out["sessions"][s.key] = {"readers": per_reader, "reader_mean_sd": summary}
    return out


def _per_face(table: StudyTable) -> dict | NotComputable:
    truth_cases = [c for c in _truth_cases(table.cases) if c.truth.face_status]
    if not truth_cases:
        return _nc("no ground truth records a per-face margin status")

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
            return _nc(f"no face with a ground-truth status has a face call of {who}")
        return binary_metrics(truth=truth, calls=calls)

    out: dict[str, Any] = {
        "n_cases_with_face_truth": len(truth_cases),
        "n_faces_with_truth": sum(len(c.truth.face_status) for c in truth_cases),
        "model": metrics(lambda c: c.model.faces if c.model else None, "the model"),
        "sessions": {},
    }
    for s in table.sessions:
        per_reader = {r: metrics(lambda c, r=r, k=s.key: (_reader_call(c, k, r).face_calls
                                                          if _reader_call(c, k, r) else None), "this reader")
                      for r in table.readers}
        computable = {r: m for r, m in per_reader.items() if not isinstance(m, NotComputable)}
        out["sessions"][s.key] = {
            "readers": per_reader,
            "reader_mean_sd": reader_mean_sd(per_reader=computable) if computable else _nc(
                "no reader made face calls on faces with ground truth"),
        }
    return out


def _roc_entry(truth: list[bool], scores: list[float], calls: list[bool]) -> dict | NotComputable:
    if not truth:
        return _nc("no case with ground truth has a score")
    auc = auc_with_ci(truth=truth, scores=scores)
    if isinstance(auc, NotComputable):
        return auc
    return {"auc": auc, "curve": roc_curve(truth=truth, scores=scores),
            "operating_point": _operating_point(truth, calls), "n_cases": len(truth)}


def _roc(table: StudyTable) -> dict:
    truth_cases = _truth_cases(table.cases)
    with_model = [c for c in truth_cases if c.model is not None]
    out: dict[str, Any] = {
        "model": (_roc_entry([c.truth.positive for c in with_model], [c.model.score for c in with_model],
                             [c.model.positive for c in with_model])
                  if with_model else _nc("no case with ground truth has a model result")),
        "sessions": {},
    }
    for s in table.sessions:
        readers = {}
        for r in table.readers:
            rated = [c for c in truth_cases if _reader_call(c, s.key, r) is not None]
            calls = [_reader_call(c, s.key, r) for c in rated]
            readers[r] = _roc_entry([c.truth.positive for c in rated], [float(x.score) for x in calls],
                                    [x.positive for x in calls])
        out["sessions"][s.key] = {"readers": readers}
    return out


def _kappa_pair(a: list[bool], b: list[bool], what: str):
    if not a:
        return _nc(f"no case {what}")
    return cohens_kappa(calls_a=[_label(x) for x in a], calls_b=[_label(x) for x in b], categories=BINARY_LABELS)


def common_cases(cases: list[CaseRow], session: str, readers: list[str]) -> list[CaseRow]:
    return [c for c in cases if all(_reader_call(c, session, r) is not None for r in readers)]


def _agreement(table: StudyTable) -> dict:
    truth_cases = _truth_cases(table.cases)
    with_model = [c for c in truth_cases if c.model is not None]
    out: dict[str, Any] = {
        "model_vs_truth": _kappa_pair([c.model.positive for c in with_model], [c.truth.positive for c in with_model],
                                      "has both ground truth and a model result"),
        "sessions": {},
    }
    for s in table.sessions:
        vs_truth, vs_model = {}, {}
        for r in table.readers:
            rated = [c for c in truth_cases if _reader_call(c, s.key, r) is not None]
            vs_truth[r] = _kappa_pair([_reader_call(c, s.key, r).positive for c in rated],
                                      [c.truth.positive for c in rated], "has ground truth and a call of this reader")
            both = [c for c in table.cases if c.model is not None and _reader_call(c, s.key, r) is not None]
            vs_model[r] = _kappa_pair([_reader_call(c, s.key, r).positive for c in both],
                                      [c.model.positive for c in both], "has a model result and a call of this reader")
        common = common_cases(table.cases, s.key, table.readers)
        calls = {r: [_label(_reader_call(c, s.key, r).positive) for c in common] for r in table.readers}
        if len(table.readers) < 2:
            pairs: Any = _nc("one reader: there is no pair of readers")
            fleiss: Any = _nc("Fleiss' kappa needs at least two readers")
        elif not common:
            pairs = fleiss = _nc("no case has been called by every reader of this session yet")
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
                        if paired else _nc(f"no case with ground truth has {what}")),
        "calls": (mcnemar_exact(a=[get_a(c).positive for c in calls_only], b=[get_b(c).positive for c in calls_only])
                  if calls_only else _nc(f"no case has {what}")),
        "n_cases_with_truth": len(paired),
        "n_cases": len(calls_only),
    }


def mrmc_data(table: StudyTable) -> tuple[MrmcData | None, list[str], str]:
    """Reader scores on the cases with truth; (data, fully crossed cases, reason when none)."""
    truth_cases = _truth_cases(table.cases)
    if not truth_cases:
        return None, [], "no case has signed-off ground truth"
    if not table.readers:
        return None, [], "the study has no readers"
    sessions = sorted(table.sessions, key=lambda s: not s.aided)  # aided first: difference = aided - unaided
    crossed = [c for c in truth_cases if all(_reader_call(c, s.key, r) is not None
                                             for s in sessions for r in table.readers)]
    scores = {r: {s.key: {c.code: float(_reader_call(c, s.key, r).score) for c in truth_cases
                          if _reader_call(c, s.key, r) is not None} for s in sessions} for r in table.readers}
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
        return _nc(reason)
    if not crossed:
        return _nc("no case with ground truth has been called by every reader in every session yet")
    keep = set(crossed)
    sub = MrmcData(truth={c: t for c, t in data.truth.items() if c in keep},
                   scores={r: {m: {c: v for c, v in by_c.items() if c in keep} for m, by_c in by_m.items()}
                           for r, by_m in data.scores.items()})
    try:
        result = obuchowski_rockette(data=sub)
    except MrmcInputError as exc:
        return _nc(str(exc))
    return {"n_crossed_cases": len(crossed), "n_cases_with_truth": len(data.truth),
            "difference": "aided - unaided" if len(result.modalities) == 2 else None, "result": result}


def _model_vs_readers(table: StudyTable) -> dict:
    truth_cases = _truth_cases(table.cases)
    out = {}
    for s in table.sessions:
        usable = [c for c in common_cases(truth_cases, s.key, table.readers) if c.model is not None]
        if not table.readers:
            out[s.key] = _nc("the study has no readers")
        elif not usable:
            out[s.key] = _nc("no case has ground truth, a model result and a call of every reader in this session")
        else:
            out[s.key] = {"n_cases": len(usable), "result": model_vs_readers_auc(
                truth=[c.truth.positive for c in usable], model_scores=[c.model.score for c in usable],
                reader_scores={r: [float(_reader_call(c, s.key, r).score) for c in usable] for r in table.readers})}
    return out


def _comparisons(table: StudyTable) -> dict:
    truth_cases = _truth_cases(table.cases)
    out: dict[str, Any] = {"model_vs_reader": {}, "mrmc": _mrmc(table), "model_vs_readers_auc":
                           _model_vs_readers(table)}
    for s in table.sessions:
        out["model_vs_reader"][s.key] = {
            r: _mcnemar_pair(truth_cases, table.cases, lambda c: c.model,
                             lambda c, r=r, k=s.key: _reader_call(c, k, r), "a model result and this reader's call")
            for r in table.readers}
    aided = [s for s in table.sessions if s.aided]
    unaided = [s for s in table.sessions if not s.aided]
    if aided and unaided:
        a, u = aided[0].key, unaided[0].key
        out["aided_vs_unaided"] = {
            r: _mcnemar_pair(truth_cases, table.cases, lambda c, r=r: _reader_call(c, u, r),
                             lambda c, r=r: _reader_call(c, a, r), "both an unaided and an aided call of this reader")
            for r in table.readers}
    else:
        out["aided_vs_unaided"] = _nc(f"the study design '{table.study['design']}' has no unaided and aided "
                                      "sessions to compare")
    return out


# --- segmentation ------------------------------------------------------------------------------


class _Masks:
    """Masks of one case, loaded on first use."""

    def __init__(self, loader: MaskLoader):
        self.loader = loader
        self.cache: dict[int, np.ndarray] = {}

    def get(self, seg_id: int) -> np.ndarray:
        if seg_id not in self.cache:
            self.cache[seg_id] = np.asarray(self.loader(seg_id)) != 0
        return self.cache[seg_id]


def _from_dict(value: Any) -> float | NotComputable:
    if isinstance(value, dict):
        return NotComputable(reason=value.get("reason", "not computable"))
    return float(value)


def _agreement_dict(*, ref_id: int, test_id: int, masks: _Masks, spacing, mode: str, k: int | None,
                    cache) -> dict:
    key = f"studyres:seg:v1:{ref_id}:{test_id}:{mode}:{k}"
    if cache is not None:
        hit = cache.get(key)
        if hit is not None:
            return hit
    ref, test = masks.get(ref_id), masks.get(test_id)
    if ref.shape != test.shape:
        raise ValueError(f"segmentations {ref_id} and {test_id} have different shapes")
    if mode == "2d":
        value = segmentation_agreement(reference=ref[k], test=test[k], spacing=spacing[1:]).to_dict()
    else:
        value = segmentation_agreement(reference=ref, test=test, spacing=spacing).to_dict()
    value = {"reference_segmentation_id": ref_id, "test_segmentation_id": test_id, **value}
    if cache is not None:
        cache.set(key, value, 24 * 3600)  # segmentations are immutable: the key names the exact masks
    return value


def _seg_summary(per_case: dict[str, dict]) -> dict:
    if not per_case:
        return {m: _nc("no case with both masks") for m in SEG_METRICS}
    return {m: mean_sd(values={code: _from_dict(v[m]) for code, v in per_case.items()}) for m in SEG_METRICS}


def _truth_slice(case: CaseRow, masks: _Masks) -> tuple[str, int | None]:
    truth = case.truth
    if truth.slice_index is not None:
        return "2d", int(truth.slice_index)
    gt = masks.get(truth.segmentation_id)
    slices = np.flatnonzero(gt.reshape(gt.shape[0], -1).any(axis=1))
    if len(slices) == 1:
        return "2d", int(slices[0])
    return "3d", None


def _segmentation(table: StudyTable, loader: MaskLoader | None, cache) -> dict:
    vs_truth: dict[str, Any] = {"model": {}, "sessions": {s.key: {r: {} for r in table.readers}
                                                          for s in table.sessions}}
    between = {s.key: {f"{a}|{b}": {} for a, b in itertools.combinations(table.readers, 2)} for s in table.sessions}
    moved = {s.key: {r: {} for r in table.readers} for s in table.sessions if s.aided}  # the model is hidden unaided
    slices: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    if loader is None:
        return {"not_computed": _nc("masks were not loaded for this report")}
    for case in table.cases:
        masks = _Masks(loader)
        sp = case.spacing_mm
        # Against the ground-truth outline.
        if case.truth is not None and case.truth.segmentation_id is not None:
            mode, k = _truth_slice(case, masks)
            if k is not None and not 0 <= k < case.shape[0]:
                skipped[case.code] = f"ground-truth slice {k} is outside the grid"
            else:
                slices[case.code] = {"mode": mode, "slice_index": k,
                                     "ground_truth_segmentation_id": case.truth.segmentation_id}
                gt_id = case.truth.segmentation_id
                if case.model is not None:
                    vs_truth["model"][case.code] = _agreement_dict(ref_id=gt_id, test_id=case.model.segmentation_id,
                                                                   masks=masks, spacing=sp, mode=mode, k=k, cache=cache)
                for s in table.sessions:
                    for r in table.readers:
                        call = _reader_call(case, s.key, r)
                        if call is not None and call.segmentation_id is not None:
                            vs_truth["sessions"][s.key][r][case.code] = _agreement_dict(
                                ref_id=gt_id, test_id=call.segmentation_id, masks=masks, spacing=sp, mode=mode, k=k,
                                cache=cache)
        elif case.truth is not None:
            skipped[case.code] = "the ground truth has no tumour outline"
        # Between readers and against the model mask each reader started from (3D).
        for s in table.sessions:
            for a, b in itertools.combinations(table.readers, 2):
                ca, cb = _reader_call(case, s.key, a), _reader_call(case, s.key, b)
                if ca and cb and ca.segmentation_id and cb.segmentation_id:
                    between[s.key][f"{a}|{b}"][case.code] = _agreement_dict(
                        ref_id=ca.segmentation_id, test_id=cb.segmentation_id, masks=masks, spacing=sp, mode="3d",
                        k=None, cache=cache)
            for r in table.readers if s.key in moved else ():
                call = _reader_call(case, s.key, r)
                if call and call.segmentation_id and call.started_from_model_segmentation_id:
                    moved[s.key][r][case.code] = _agreement_dict(
                        ref_id=call.started_from_model_segmentation_id, test_id=call.segmentation_id, masks=masks,
                        spacing=sp, mode="3d", k=None, cache=cache)
        del masks

    def pack(per_case: dict) -> dict:
        return {"summary": _seg_summary(per_case), "cases": per_case, "n_cases": len(per_case)}

    return {
        "truth_slices": slices,
        "cases_without_outline": skipped,
        "vs_ground_truth": {
            "model": pack(vs_truth["model"]),
            "sessions": {k: {r: pack(v) for r, v in by_r.items()} for k, by_r in vs_truth["sessions"].items()},
        },
        "between_readers": {k: {pair: pack(v) for pair, v in by_pair.items()} for k, by_pair in between.items()},
        "reader_vs_model_start": {k: {r: pack(v) for r, v in by_r.items()} for k, by_r in moved.items()},
    }


# --- the report --------------------------------------------------------------------------------


def _case_payload(case: CaseRow) -> dict:
    def plain(obj):
        return None if obj is None else dataclasses.asdict(obj)

    return {
        "code": case.code,
        "truth": plain(case.truth),
        "truth_missing": case.truth_missing or None,
        "model": plain(case.model),
        "model_missing": case.model_missing or None,
        "reads": {s: {r: plain(call) for r, call in by_r.items()} for s, by_r in case.reads.items()},
    }


def _completeness(table: StudyTable) -> dict:
    truth_cases = _truth_cases(table.cases)
    return {
        "n_cases": len(table.cases),
        "n_with_truth": len(truth_cases),
        "n_truth_positive": sum(1 for c in truth_cases if c.truth.positive),
        "n_truth_negative": sum(1 for c in truth_cases if not c.truth.positive),
        "missing_truth": {c.code: c.truth_missing for c in table.cases if c.truth is None},
        "pending_truth_correction": [c.code for c in truth_cases if c.truth.pending_correction],
        "n_with_model": sum(1 for c in table.cases if c.model is not None),
        "missing_model": {c.code: c.model_missing for c in table.cases if c.model is None},
        "reads": {s.key: {r: sum(1 for c in table.cases if _reader_call(c, s.key, r) is not None)
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


def build_report(*, table: StudyTable, load_mask: MaskLoader | None = None, cache=None) -> dict:
    """The full results report (JSON-ready)."""
    report = {
        "schema": SCHEMA,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "study": {**table.study, "sessions": [{"key": s.key, "number": s.number, "aided": s.aided}
                                              for s in table.sessions]},
        "model": {"label": table.model.label, "selection": table.model.selection,
                  "reason": table.model.reason or None, "key": MODEL_KEY},
        "methods": METHODS,
        "completeness": _completeness(table),
        "cases": [_case_payload(c) for c in table.cases],
        "accuracy": _accuracy(table),
        "per_face": _per_face(table),
        "roc": _roc(table),
        "agreement": _agreement(table),
        "comparisons": _comparisons(table),
        "segmentation": _segmentation(table, load_mask, cache),
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

