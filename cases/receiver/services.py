"""Writes for received DICOM studies: record instances, close quiet studies, ingest them once."""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Collection
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record
from cases.imaging.deid import remap_uid
from cases.imaging.timing import StageClock, logged_stages
from cases.models import Case, IngestStage, ReceivedStudy
from cases.receiver.store import StoredInstance, instance_counts
from cases.services import case_import
from petctweb.celery import app as celery_app
from petctweb.errors import DomainError

logger = logging.getLogger(__name__)

INGEST_TASK = "cases.tasks.ingest_received_study"
OPEN = (ReceivedStudy.Status.RECEIVING, ReceivedStudy.Status.INCOMPLETE)
MODALITY_NAMES = {"CT": "CT", "PT": "PET"}


def study_key_for(study_uid: str) -> str:
    """The de-identified StudyInstanceUID ingest will give this study (and its case's ``study_key``)."""
    return remap_uid(uid=study_uid, secret=settings.PETCTWEB_DEID_SECRET)


def received_instances_record(*, stored: StoredInstance, instances: int, last_received_at: datetime) -> None:
    """Count stored instances on their study's open receipt (opening one if needed)."""
    opened = ReceivedStudy.objects.filter(study_key=stored.study_key, status__in=OPEN)
    changes = {"instances": F("instances") + instances, "last_received_at": last_received_at,
               "status": ReceivedStudy.Status.RECEIVING, "message": ""}
    if opened.update(**changes):
        return
    try:
        with transaction.atomic():
            ReceivedStudy.objects.create(study_key=stored.study_key, folder=str(stored.study_dir),
                                         calling_ae=stored.calling_ae, instances=instances,
                                         last_received_at=last_received_at)
    except IntegrityError:  # opened a moment ago by another process
        opened.update(**changes)


def _enqueue(received_id: int) -> None:
    # By registered name: cases.tasks imports this module, never the reverse (default queue).
    celery_app.send_task(INGEST_TASK, args=[received_id])


def _close(received: ReceivedStudy, *, why: str) -> ReceivedStudy:
    """End receipt: queue for ingest when CT and PET are both there, else say what is missing."""
    counts = instance_counts(Path(received.folder))
    received.ct_instances, received.pet_instances = counts["CT"], counts["PT"]
    missing = [MODALITY_NAMES[modality] for modality, count in counts.items() if count == 0]
    if missing:
        received.status = ReceivedStudy.Status.INCOMPLETE
        received.message = (f"{why}, but no {' and no '.join(missing)} series was received; not ingested "
                            "(send the missing series or the whole study again)")
    else:
        received.status = ReceivedStudy.Status.QUEUED
        received.message = f"{why}: queued for ingest"
        received.completed_at = timezone.now()
        transaction.on_commit(lambda pk=received.pk: _enqueue(pk))
    received.save(update_fields=["ct_instances", "pet_instances", "status", "message", "completed_at"])
    return received


def received_studies_close_quiet(*, quiet_seconds: float, busy: Collection[str] = ()) -> list[int]:
    """Close every receipt with no instance for ``quiet_seconds``, except the ``busy`` study keys (still
    being sent); returns the ids queued for ingest."""
    cutoff = timezone.now() - timedelta(seconds=quiet_seconds)
    queued = []
    candidates = ReceivedStudy.objects.filter(
        status=ReceivedStudy.Status.RECEIVING, last_received_at__lt=cutoff).exclude(study_key__in=list(busy))
    for pk in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            received = ReceivedStudy.objects.select_for_update().filter(
                pk=pk, status=ReceivedStudy.Status.RECEIVING, last_received_at__lt=cutoff).first()
            if received is None:  # an instance arrived meanwhile
                continue
            received = _close(received, why=f"no instance for {quiet_seconds:g} s")
            if received.status == ReceivedStudy.Status.QUEUED:
                queued.append(received.pk)
    return queued


def received_study_complete(*, study_uid: str, user=None) -> ReceivedStudy:
    """The explicit trigger: end receipt of a study now (by its original StudyInstanceUID)."""
    key = study_key_for(study_uid.strip())
    with transaction.atomic():
        received = ReceivedStudy.objects.select_for_update().filter(study_key=key, status__in=OPEN).first()
        if received is None:
            raise DomainError("no study with this StudyInstanceUID is being received", code="not_receiving",
                              http_status=404)
        received = _close(received, why="completed on request")
        audit_record(actor=user, action="dicom.complete", object_type="received_study", object_id=received.pk,
                     detail={"status": received.status})
    if received.status != ReceivedStudy.Status.QUEUED:
        raise DomainError(received.message, code="incomplete_study", http_status=409)
    return received


