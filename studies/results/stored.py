"""Stored study reports: computed by a worker, served as stored, recomputed when their inputs change.

The dashboard asks often and the statistics take seconds to minutes of CPU, so web requests only
compare the inputs' fingerprint with the stored one and, when they differ, queue one recompute
(``studies.tasks.compute_study_report`` on the default queue, sent by name after commit: this module
never imports the task module). Exports still compute synchronously: exact numbers, rare, audited.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from petctweb.celery import app as celery_app
from petctweb.errors import DomainError
from studies.models import Study, StudyReport
from studies.results.compute import compute
from studies.results.fingerprint import report_fingerprint

logger = logging.getLogger(__name__)

COMPUTE_TASK = "studies.tasks.compute_study_report"
# A request older than this whose report never arrived (a lost message, a killed worker) is sent again.
REQUEST_EXPIRES = timedelta(minutes=30)
BUSY = (StudyReport.Status.QUEUED, StudyReport.Status.RUNNING)


@dataclass(frozen=True)
class StoredReport:
    report_json: str  # "" while none has been computed
    computed_at: datetime | None
    stale: bool  # the inputs changed since it was computed; a recompute is queued or running
    status: str
    error: str


def study_report_request(*, study: Study, model_label: str = "") -> bool:
    """Queue one recompute of the study's report unless one is queued or running; True when queued now."""
    now = timezone.now()
    with transaction.atomic():
        StudyReport.objects.get_or_create(study=study, model_label=model_label)
        row = (StudyReport.objects.select_for_update().only("status", "requested_at")
               .get(study=study, model_label=model_label))
        if row.status in BUSY and row.requested_at is not None and row.requested_at > now - REQUEST_EXPIRES:
            return False
        row.status, row.requested_at = StudyReport.Status.QUEUED, now
        row.save(update_fields=["status", "requested_at"])
        study_id = study.pk
        transaction.on_commit(lambda: celery_app.send_task(COMPUTE_TASK, args=[study_id, model_label]))
    return True


def study_report_current(*, study: Study, model_label: str = "") -> StoredReport:
    """The stored report as it is, queueing a recompute when it is missing or stale (for the dashboard)."""
    fingerprint = report_fingerprint(study=study, model_label=model_label)
    row = StudyReport.objects.filter(study=study, model_label=model_label).first()
    failed_here = row is not None and row.status == StudyReport.Status.FAILED and row.fingerprint == fingerprint
    fresh = row is not None and bool(row.report_json) and row.fingerprint == fingerprint
    if not fresh and not failed_here:  # a failure is retried only once the inputs change
        study_report_request(study=study, model_label=model_label)
        row = StudyReport.objects.get(study=study, model_label=model_label)
        fresh = bool(row.report_json) and row.fingerprint == fingerprint  # an inline worker is done already
    return StoredReport(report_json=row.report_json, computed_at=row.computed_at, stale=not fresh,
                        status=row.status, error=row.error)


def study_report_compute(*, study_id: int, model_label: str = "") -> str:
    """Compute and store one report (the worker's job); returns the final status."""
    study = Study.objects.filter(pk=study_id).first()
    if study is None:
        return "no such study"
    StudyReport.objects.update_or_create(study=study, model_label=model_label,
                                         defaults={"status": StudyReport.Status.RUNNING})
    # Taken before reading the inputs: a change during the computation leaves the result stale, never wrong.
    fingerprint = report_fingerprint(study=study, model_label=model_label)
    try:
        _, report = compute(study, model_label=model_label or None)
        text = json.dumps(report, allow_nan=False, separators=(",", ":"))
    except (DomainError, ValueError) as exc:  # an uncomputable study: kept, shown, retried when inputs change
        logger.warning("report of study %s (%s) failed: %s", study_id, model_label or "default model", exc)
        StudyReport.objects.filter(study=study, model_label=model_label).update(
            status=StudyReport.Status.FAILED, fingerprint=fingerprint, error=str(exc)[:2000])
        return StudyReport.Status.FAILED
    StudyReport.objects.filter(study=study, model_label=model_label).update(
        status=StudyReport.Status.READY, fingerprint=fingerprint, report_json=text, computed_at=timezone.now(),
        error="")
    return StudyReport.Status.READY
