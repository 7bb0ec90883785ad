"""Writes for training: request a retraining on the current ground truth, and execute it idempotently.

Like inference runs, a job keeps its status and progress in its own row (``TrainingJob``) and its
Celery task only carries the id. Everything checkable is checked before queueing (who asks, the
parameters, one active job at a time, enough patients with signed-off outlined ground truth); the
worker checks again, since ground truth can change while the job waits.

Re-delivery: with ``acks_late`` the broker delivers a job again when its worker dies (killed, out of
memory); the job then restarts, at most ``MAX_ATTEMPTS`` times. A job found "running" in a process
that is still alive on this host is left alone (a Redis broker re-delivers a task that runs longer
than its visibility timeout; set ``CELERY_VISIBILITY_TIMEOUT`` above the longest training).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from dataclasses import asdict
from datetime import timedelta
from pathlib import Path

import torch
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from inference.engine.config import ModelConfig, NetworkConfig, PreprocessConfig
from inference.registry import model_version_register
from petctweb.celery import app as celery_app
from petctweb.errors import DomainError
from petctweb.roles import is_study_admin
from training.loop.ensemble import train_ensemble
from training.loop.loop import resolve_device
from training.loop.validation import TrainingInputError
from training.models import TrainingJob
from training.selectors import training_case_build, training_eligibility, working_spacing_mm

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 2  # deliveries of one job before it is declared failed (a training is long; don't loop)
MODEL_NAME = "retrained"
RUN_TRAINING_JOB_TASK = "training.tasks.run_training_job"
FOLDS_RANGE = (2, 10)
EPOCHS_RANGE = (1, 1000)
DEVICES = ("auto", "cpu", "cuda")
# Training settings that are not asked for in the form; tests and operators may override them.
DEFAULT_OPTIONS = {"batch_size": 16, "lr": 3e-3, "tumour_free_fraction": 0.25, "slice_size": None,
                   "max_tumour_slices_per_case": None, "augment": True}


def too_few_patients_message(*, folds: int, found: int) -> str:
    return (f"need signed-off ground truth with an outline for at least {folds} patients "
            f"({folds} folds), found {found}")


def _check_int(value, *, what: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DomainError(f"{what} must be a whole number from {low} to {high}", code="invalid")
    return value


def _network_config(network: dict | None) -> NetworkConfig:
    if not network:
        return NetworkConfig()
    try:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in network.items()}
        return NetworkConfig(**values)
    except TypeError as exc:
        raise DomainError(f"invalid network configuration: {exc}", code="invalid") from exc


def _heal_lost_job() -> None:
    """A job "running" for longer than the worker's hard time limit cannot still be running: fail it."""
    limit = timedelta(seconds=int(getattr(settings, "CELERY_TASK_TIME_LIMIT", 6 * 3600)) + 300)
    TrainingJob.objects.filter(
        is_active=True, status=TrainingJob.Status.RUNNING, started_at__lt=timezone.now() - limit
    ).update(status=TrainingJob.Status.FAILED, is_active=False, finished_at=timezone.now(),
             message="the worker stopped without reporting back (lost, or past its time limit)")


def training_job_request(
    *, user, folds: int, epochs: int, seed: int = 0, make_default: bool = False,
    device: str | None = None, network: dict | None = None, options: dict | None = None,
) -> TrainingJob:
    """Queue "retrain with the current ground truth" (study administrators; one active job at a time).

    ``device``, ``network`` and ``options`` (keys of DEFAULT_OPTIONS) are not offered on the web form;
    they let operators and tests choose the hardware and a smaller network.
    """
    if user is None or not is_study_admin(user):
        raise DomainError("Only study administrators may retrain the model.", code="forbidden", http_status=403)
    folds = _check_int(folds, what="folds", low=FOLDS_RANGE[0], high=FOLDS_RANGE[1])
    epochs = _check_int(epochs, what="epochs", low=EPOCHS_RANGE[0], high=EPOCHS_RANGE[1])
    seed = _check_int(seed, what="seed", low=0, high=2**31 - 1)
    device = device or getattr(settings, "PETCTWEB_TRAINING_DEVICE", settings.PETCTWEB_INFERENCE_DEVICE)
    if device not in DEVICES:
        raise DomainError(f"device must be one of {', '.join(DEVICES)}", code="invalid")
    unknown = sorted(set(options or {}) - set(DEFAULT_OPTIONS))
    if unknown:
        raise DomainError(f"unknown training option(s) {', '.join(unknown)}", code="invalid")
    network_config = _network_config(network)
    _heal_lost_job()
    active = TrainingJob.objects.filter(is_active=True).first()
    if active is not None:
        raise DomainError(f"training job {active.pk} is still {active.status}; wait for it to finish",
                          code="job_active", http_status=409)
    eligibility = training_eligibility()
    if eligibility.patients < folds:
        raise DomainError(too_few_patients_message(folds=folds, found=eligibility.patients),
                          code="too_few_patients")
    parameters = {"folds": folds, "epochs": epochs, "seed": seed, "device": device,
                  "make_default": bool(make_default), "network": asdict(network_config) if network else None,
                  "options": {**DEFAULT_OPTIONS, **(options or {})}}
    try:
        with transaction.atomic():
            job = TrainingJob.objects.create(
                requested_by=user, parameters=json.loads(json.dumps(parameters)),
                case_count=eligibility.cases, patient_count=eligibility.patients,
                message=f"queued: {eligibility.cases} cases of {eligibility.patients} patients",
            )
            audit_record(actor=user, action="training.request", object_type="training_job", object_id=job.pk,
                         detail={k: parameters[k] for k in ("folds", "epochs", "seed", "device", "make_default")}
                         | {"cases": eligibility.cases, "patients": eligibility.patients})
            transaction.on_commit(lambda: _enqueue(job.pk))
    except IntegrityError as exc:  # another request won the race for the one active slot
        raise DomainError("another training job was just started; wait for it to finish", code="job_active",
                          http_status=409) from exc
    return job