def _claim(received_id: int) -> ReceivedStudy | None:
    with transaction.atomic():
        received = ReceivedStudy.objects.select_for_update().filter(pk=received_id).first()
        # "ingesting" again means the worker died mid-ingest and the message came back: start over.
        if received is None or received.status not in (ReceivedStudy.Status.QUEUED, ReceivedStudy.Status.INGESTING):
            return None
        received.status = ReceivedStudy.Status.INGESTING
        received.message = "ingesting"
        received.save(update_fields=["status", "message"])
        return received


def _set_stage(received: ReceivedStudy, stage: str) -> None:
    received.stage = stage
    ReceivedStudy.objects.filter(pk=received.pk).update(stage=stage)  # seen live while the import runs


def _finish(received: ReceivedStudy, *, status: str, message: str, case: Case | None = None) -> None:
    received.status, received.message, received.case = status, message, case
    received.stage = IngestStage.FAILED if status == ReceivedStudy.Status.FAILED else IngestStage.DONE
    received.finished_at = timezone.now()
    with transaction.atomic():  # one commit: the row and its audit event together
        received.save(update_fields=["status", "message", "case", "stage", "finished_at"])
        audit_record(actor=None, action=f"dicom.{status}", object_type="received_study", object_id=received.pk,
                     case_code=case.code if case else "", detail={"calling_ae": received.calling_ae, "message": message})


def _set_folder_aside(received: ReceivedStudy) -> Path | None:
    """Move the handled study's files out of the incoming folder (one rename) before the receipt says so,
    so nobody sees "done" while the files are still there; ``None`` when a re-send is arriving into it."""
    if ReceivedStudy.objects.filter(study_key=received.study_key, status__in=OPEN).exists():
        return None
    folder = Path(received.folder)
    aside = folder.with_name(f".handled-{received.pk}-{folder.name}")
    try:
        folder.rename(aside)
    except FileNotFoundError:
        return None
    return aside


def _finish_and_discard(received: ReceivedStudy, *, status: str, message: str, case: Case) -> None:
    aside = _set_folder_aside(received)
    _finish(received, status=status, message=message, case=case)
    if aside is not None:
        # Hundreds of unlinks take a while on a busy disk, and the worker's next task is usually this case's
        # inference: remove them beside it. A folder left by a worker that died meanwhile is only files
        # already set aside (named .handled-*), never a study anyone waits for.
        threading.Thread(target=shutil.rmtree, args=(aside,), kwargs={"ignore_errors": True},
                         name=f"discard-{received.pk}").start()


def received_study_ingest(*, received_id: int) -> str:
    """Ingest a queued study once (safe to deliver twice); inference follows through ``cases.events``."""
    with logged_stages(task="ingest_received_study", object_id=received_id) as clock:
        return _ingest_claimed(received_id, clock)


def _ingest_claimed(received_id: int, clock: StageClock) -> str:
    clock.mark("claim")
    received = _claim(received_id)
    if received is None:
        return "nothing to do"
    existing = Case.objects.filter(study_key=received.study_key).first()
    if existing is not None:
        _finish_and_discard(received, status=ReceivedStudy.Status.DUPLICATE, case=existing,
                            message=f"already received as case {existing.code}; no new case")
        return "duplicate"
    try:
        imported = case_import(path=Path(received.folder), source=Case.Source.SCANNER,
                               on_stage=lambda stage: _set_stage(received, stage), clock=clock)
    except DomainError as exc:
        existing = Case.objects.filter(study_key=received.study_key).first()
        if exc.code == "duplicate_study" and existing is not None:
            _finish_and_discard(received, status=ReceivedStudy.Status.DUPLICATE, case=existing,
                                message=f"already received as case {existing.code}; no new case")
            return "duplicate"
        # The files stay in the incoming folder so nothing is lost; the reason is on the row.
        _finish(received, status=ReceivedStudy.Status.FAILED, message=f"ingest refused: {exc.message}")
        return "failed"
    cases = [item.case for item in imported]
    clock.mark("finish")
    _finish_and_discard(received, status=ReceivedStudy.Status.DONE, case=cases[0],
                        message=f"ingested as case {', '.join(case.code for case in cases)}")
    return "done"
