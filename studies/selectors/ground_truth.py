"""Reads of pathology ground truth: versions, the signed-off final truth, overviews."""

from __future__ import annotations

from django.db.models import QuerySet

from cases.models import Case
from petctweb.errors import DomainError
from studies.models import GroundTruth, Study


def ground_truth_final(*, cases) -> dict[int, GroundTruth]:
    """The newest signed-off ground truth of each case (by case id); cases without one are absent."""
    final: dict[int, GroundTruth] = {}
    for gt in (GroundTruth.objects.filter(case__in=cases, signed_off_at__isnull=False)
               .select_related("segmentation").order_by("case_id", "version")):
        final[gt.case_id] = gt
    return final


def ground_truth_versions(*, case: Case) -> QuerySet[GroundTruth]:
    return GroundTruth.objects.filter(case=case).select_related("created_by", "signed_off_by").order_by("-version")


def ground_truth_current(*, case: Case) -> GroundTruth | None:
    return ground_truth_versions(case=case).first()


def ground_truth_get(*, case: Case, ground_truth_id: int) -> GroundTruth:
    gt = ground_truth_versions(case=case).filter(pk=ground_truth_id).first()
    if gt is None:
        raise DomainError(f"no ground truth {ground_truth_id} for case {case.code}", code="not_found", http_status=404)
    return gt


def ground_truth_payload(gt: GroundTruth) -> dict:
    return {
        "id": gt.pk,
        "case": gt.case.code,
        "version": gt.version,
        "supersedes": gt.supersedes_id,
        "margin_status": gt.margin_status,
        "closest_distance_mm": gt.closest_distance_mm,
        "face_status": gt.face_status,
        "tumour_type": gt.tumour_type,
        "segmentation_id": gt.segmentation_id,
        "slice_index": gt.slice_index,
        "section_status": gt.section_status,
        "notes": gt.notes,
        "correction_reason": gt.correction_reason,
        "source": gt.source,
        "created_by": gt.created_by.get_username() if gt.created_by else None,
        "created_at": gt.created_at.isoformat(),
        "signed_off": gt.signed_off,
        "signed_off_by": gt.signed_off_by.get_username() if gt.signed_off_by else None,
        "signed_off_at": gt.signed_off_at.isoformat() if gt.signed_off_at else None,
    }


def ground_truth_overview(*, study: Study | None = None) -> list[dict]:
    """Cases (of one study, or all) with the state of their current ground truth."""
    cases = Case.objects.order_by("code")
    if study is not None:
        cases = cases.filter(study_links__study=study)
    current: dict[int, GroundTruth] = {}
    for gt in GroundTruth.objects.filter(case__in=cases).order_by("case_id", "version"):
        current[gt.case_id] = gt
    rows = []
    for case in cases:
        gt = current.get(case.pk)
        rows.append({
            "code": case.code,
            "state": "missing" if gt is None else ("signed_off" if gt.signed_off else "draft"),
            "version": gt.version if gt else None,
            "margin_status": gt.margin_status if gt else None,
            "closest_distance_mm": gt.closest_distance_mm if gt else None,
            "has_outline": bool(gt and gt.segmentation_id),
        })
    return rows
