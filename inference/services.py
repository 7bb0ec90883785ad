"""Writes for inference: requesting runs and executing them idempotently."""

from __future__ import annotations

import logging
import socket
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from cases.imaging.timing import StageClock, logged_stages
from cases.models import Case, CaseVolume, SpecimenSurface
from cases.selectors import case_volume
from cases.services import SPECIMEN_QC_KEY, store_arrays
from cases.specimen_surfaces import specimen_surface_latest
from cases.volume_store import load_array
from cases.worker_memory import recall
from inference.engine.pipeline import CasePrediction, predict_case
from inference.engine.specimen_correction import quantise_folds
from inference.engine.weights import ModelFileError
from inference.heartbeat import heartbeat_is_fresh, run_heartbeat
from inference.margin_results import margin_analysis_with_surface, margin_result_create
from inference.models import InferenceRun, ModelVersion, Segmentation
from inference.pacs.delivery import deliveries_after_run
from inference.registry import predictor_for
from inference.selectors import model_version_default
from petctweb.celery import app as celery_app
from petctweb.errors import DomainError

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 3  # deliveries of one run before it is declared failed
RUN_INFERENCE_TASK = "inference.tasks.run_inference"


def inference_run_request(
    *, case: Case, model_version: ModelVersion, user=None, threshold_mm: float | None = None
) -> InferenceRun:
    """Queue a run, or return the active one for this case and model (never two at once)."""
    threshold = settings.PETCTWEB_MARGIN_THRESHOLD_MM if threshold_mm is None else float(threshold_mm)
    if threshold < 0:
        raise DomainError("margin threshold must be 0 mm or more", code="invalid_threshold")
    active = InferenceRun.objects.filter(case=case, model_version=model_version, status__in=["queued", "running"])
    existing = active.first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            run = InferenceRun.objects.create(
                case=case, model_version=model_version, requested_by=user, threshold_mm=threshold
            )
            audit_record(actor=user, action="inference.request", object_type="inference_run", object_id=run.pk,
                         case_code=case.code, detail={"model": model_version.label})
            transaction.on_commit(lambda: _enqueue(run.pk))
    except IntegrityError:
        return active.get()
    return run


def _enqueue(run_id: int) -> None:
    # By registered name: the task module imports this one, never the reverse (routed to the gpu queue).
    celery_app.send_task(RUN_INFERENCE_TASK, args=[run_id])


def inference_run_request_default(*, case: Case, user=None) -> InferenceRun | None:
    model_version = model_version_default()
    if model_version is None:
        logger.info("no default model registered; case %s waits for one", case.code)
        return None
    return inference_run_request(case=case, model_version=model_version, user=user)


def inference_after_import(*, case: Case, user=None) -> InferenceRun | None:
    """Listener for ``cases.events``: run the default model on a newly imported case, if so configured."""
    if not settings.PETCTWEB_AUTO_INFERENCE:
        return None
    return inference_run_request_default(case=case, user=user)


def _set_progress(run_id: int, fraction: float, message: str) -> None:
    InferenceRun.objects.filter(pk=run_id, status=InferenceRun.Status.RUNNING).update(
        progress=round(100.0 * max(0.0, min(1.0, fraction)), 1), message=message
    )


def _claim(run_id: int) -> InferenceRun | None:
    """Lock the run and mark it running; None when there is nothing to do."""
    with transaction.atomic():
        run = InferenceRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.status in (InferenceRun.Status.DONE, InferenceRun.Status.FAILED):
            return None
        if run.status == InferenceRun.Status.RUNNING and heartbeat_is_fresh(run.heartbeat_at):
            return None  # a live worker has it (a duplicate message from a watchdog)
        # A run found "running" was re-delivered after its worker died: start it again.
        if run.attempts >= MAX_ATTEMPTS:
            run.status = InferenceRun.Status.FAILED
            run.message = f"gave up after {run.attempts} attempts: the worker stopped each time (killed or out of memory)"
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "message", "finished_at"])
            return None
        run.status = InferenceRun.Status.RUNNING
        run.attempts += 1
        run.progress = 0.0
        run.message = "starting"
        run.worker = socket.gethostname()
        run.started_at = run.heartbeat_at = timezone.now()
        run.save(update_fields=["status", "attempts", "progress", "message", "worker", "started_at", "heartbeat_at"])
        return run