def _enqueue(job_id: int) -> None:
    # By registered name: the task module imports this one, never the reverse (routed to the training queue).
    celery_app.send_task(RUN_TRAINING_JOB_TASK, args=[job_id])


# --- execution -------------------------------------------------------------------------------------


def _worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive_elsewhere(job: TrainingJob) -> bool:
    """True when the job's recorded process still runs on this host (so this delivery is a duplicate)."""
    host, _, pid = job.worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False  # another host, or this very process: a re-delivery means that worker died
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _claim(job_id: int) -> TrainingJob | None:
    """Lock the job and mark it running; None when there is nothing (more) to do."""
    with transaction.atomic():
        job = TrainingJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status in (TrainingJob.Status.DONE, TrainingJob.Status.FAILED):
            return None
        if job.status == TrainingJob.Status.RUNNING and _alive_elsewhere(job):
            logger.warning("training job %s is still running in %s; ignoring a duplicate delivery", job_id, job.worker)
            return None
        if job.attempts >= MAX_ATTEMPTS:
            job.status, job.is_active, job.finished_at = TrainingJob.Status.FAILED, False, timezone.now()
            job.message = (f"gave up after {job.attempts} attempts: the worker stopped each time "
                           "(killed or out of memory); the worker may need more memory")
            job.save(update_fields=["status", "is_active", "message", "finished_at"])
            return None
        job.status = TrainingJob.Status.RUNNING
        job.attempts += 1
        job.progress = 0.0
        job.message = "starting"
        job.worker = _worker_id()
        job.started_at = timezone.now()
        job.save(update_fields=["status", "attempts", "progress", "message", "worker", "started_at"])
        return job


def _set_progress(job: TrainingJob, fraction: float, message: str) -> None:
    TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING, attempts=job.attempts).update(
        progress=round(100.0 * max(0.0, min(1.0, fraction)), 1), message=message[:2000]
    )


def _fail(job: TrainingJob, message: str) -> None:
    TrainingJob.objects.filter(pk=job.pk, status=TrainingJob.Status.RUNNING, attempts=job.attempts).update(
        status=TrainingJob.Status.FAILED, is_active=False, message=message, finished_at=timezone.now()
    )


def _model_version_name(job: TrainingJob) -> str:
    return f"{timezone.localtime(job.created_at):%Y%m%d-%H%M%S}-job{job.pk}"


def _metrics(report_json: Path) -> dict:
    """The cross-validation summary of report.json (already JSON-safe: NaN became null)."""
    report = json.loads(Path(report_json).read_text())
    training = report.get("training", {})
    return {
        "cv_dice_mean": report["cross_validation"]["dice_mean"],
        "cv_dice_sd": report["cross_validation"]["dice_sd"],
        "cv_images": report["cross_validation"]["images"],
        "cv_substantial_slices": report["cross_validation"].get("substantial_slices"),
        "folds": [{key: fold.get(key) for key in ("fold", "val_patients", "train_slices", "val_slices",
                                                  "val_tumour_slices", "best_epoch", "val_dice_mean", "val_dice_sd")}
                  for fold in report.get("folds", [])],
        "slices": training.get("slices"),
        "tumour_slices": training.get("tumour_slices"),
        "slice_size": training.get("slice_size"),
        "device": training.get("device"),
        "throughput_slices_per_s": report.get("throughput_slices_per_s"),
        "timings": report.get("timings", {}),
        "report": str(report_json),
    }


class _Superseded(Exception):
    """Another delivery of the same job took over while this one trained."""


