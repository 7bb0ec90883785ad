"""Pathology ground truth: record, edit a draft, sign off; corrections are new versions."""

from __future__ import annotations

import math

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from cases.models import Case
from inference.models import Segmentation
from petctweb.errors import DomainError
from studies.models import FACES, MARGIN_STATUSES, GroundTruth
from studies.services._checks import require_pathologist


def _number(value, what: str, *, minimum: float = 0.0) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"{what} must be a number", code="invalid") from exc
    if not math.isfinite(number) or number < minimum:
        raise DomainError(f"{what} must be {minimum:g} or more", code="invalid")
    return number


def validated_truth(*, case: Case, margin_status: str, closest_distance_mm, face_status: dict | None,
                     tumour_type: str, segmentation_id: int | None, slice_index,
                     section_status: dict | None = None) -> dict:
    if margin_status not in MARGIN_STATUSES:
        raise DomainError("margin status must be positive, close or negative", code="invalid")
    distance = _number(closest_distance_mm, "closest distance (mm)")
    if distance is not None:
        if margin_status == "positive" and distance > 0:
            raise DomainError("a positive margin means tumour at ink: the closest distance must be 0 mm",
                              code="inconsistent")
        if margin_status != "positive" and distance == 0:
            raise DomainError(f"a {margin_status} margin cannot have tumour at ink (0 mm)", code="inconsistent")
    faces = {k: v for k, v in (face_status or {}).items() if v not in (None, "")}
    unknown = [f for f in faces if f not in FACES]
    if unknown:
        raise DomainError(f"unknown face(s) {', '.join(unknown)}; use {', '.join(FACES)}", code="invalid")
    bad = [f for f, v in faces.items() if v not in MARGIN_STATUSES]
    if bad:
        raise DomainError(f"face status for {', '.join(bad)} must be positive, close or negative", code="invalid")
    if margin_status != "positive" and "positive" in faces.values():
        raise DomainError("a face is positive, so the margin status must be positive", code="inconsistent")
    segmentation = None
    if segmentation_id is not None:
        segmentation = Segmentation.objects.filter(pk=segmentation_id, case=case, is_draft=False,
                                                   source=Segmentation.Source.GROUND_TRUTH).first()
        if segmentation is None:
            raise DomainError(f"segmentation {segmentation_id} is not a saved ground-truth outline of case {case.code}",
                              code="bad_segmentation")
    index = None
    if slice_index not in (None, ""):
        try:
            index = int(slice_index)
        except (TypeError, ValueError) as exc:
            raise DomainError("slice index must be a whole number", code="invalid") from exc
        slices = case.grid.shape[0]
        if not 0 <= index < slices:
            raise DomainError(f"slice index must be between 0 and {slices - 1}", code="invalid")
    return {"margin_status": margin_status, "closest_distance_mm": distance,
            "face_status": {f: faces[f] for f in FACES if f in faces}, "tumour_type": (tumour_type or "").strip(),
            "segmentation": segmentation, "slice_index": index,
            "section_status": validated_sections(case=case, section_status=section_status)}


def validated_sections(*, case: Case, section_status: dict | None) -> dict[str, str]:
    """Margin status of further pathology sections by axial slice (lamella studies read them)."""
    if section_status is None:
        return {}
    if not isinstance(section_status, dict):
        raise DomainError("section status must map slice indices to positive, close or negative", code="invalid")
    slices = case.grid.shape[0]
    sections: dict[int, str] = {}
    for key, value in section_status.items():
        try:
            k = int(key)
        except (TypeError, ValueError) as exc:
            raise DomainError(f"section '{key}': the slice index must be a whole number", code="invalid") from exc
        if not 0 <= k < slices:
            raise DomainError(f"section slice {k} is out of range: the working grid has axial slices 0 to "
                              f"{slices - 1}", code="slice_out_of_range")
        if value not in MARGIN_STATUSES:
            raise DomainError(f"section slice {k}: status must be positive, close or negative", code="invalid")
        sections[k] = value
    return {str(k): sections[k] for k in sorted(sections)}


def gt_audit_detail(*, gt: GroundTruth) -> dict:
    return {"version": gt.version, "margin_status": gt.margin_status, "closest_distance_mm": gt.closest_distance_mm,
            "face_status": gt.face_status, "tumour_type": gt.tumour_type, "segmentation_id": gt.segmentation_id,
            "slice_index": gt.slice_index, "section_status": gt.section_status, "supersedes": gt.supersedes_id, "source": gt.source,
            "correction_reason": gt.correction_reason}


