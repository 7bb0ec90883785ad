"""Reading units of lamella studies: which slice of which case readers call.

A unit's slice comes from the administrator (``units``) or else from the pathologist's ground truth
(its slice index: the section the outline was drawn on). Everything is validated before anything is
written, so a bad unit never leaves a half-made study.
"""

from __future__ import annotations

from dataclasses import dataclass

from cases.models import Case
from petctweb.errors import DomainError
from studies.models import GroundTruth, ReadingUnit, Study

MAX_LABEL = 80


@dataclass(frozen=True)
class UnitPlan:
    case: Case
    slice_index: int
    source: str
    label: str


def _slice(value, *, case: Case) -> int:
    if isinstance(value, bool) or value in (None, ""):
        raise DomainError(f"a lamella of case {case.code} needs a slice_index", code="invalid")
    try:
        index = int(value)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"slice_index of case {case.code} must be a whole number", code="invalid") from exc
    slices = case.grid.shape[0]
    if not 0 <= index < slices:
        raise DomainError(f"slice {index} of case {case.code} is out of range: its working grid has axial slices "
                          f"0 to {slices - 1}", code="slice_out_of_range")
    return index


def _from_ground_truth(cases: list[Case]) -> list[UnitPlan]:
    latest: dict[int, GroundTruth] = {}
    for gt in GroundTruth.objects.filter(case__in=cases).order_by("case_id", "version"):
        latest[gt.case_id] = gt
    lacking = [c.code for c in cases if latest.get(c.pk) is None or latest[c.pk].slice_index is None]
    if lacking:
        raise DomainError(
            f"a lamella study reads the slice that matches a pathology section, but case(s) {', '.join(lacking)} "
            "have no ground-truth slice index; record it with the ground truth, or give the units "
            "(case and slice_index) when creating the study", code="no_slice_index")
    return [UnitPlan(case=c, slice_index=_slice(latest[c.pk].slice_index, case=c),
                     source=ReadingUnit.Source.GROUND_TRUTH, label=f"{c.code}-k{latest[c.pk].slice_index}")
            for c in cases]


def _from_request(cases: list[Case], units: list[dict]) -> list[UnitPlan]:
    by_code = {c.code: c for c in cases}
    plans: list[UnitPlan] = []
    for n, item in enumerate(units, start=1):
        if not isinstance(item, dict):
            raise DomainError(f"unit {n} must be an object with case and slice_index", code="invalid")
        code = str(item.get("case") or "").strip()
        case = by_code.get(code)
        if case is None:
            raise DomainError(f"unit {n}: case '{code}' is not one of the study's cases", code="unknown_case")
        index = _slice(item.get("slice_index"), case=case)
        label = str(item.get("label") or f"{code}-k{index}").strip()
        if not label or len(label) > MAX_LABEL or any(ch.isspace() or ch in ',"' for ch in label):
            raise DomainError(f"unit {n}: a label is 1 to {MAX_LABEL} characters without spaces, commas or quotes",
                              code="invalid")
        plans.append(UnitPlan(case=case, slice_index=index, source=ReadingUnit.Source.ADMINISTRATOR, label=label))
    return plans


def plan_units(*, study_unit: str, cases: list[Case], units: list[dict] | None) -> list[UnitPlan]:
    """The units a new study (or its added cases) will have; [] for whole-specimen studies."""
    if study_unit != Study.ReadingUnit.LAMELLA:
        if units:
            raise DomainError("units are only for lamella studies (reading_unit 'lamella')", code="invalid")
        return []
    plans = _from_request(cases, units) if units else _from_ground_truth(cases)
    seen_slices, seen_labels = set(), set()
    for p in plans:
        if (p.case.pk, p.slice_index) in seen_slices:
            raise DomainError(f"slice {p.slice_index} of case {p.case.code} is listed twice", code="duplicate")
        if p.label in seen_labels:
            raise DomainError(f"unit label {p.label} is used twice", code="duplicate")
        seen_slices.add((p.case.pk, p.slice_index))
        seen_labels.add(p.label)
    without = [c.code for c in cases if all(p.case.pk != c.pk for p in plans)]
    if without:
        raise DomainError(f"case(s) {', '.join(without)} have no lamella to read; give each case a unit",
                          code="invalid")
    return plans


def create_units(*, study: Study, plans: list[UnitPlan]) -> list[ReadingUnit]:
    return [ReadingUnit.objects.create(study=study, case=p.case, slice_index=p.slice_index, source=p.source,
                                       label=p.label) for p in plans]
