"""JSON shapes of cases (with their model runs, margins and masks) for the API and the pages."""

from __future__ import annotations

from django.urls import reverse

from cases.models import Case
from cases.orientation import face_names, orientation_latest
from cases.specimen_surfaces import specimen_surface_latest
from inference.models import Segmentation
from inference.selectors import inference_run_latest, model_segmentation_latest
from petctweb.errors import DomainError
from portal.access_policy import case_access, ensure_specimen_surface_access, visible_cases
from portal.ingest_state import case_state
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


def margin_result_payload(margin) -> dict:
    """A stored margin result: the call, its fold interval, foci, QC and the inputs it was made with."""
    detail = margin.detail or {}
    inputs = detail.get("inputs") or {}
    surface = margin.specimen_surface
    return {
        "status": margin.status,
        "closest_margin_mm": margin.closest_margin_mm,
        "interval_mm": margin.interval_mm,
        "folds": detail.get("folds") or [],
        "threshold_mm": margin.threshold_mm,
        "faces": margin.faces,
        "closest_point": margin.closest_point,
        "n_foci": margin.n_foci,
        "foci": detail.get("foci") or [],
        "tumour_outside_specimen_mm3": margin.tumour_outside_specimen_mm3,
        "tumour_volume_ml": margin.tumour_volume_ml,
        "specimen_volume_ml": detail.get("specimen_volume_ml"),
        "suv_max": margin.suv_max,
        "suv_mean": margin.suv_mean,
        "qc": detail.get("specimen_qc") or [],
        "inputs": inputs,
        "pet_mode": margin.pet_mode or inputs.get("pet_mode"),
        "spacing_matches": inputs.get("spacing_matches"),
        "method": detail.get("method"),
        "specimen_surface": ({"id": surface.pk, "version": surface.version, "source": surface.source}
                             if surface is not None else None),
        "created": margin.created_at.isoformat() if margin.created_at else None,
    }


def margin_payload(segmentation) -> dict | None:
    margin = getattr(segmentation, "margin", None) if segmentation else None
    if margin is None:
        return None
    return {
        **margin_result_payload(margin),
        "model_version": segmentation.model_version.label if segmentation.model_version else None,
    }


def _specimen_surface_links(case: Case, user) -> dict | None:
    """Where the viewer finds the specimen surface, for those who may see and correct it."""
    if user is None:
        return None
    try:
        ensure_specimen_surface_access(user=user, case=case)
    except DomainError:
        return None
    latest = specimen_surface_latest(case=case)
    base = reverse("api-specimen-surfaces", kwargs={"code": case.code})
    return {
        "list_url": base,
        "latest": ({"id": latest.pk, "version": latest.version, "source": latest.source,
                    "mask_url": f"{base}{latest.pk}/mask/"} if latest else None),
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
        "model_hidden": not can_see_model,  # blinded in the reader's current session, not "never ran"
        "margin_status": margin["status"] if margin else None,
        "closest_margin_mm": margin["closest_margin_mm"] if margin else None,
        "margin_interval_mm": margin["interval_mm"] if margin else None,
        "n_foci": margin["n_foci"] if margin else None,
        "url": reverse("api-case-detail", kwargs={"code": case.code}),
        "state": case_state(case, can_see_model=can_see_model),  # live: imported, queued, segmenting, done, failed
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
        "state": case_state(case, can_see_model=can_see_model),
        "margin": margin_payload(segmentation),
        "specimen_surface": _specimen_surface_links(case, user) if can_see_model else None,
        "my_segmentation": _my_segmentation(case, user),
        "face_names": face_names(case=case),  # scanner face -> anatomical name from the newest orientation
        "orientation_version": getattr(orientation_latest(case=case), "version", None),
        "exports": {
            "dicom_seg": f"{base}results/seg/" if segmentation else None,
            "nifti": f"{base}results/nifti/" if segmentation else None,
            "margin_json": f"{base}results/json/" if segmentation else None,
            "margin_csv": f"{base}results/csv/" if segmentation else None,
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