def ground_truth_record(*, user, case: Case, margin_status: str, closest_distance_mm=None,
                        face_status: dict | None = None, tumour_type: str = "", segmentation_id: int | None = None,
                        slice_index=None, notes: str = "", correction_reason: str = "",
                        section_status: dict | None = None) -> GroundTruth:
    """The first version of a case's ground truth, or a correction of the signed-off current one."""
    require_pathologist(user)
    values = validated_truth(case=case, margin_status=margin_status, closest_distance_mm=closest_distance_mm,
                              face_status=face_status, tumour_type=tumour_type, segmentation_id=segmentation_id,
                              slice_index=slice_index, section_status=section_status)
    with transaction.atomic():
        Case.objects.select_for_update().filter(pk=case.pk).exists()
        current = GroundTruth.objects.filter(case=case).order_by("-version").first()
        if current is not None and not current.signed_off:
            raise DomainError(f"version {current.version} of this ground truth is not signed off yet; edit it "
                              "instead of starting a new version", code="draft_exists", http_status=409)
        if current is not None and not (correction_reason or "").strip():
            raise DomainError(f"version {current.version} is signed off; a correction needs a reason",
                              code="reason_required")
        gt = GroundTruth.objects.create(case=case, version=(current.version + 1) if current else 1,
                                        supersedes=current, notes=notes or "",
                                        correction_reason=(correction_reason or "").strip() if current else "",
                                        created_by=user, **values)
        audit_record(actor=user, action="ground_truth.correct" if current else "ground_truth.create",
                     object_type="ground_truth", object_id=gt.pk, case_code=case.code, detail=gt_audit_detail(gt=gt))
    return gt


def ground_truth_update(*, user, ground_truth: GroundTruth, margin_status: str, closest_distance_mm=None,
                        face_status: dict | None = None, tumour_type: str = "", segmentation_id: int | None = None,
                        slice_index=None, notes: str = "", section_status: dict | None = None) -> GroundTruth:
    """Edit a version that is not signed off yet; a signed-off version is never changed."""
    require_pathologist(user)
    case = ground_truth.case
    values = validated_truth(case=case, margin_status=margin_status, closest_distance_mm=closest_distance_mm,
                              face_status=face_status, tumour_type=tumour_type, segmentation_id=segmentation_id,
                              slice_index=slice_index, section_status=section_status)
    with transaction.atomic():
        locked = GroundTruth.objects.select_for_update().get(pk=ground_truth.pk)
        if locked.signed_off:
            raise DomainError(f"version {locked.version} was signed off and is locked; record a correction as a "
                              "new version", code="signed_off", http_status=409)
        before = gt_audit_detail(gt=locked)
        for key, value in values.items():
            setattr(locked, key, value)
        locked.notes = notes or ""
        locked.save()
        audit_record(actor=user, action="ground_truth.update", object_type="ground_truth", object_id=locked.pk,
                     case_code=case.code, detail={**gt_audit_detail(gt=locked), "before": before})
    return locked


def ground_truth_sign_off(*, user, ground_truth: GroundTruth) -> GroundTruth:
    require_pathologist(user)
    with transaction.atomic():
        locked = GroundTruth.objects.select_for_update().get(pk=ground_truth.pk)
        if locked.signed_off:
            raise DomainError(f"version {locked.version} is already signed off", code="signed_off", http_status=409)
        newer = GroundTruth.objects.filter(case=locked.case_id, version__gt=locked.version).exists()
        if newer:
            raise DomainError("a newer version exists; sign off the current version", code="stale_version",
                              http_status=409)
        locked.signed_off_by = user
        locked.signed_off_at = timezone.now()
        locked.save(update_fields=["signed_off_by", "signed_off_at", "updated_at"])
        audit_record(actor=user, action="ground_truth.sign_off", object_type="ground_truth", object_id=locked.pk,
                     case_code=locked.case.code, detail=gt_audit_detail(gt=locked))
    return locked


def ground_truth_save_and_sign_off(*, user, case: Case, margin_status: str, closest_distance_mm=None,
                                   face_status: dict | None = None, tumour_type: str = "",
                                   segmentation_id: int | None = None, slice_index=None, notes: str = "",
                                   correction_reason: str = "", section_status: dict | None = None) -> GroundTruth:
    """Save the pathologist's values and sign them off in one step, or neither.

    A draft current version is edited; otherwise a first version (or a correction of the signed-off
    one) is recorded. Any refusal, including the sign-off's, leaves nothing written.
    """
    values = {"margin_status": margin_status, "closest_distance_mm": closest_distance_mm,
              "face_status": face_status, "tumour_type": tumour_type, "segmentation_id": segmentation_id,
              "slice_index": slice_index, "notes": notes, "section_status": section_status}
    with transaction.atomic():
        current = GroundTruth.objects.select_for_update().filter(case=case).order_by("-version").first()
        if current is not None and not current.signed_off:
            gt = ground_truth_update(user=user, ground_truth=current, **values)
        else:
            gt = ground_truth_record(user=user, case=case, correction_reason=correction_reason, **values)
        return ground_truth_sign_off(user=user, ground_truth=gt)
