"""JSON shapes of cases (with their model runs, margins and masks) for the API and the pages."""

from __future__ import annotations

from django.urls import reverse

from cases.models import Case
from inference.models import Segmentation
from inference.selectors import inference_run_latest, model_segmentation_latest
from portal.access_policy import case_access, visible_cases
from studies.models import GroundTruth


def run_payload(run) -> dict | None:
    if run is None:
        return None
    return {
        "id": run.pk,
        "model_version": run.model_version.label,
        "status": run.status,
        "progress": run.progress,
        "message": run.message,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "timings": run.timings,
        "device": run.device,
    }


def margin_payload(segmentation) -> dict | None:
    margin = getattr(segmentation, "margin", None) if segmentation else None
    if margin is None:
        return None
    return {
        "status": margin.status,
        "closest_margin_mm": margin.closest_margin_mm,
        "threshold_mm": margin.threshold_mm,
        "faces": margin.faces,
        "closest_point": margin.closest_point,
        "tumour_volume_ml": margin.tumour_volume_ml,
        "suv_max": margin.suv_max,
        "suv_mean": margin.suv_mean,
        "model_version": segmentation.model_version.label if segmentation.model_version else None,
    }


def case_summary(case: Case, *, can_see_model: bool = True) -> dict:
    run = inference_run_latest(case=case) if can_see_model else None
    segmentation = model_segmentation_latest(case=case) if can_see_model else None
    margin = margin_payload(segmentation)
    return {
        "code": case.code,
        "created_at": case.created_at.isoformat(),
        "source": case.source,
        "pet_units": case.pet_units,
        "suv_available": case.suv_factor is not None,
        "inference": run_payload(run),
        "margin_status": margin["status"] if margin else None,
        "closest_margin_mm": margin["closest_margin_mm"] if margin else None,
        "url": reverse("api-case-detail", kwargs={"code": case.code}),
    }


def case_summaries_for(*, user) -> list[dict]:
    """The case list a user sees, each summary blinded where the model's output is hidden from them."""
    return [case_summary(case, can_see_model=case_access(user=user, case=case).can_see_model)
            for case in visible_cases(user=user)]


def case_detail(case: Case, *, can_see_model: bool = True, user=None, can_see_ground_truth: bool = False) -> dict:
    base = reverse("api-case-detail", kwargs={"code": case.code})
    segmentation = model_segmentation_latest(case=case) if can_see_model else None
    volumes = {kind: f"{base}volumes/{kind}/" for kind in case.volumes.values_list("kind", flat=True)}
    volumes["model_mask"] = f"{base}volumes/model_mask/" if segmentation else None
    volumes["uncertainty"] = f"{base}volumes/uncertainty/" if segmentation else None
    volumes["ground_truth"] = _ground_truth_mask_url(case) if can_see_ground_truth else None
    run = inference_run_latest(case=case) if can_see_model else None
    return {
        "code": case.code,
        "created_at": case.created_at.isoformat(),
        "source": case.source,
        "metadata": case.metadata,
        "ct_acquired": case.ct_acquired,
        "pet_acquired": case.pet_acquired,
        "working_grid": case.working_grid,
        "pet_units": case.pet_units,
        "suv_factor": case.suv_factor,
        "suv_unavailable_reason": case.suv_unavailable_reason or None,
        "warnings": case.warnings,
        "volumes": volumes,
        "model": run_payload(run),
        "margin": margin_payload(segmentation),
        "my_segmentation": _my_segmentation(case, user),
        "exports": {
            "dicom_seg": f"{base}results/seg/" if segmentation else None,
            "nifti": f"{base}results/nifti/" if segmentation else None,
        },
    }


def _my_segmentation(case: Case, user) -> dict | None:
    if user is None or not user.is_authenticated:
        return None
    latest = (
        Segmentation.objects.filter(case=case, author=user, is_draft=False).order_by("-version", "-id").first()
    )
    if latest is None:
        return None
    return {"id": latest.pk, "version": latest.version, "source": latest.source,
            "url": f"/api/cases/{case.code}/segmentations/{latest.pk}/mask/"}


def _ground_truth_mask_url(case: Case) -> str | None:
    """The outline of the newest ground truth (signed off or not), else the newest drawn outline."""
    truth = GroundTruth.objects.filter(case=case, segmentation__isnull=False).order_by("-version").first()
    outline = truth.segmentation if truth else (
        Segmentation.objects.filter(case=case, source=Segmentation.Source.GROUND_TRUTH, is_draft=False)
        .order_by("-created_at", "-id").first()
    )
    return f"/api/cases/{case.code}/segmentations/{outline.pk}/mask/" if outline else None
