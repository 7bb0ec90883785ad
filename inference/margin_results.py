"""Margin results: storing one, and re-running only the margin analysis against a corrected specimen
surface (stored fold probabilities, no network) as a new, linked, audited result."""

from __future__ import annotations

import numpy as np
from django.core.files.storage import default_storage
from django.db import transaction

from audit.services import audit_record
from cases.models import Case, SpecimenSurface
from cases.selectors import case_volume_array
from cases.specimen_surfaces import specimen_surface_correct, specimen_surface_get, specimen_surface_latest
from cases.volume_store import load_array
from inference.engine.config import ModelConfig
from inference.engine.pipeline import summarise_margin
from inference.engine.specimen_correction import dequantise_folds, reanalyse_margins
from inference.models import MarginResult, ModelVersion, Segmentation
from petctweb.errors import DomainError

CORRECTED_QC = {"code": "specimen_corrected",
                "message": "the specimen surface was corrected by a person; the automatic QC flags do not apply"}


def margin_result_create(
    *, segmentation: Segmentation, margin: dict, threshold_mm: float, specimen_surface: SpecimenSurface | None
) -> MarginResult:
    """The stored margin result: queryable columns plus the full ``MarginResult.to_dict()`` in ``detail``."""
    summary = summarise_margin(margin)
    interval = margin.get("interval_mm") or [None, None]
    return MarginResult.objects.create(
        segmentation=segmentation,
        threshold_mm=threshold_mm,
        status=summary["status"],
        closest_margin_mm=summary["closest_margin_mm"],
        interval_low_mm=interval[0],
        interval_high_mm=interval[1],
        n_foci=int(margin.get("n_foci") or 0),
        tumour_outside_specimen_mm3=float(margin.get("tumour_outside_specimen_mm3") or 0.0),
        pet_mode=str((margin.get("inputs") or {}).get("pet_mode") or ""),
        specimen_surface=specimen_surface,
        faces=summary["faces"],
        per_slice=margin.get("slices") or [],
        closest_point=summary["closest_point"],
        tumour_volume_ml=summary["tumour_volume_ml"],
        suv_max=summary["suv_max"],
        suv_mean=summary["suv_mean"],
        detail={key: value for key, value in margin.items() if key != "slices"},
    )


def margin_analysis_with_surface(
    *, case: Case, surface: SpecimenSurface, folds: np.ndarray, model_version: ModelVersion, threshold_mm: float,
    inputs: dict, mask: np.ndarray | None = None,
) -> dict:
    """MarginResult.to_dict() of ``folds`` (K, Z, Y, X in [0, 1]) in ``surface`` (or ``mask``, unsaved)."""
    config = ModelConfig.from_dict(model_version.config)
    ct = case_volume_array(case=case, kind="ct")
    suv = None
    if case.suv_factor is not None:
        suv = case_volume_array(case=case, kind="pet").astype(np.float32) * np.float32(case.suv_factor)
    specimen = mask if mask is not None else load_array(name=surface.mask_file.name, dtype="uint8",
                                                          shape=case.grid.shape)
    try:
        return reanalyse_margins(
            ct_hu=ct, fold_probabilities=folds, specimen_mask=specimen, grid=case.grid, threshold_mm=threshold_mm,
            tumour_level=config.threshold, min_focus_volume_mm3=config.min_focus_volume_mm3, suv=suv, inputs=inputs,
            specimen_qc=[CORRECTED_QC],
        )
    except ValueError as exc:
        raise DomainError(f"the margin analysis refused this specimen surface: {exc}", code="invalid_mask") from exc


def _network_segmentation(case: Case) -> Segmentation:
    """The newest model segmentation produced by the network (re-analyses point at it as parent)."""
    segmentation = (
        Segmentation.objects.filter(case=case, source=Segmentation.Source.MODEL, inference_run__status="done")
        .select_related("margin", "model_version").order_by("-created_at", "-id").first()
    )
    if segmentation is None or getattr(segmentation, "margin", None) is None:
        raise DomainError(f"case {case.code} has no model result to re-analyse; run the model first",
                          code="no_model_result")
    if not segmentation.fold_probability_file or not segmentation.fold_count:
        raise DomainError("this model result predates stored fold probabilities; run the model again to "
                          "re-analyse margins without the network", code="no_model_result")
    return segmentation


def specimen_surface_correct_and_reanalyse(
    *, case: Case, parent_id: int, mask: np.ndarray, author
) -> tuple[SpecimenSurface, MarginResult]:
    """Store ``mask`` as the next specimen surface version and re-run only the margin analysis on it.

    The network is not run: the stored fold probabilities of the newest model run are measured
    against the corrected surface. Nothing is written unless both succeed.
    """
    parent = specimen_surface_get(case=case, surface_id=parent_id)
    latest = specimen_surface_latest(case=case)
    if latest is not None and latest.pk != parent.pk:
        raise DomainError(f"specimen surface version {parent.version} is not the newest (version {latest.version});"
                          " reload and correct the newest one", code="stale_parent")
    mask = np.asarray(mask, dtype=np.uint8)
    if tuple(mask.shape) != tuple(case.grid.shape):
        raise DomainError(f"mask shape {list(mask.shape)} does not match the case grid {list(case.grid.shape)}",
                          code="invalid_mask")
    if not mask.any():
        raise DomainError("the corrected specimen surface is empty", code="invalid_mask")
    network = _network_segmentation(case)
    previous = network.margin
    folds = dequantise_folds(load_array(name=network.fold_probability_file.name, dtype="uint8",
                                        shape=[network.fold_count, *case.grid.shape]))
    margin = margin_analysis_with_surface(
        case=case, surface=parent, folds=folds, model_version=network.model_version,
        threshold_mm=previous.threshold_mm, inputs=(previous.detail or {}).get("inputs") or {}, mask=mask,
    )
    surface = None
    try:
        with transaction.atomic():
            surface = specimen_surface_correct(case=case, parent=parent, mask=mask, author=author)
            reanalysis = Segmentation.objects.create(
                case=case, source=Segmentation.Source.MODEL, model_version=network.model_version, parent=network,
                version=network.version + surface.version - 1,
                mask_file=network.mask_file.name, uncertainty_file=network.uncertainty_file.name,
                probability_file=network.probability_file.name,
                fold_probability_file=network.fold_probability_file.name, fold_count=network.fold_count,
                voxel_count=network.voxel_count,
            )
            result = margin_result_create(segmentation=reanalysis, margin=margin,
                                          threshold_mm=previous.threshold_mm, specimen_surface=surface)
            audit_record(actor=author, action="margin.reanalyse", object_type="margin_result", object_id=result.pk,
                         case_code=case.code,
                         detail={"specimen_surface_version": surface.version, "from_segmentation": network.pk,
                                 "status": result.status, "closest_mm": result.closest_margin_mm,
                                 "previous_status": previous.status, "previous_closest_mm": previous.closest_margin_mm})
    except BaseException:
        if surface is not None:
            default_storage.delete(surface.mask_file.name)
        raise
    return surface, result