def _fail(run_id: int, message: str) -> None:
    InferenceRun.objects.filter(pk=run_id).exclude(status=InferenceRun.Status.DONE).update(
        status=InferenceRun.Status.FAILED, message=message, finished_at=timezone.now()
    )


def _volume_array(case: Case, kind: str) -> np.ndarray:
    """A stored volume of the case (read-only when this process stored it a moment ago: no gunzip then, but
    the file must still be there at its recorded size, so a lost file fails the run as it would anyway)."""
    volume = case_volume(case=case, kind=kind)
    remembered = recall(case=case, kind=kind, name=volume.file.name)
    if remembered is not None and _stored_size(volume.file.name) == volume.size_bytes:
        return remembered
    return load_array(name=volume.file.name, dtype=volume.dtype, shape=volume.shape)


def _stored_size(name: str) -> int | None:
    try:
        return default_storage.size(name)
    except OSError:
        return None


def _ingest_specimen_occupancy(case) -> tuple[np.ndarray | None, list[dict]]:
    try:
        stored = _volume_array(case, CaseVolume.Kind.SPECIMEN_OCCUPANCY)
    except (DomainError, OSError, ValueError):
        return None, []
    return stored.astype(np.float32) / np.float32(255.0), list((case.metadata or {}).get(SPECIMEN_QC_KEY) or [])


def _predict(run: InferenceRun, device: str, clock: StageClock) -> CasePrediction:
    case = run.case
    clock.mark("load_volumes")
    try:
        ct = _volume_array(case, CaseVolume.Kind.CT)
        pet = _volume_array(case, CaseVolume.Kind.PET)
    except (DomainError, OSError, ValueError) as exc:
        raise DomainError(f"case {case.code} has no usable CT/PET volumes: {exc}", code="unusable_case") from exc
    # The sub-voxel specimen surface found at ingest is reused; cases imported before it was stored
    # get it from the CT here. A person's correction is applied in _store_result.
    occupancy, specimen_qc = _ingest_specimen_occupancy(case)
    clock.mark("predictor")
    predictor = predictor_for(model_version=run.model_version, device=device)
    clock.mark("predict")
    prediction = predict_case(
        ct_hu=ct,
        pet=pet,
        suv_factor=case.suv_factor,
        grid=case.grid,
        predictor=predictor,
        threshold_mm=run.threshold_mm,
        specimen_occupancy=occupancy,
        specimen_qc=specimen_qc,
        progress=lambda fraction, message: _set_progress(run.pk, fraction, message),
    )
    clock.close()
    prediction.timings.update({f"{name}_s": seconds for name, seconds in clock.seconds().items()
                               if name in ("load_volumes", "predictor")})
    return prediction