def _work_dir(job: TrainingJob) -> Path:
    """Where one attempt trains; the registry keeps its own copy of the bundle and report."""
    return Path(settings.VAR_DIR) / "training" / f"job-{job.pk}-attempt-{job.attempts}"


def _train_and_register(job: TrainingJob) -> str:
    parameters = job.parameters
    options = {**DEFAULT_OPTIONS, **(parameters.get("options") or {})}
    folds = int(parameters["folds"])
    device = str(resolve_device(parameters.get("device") or "auto"))

    def report(fraction: float, message: str) -> None:
        _set_progress(job, fraction, message)

    def training_report(fraction: float, message: str) -> None:
        _set_progress(job, 0.1 + 0.86 * fraction, message)

    report(0.0, "collecting the signed-off ground truth")
    eligibility = training_eligibility()
    if eligibility.patients < folds:
        raise DomainError(too_few_patients_message(folds=folds, found=eligibility.patients))
    cases, training_set = [], []
    for index, item in enumerate(eligibility.items, start=1):
        case = training_case_build(case=item.case, ground_truth=item.ground_truth)
        cases.append(case)
        training_set.append({"case": item.case.code, "ground_truth_id": item.ground_truth.pk,
                             "version": item.ground_truth.version, "slices": list(case.annotated_slices or [])})
        report(0.1 * index / len(eligibility.items), f"read case {item.case.code} ({index}/{len(eligibility.items)})")
    TrainingJob.objects.filter(pk=job.pk).update(
        case_count=len(cases), patient_count=eligibility.patients, training_set=training_set, device=device
    )
    config = ModelConfig(preprocess=PreprocessConfig(working_spacing_mm=working_spacing_mm()),
                         network=_network_config(parameters.get("network")))
    version = _model_version_name(job)
    out_dir = _work_dir(job)
    result = train_ensemble(
        cases=cases, config=config, folds=folds, epochs=int(parameters["epochs"]), seed=int(parameters["seed"]),
        device=device, test_cases=None, out_dir=out_dir, progress=training_report, name=MODEL_NAME,
        version=version, overwrite=True, show_progress=False,
        description={"source": "signed-off ground truth in the database", "training_job": job.pk,
                     "ground_truth": training_set},
        **options,
    )
    del cases  # the volumes; registration only needs the bundle on disk
    report(0.97, "registering the model")
    metrics = _metrics(result.report_json)
    try:
        with transaction.atomic():
            locked = TrainingJob.objects.select_for_update().get(pk=job.pk)
            if locked.status != TrainingJob.Status.RUNNING or locked.attempts != job.attempts:
                raise _Superseded
            model = model_version_register(source_dir=result.bundle_dir, name=MODEL_NAME, version=version,
                                           make_default=bool(parameters.get("make_default")), user=job.requested_by)
            locked.status, locked.is_active = TrainingJob.Status.DONE, False
            locked.progress, locked.finished_at = 100.0, timezone.now()
            locked.model_version, locked.metrics, locked.device = model, metrics, device
            dice = metrics["cv_dice_mean"]
            locked.message = (f"registered {model.label}" + (" as the default model" if model.is_default else "")
                              + (f"; cross-validation Dice {dice:.3f}" if dice is not None else ""))
            locked.save(update_fields=["status", "is_active", "progress", "finished_at", "model_version", "metrics",
                                       "device", "message"])
            audit_record(actor=job.requested_by, action="training.done", object_type="training_job",
                         object_id=job.pk, detail={"model": model.label, "cv_dice_mean": dice,
                                                   "cases": locked.case_count, "patients": locked.patient_count})
    except _Superseded:
        return "nothing to do"
    return "done"


def training_job_execute(*, job_id: int) -> str:
    """Run (or re-run after a worker death) one training job; safe to call twice for the same id."""
    job = _claim(job_id)
    if job is None:
        return "nothing to do"
    try:
        return _train_and_register(job)
    except (TrainingInputError, DomainError) as exc:
        _fail(job, exc.message)
    except SoftTimeLimitExceeded:
        _fail(job, "stopped: the training ran past the worker's time limit; request fewer epochs")
    except MemoryError:
        _fail(job, "out of memory while training; ask for a worker with more memory")
    except torch.cuda.OutOfMemoryError:
        _fail(job, "the GPU ran out of memory while training; ask for a larger GPU or a smaller network")
    except Exception as exc:  # a readable status beats a job stuck in "running"
        logger.exception("training job %s failed", job_id)
        _fail(job, f"{type(exc).__name__}: {exc}")
    finally:
        _release_gpu_memory()
        shutil.rmtree(_work_dir(job), ignore_errors=True)  # registered (copied) or failed: not needed
    return "failed"


def _release_gpu_memory() -> None:
    """The gpu worker runs inference next: give back the training's cached CUDA memory."""
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
