"""The segmentation section of the study report: Dice, HD95 and mean surface distance.

Django-free: masks come through a loader function and an optional cache object with ``get``/``set``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from studies.results.table import CaseRow, StudyTable, reader_call
from studies.stats.binary import mean_sd
from studies.stats.results import NotComputable
from studies.stats.segmentation import segmentation_agreement

SEG_METRICS = ("dice", "hausdorff_mm", "mean_surface_distance_mm")
MaskLoader = Callable[[int], np.ndarray]


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
        return {m: NotComputable(reason="no case with both masks") for m in SEG_METRICS}
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


def segmentation_section(*, table: StudyTable, loader: MaskLoader | None, cache) -> dict:
    vs_truth: dict[str, Any] = {"model": {}, "sessions": {s.key: {r: {} for r in table.readers}
                                                          for s in table.sessions}}
    between = {s.key: {f"{a}|{b}": {} for a, b in itertools.combinations(table.readers, 2)} for s in table.sessions}
    moved = {s.key: {r: {} for r in table.readers} for s in table.sessions if s.aided}  # the model is hidden unaided
    slices: dict[str, dict] = {}
    skipped: dict[str, str] = {}
    if loader is None:
        return {"not_computed": NotComputable(reason="masks were not loaded for this report")}
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
                        call = reader_call(case, s.key, r)
                        if call is not None and call.segmentation_id is not None:
                            vs_truth["sessions"][s.key][r][case.code] = _agreement_dict(
                                ref_id=gt_id, test_id=call.segmentation_id, masks=masks, spacing=sp, mode=mode, k=k,
                                cache=cache)
        elif case.truth is not None:
            skipped[case.code] = "the ground truth has no tumour outline"
        # Between readers and against the model mask each reader started from (3D).
        for s in table.sessions:
            for a, b in itertools.combinations(table.readers, 2):
                ca, cb = reader_call(case, s.key, a), reader_call(case, s.key, b)
                if ca and cb and ca.segmentation_id and cb.segmentation_id:
                    between[s.key][f"{a}|{b}"][case.code] = _agreement_dict(
                        ref_id=ca.segmentation_id, test_id=cb.segmentation_id, masks=masks, spacing=sp, mode="3d",
                        k=None, cache=cache)
            for r in table.readers if s.key in moved else ():
                call = reader_call(case, s.key, r)
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