def _store_result(run: InferenceRun, result: CasePrediction, device: str) -> bool:
    """Write files, then the rows in one transaction; False when another delivery got there first."""
    case = run.case
    surface = specimen_surface_latest(case=case)
    margin = result.margin
    if surface is not None and surface.source == SpecimenSurface.Source.MANUAL and result.fold_probabilities is not None:
        margin = margin_analysis_with_surface(case=case, surface=surface, folds=result.fold_probabilities,
                                       model_version=run.model_version, threshold_mm=run.threshold_mm,
                                       inputs=margin.get("inputs") or {})
    prefix = f"masks/{case.code}/model-run{run.pk}-attempt{run.attempts}"
    written: list[str] = []
    arrays = {
        "mask": (result.mask, f"{prefix}-mask.raw.gz"),
        "uncertainty": (result.uncertainty.astype(np.float16), f"{prefix}-uncertainty.raw.gz"),
        "probability": (result.probability.astype(np.float16), f"{prefix}-probability.raw.gz"),
    }
    if result.fold_probabilities is not None:
        arrays["folds"] = (quantise_folds(result.fold_probabilities), f"{prefix}-folds.raw.gz")
    try:
        saved = store_arrays(arrays=arrays, written=written)
    except BaseException:
        for name in written:
            default_storage.delete(name)
        raise
    mask_name, uncertainty_name, probability_name = (saved[key][0] for key in ("mask", "uncertainty", "probability"))
    folds_name, fold_count = "", 0
    if result.fold_probabilities is not None:
        folds_name, fold_count = saved["folds"][0], int(result.fold_probabilities.shape[0])
    try:
        with transaction.atomic():
            locked = InferenceRun.objects.select_for_update().get(pk=run.pk)
            if locked.status != InferenceRun.Status.RUNNING or locked.attempts != run.attempts:
                raise _Superseded
            if Segmentation.objects.filter(inference_run=locked).exists():
                raise _Superseded
            segmentation = Segmentation.objects.create(
                case=case,
                source=Segmentation.Source.MODEL,
                model_version=run.model_version,
                inference_run=locked,
                mask_file=mask_name,
                uncertainty_file=uncertainty_name,
                probability_file=probability_name,
                fold_probability_file=folds_name,
                fold_count=fold_count,
                voxel_count=int(result.mask.sum()),
            )
            stored = margin_result_create(segmentation=segmentation, margin=margin, threshold_mm=run.threshold_mm,
                                          specimen_surface=surface)
            locked.status = InferenceRun.Status.DONE
            locked.progress = 100.0
            locked.message = f"margin {stored.status}"
            locked.device = device
            locked.timings = {k: round(v, 4) for k, v in result.timings.items()}
            locked.finished_at = timezone.now()
            locked.save(update_fields=["status", "progress", "message", "device", "timings", "finished_at"])
            transaction.on_commit(lambda: deliveries_after_run(run_id=locked.pk))  # results to PACS
        return True
    except _Superseded:
        for name in written:
            default_storage.delete(name)
        return False


class _Superseded(Exception):
    """Another delivery of the same run already stored its result."""


def resolve_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise DomainError("CUDA was requested but no GPU is available on this worker", code="no_cuda")
    return requested


def inference_run_execute(*, run_id: int, device: str | None = None) -> str:
    """Run (or re-run after a worker death) one inference; safe to call twice for the same id."""
    with logged_stages(task="run_inference", object_id=run_id) as clock:
        clock.mark("claim")
        run = _claim(run_id)
        if run is None:
            return "nothing to do"
        with run_heartbeat(run_id=run.pk):  # the watchdog re-enqueues the run if these beats stop
            return _execute_claimed(run, device, clock)


def _execute_claimed(run: InferenceRun, device: str | None, clock: StageClock) -> str:
    run_id = run.pk
    try:
        resolved = resolve_device(device or settings.PETCTWEB_INFERENCE_DEVICE)
        result = _predict(run, resolved, clock)
        started = next(stage["start"] for stage in clock.stages if stage["name"] == "predict")
        for name in ("preprocess", "network", "margin"):  # predict_case's own split of the predict stage
            seconds = result.timings.get(f"{name}_s")
            if seconds is not None:
                clock.add(f"predict.{name}", started, seconds)
                started += seconds
        clock.mark("store_result")
        stored = _store_result(run, result, resolved)
        clock.close()
    except DomainError as exc:
        _fail(run_id, exc.message)
        return "failed"
    except ModelFileError as exc:
        _fail(run_id, f"model files unusable: {exc}")
        return "failed"
    except MemoryError:
        _fail(run_id, "out of memory while processing this case")
        return "failed"
    except Exception as exc:  # a readable status beats a run stuck in "running"
        logger.exception("inference run %s failed", run_id)
        _fail(run_id, f"{type(exc).__name__}: {exc}")
        return "failed"
    return "done" if stored else "nothing to do"


def inference_runs_requeue_stale(*, older_than: timedelta) -> list[int]:
    """Re-enqueue runs whose worker vanished without the broker redelivering (e.g. host lost)."""
    cutoff = timezone.now() - older_than
    # Stale: no heartbeat since the cutoff (runs from before heartbeats count from their start).
    stale = list(
        InferenceRun.objects.filter(status=InferenceRun.Status.RUNNING)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, started_at__lt=cutoff))
        .values_list("pk", flat=True)
    )
    queued = list(
        InferenceRun.objects.filter(status=InferenceRun.Status.QUEUED, created_at__lt=cutoff).values_list("pk", flat=True)
    )
    for run_id in stale + queued:
        _enqueue(run_id)
    return stale + queued
