"""Sending a run's SEG + SR to DICOM destinations: after each finished run and on request, by a task on the
default queue, idempotent, retried with exponential backoff; the outcome is in ``ResultDelivery``.

What is sent references the original study (decrypted from the re-identification store only here,
audited); with re-identification off it carries the pseudonymous UIDs.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from cases.imaging.timing import StageClock, logged_stages
from cases.models import Case
from cases.reidentification import reidentification_load
from inference.models import InferenceRun
from inference.pacs.documents import result_documents, run_segmentation
from inference.pacs.models import DicomNode, ResultDelivery
from inference.pacs.nodes import dicom_node_get
from inference.pacs.sender import DeliveryError, Destination, c_store
from inference.selectors import model_segmentation_latest
from petctweb.celery import app as celery_app
from petctweb.errors import DomainError

logger = logging.getLogger(__name__)

DELIVER_TASK = "inference.tasks.deliver_results"
ACTIVE = (ResultDelivery.Status.QUEUED, ResultDelivery.Status.SENDING)


def _enqueue(delivery_id: int, countdown: float = 0.0) -> None:
    # By registered name (the task module imports this one); explicitly on the default queue, whatever
    # routes the inference tasks take.
    celery_app.send_task(DELIVER_TASK, args=[delivery_id], queue=settings.CELERY_TASK_DEFAULT_QUEUE,
                         countdown=countdown or None)


def backoff_seconds(attempt: int) -> float:
    """Wait before attempt ``attempt + 1``: base, 2 x base, 4 x base, ..."""
    return settings.PETCTWEB_PACS_RETRY_BASE_S * 2 ** max(0, attempt - 1)


def deliveries_after_run(*, run_id: int) -> list[ResultDelivery]:
    """Hook called once a run is done: queue its results for every enabled send-after-run node."""
    if not settings.PETCTWEB_SEND_RESULTS_AFTER_RUN:
        return []
    run = InferenceRun.objects.filter(pk=run_id, status=InferenceRun.Status.DONE).first()
    if run is None:
        return []
    created = []
    for node in DicomNode.objects.filter(enabled=True, send_after_run=True):
        delivery, new = ResultDelivery.objects.get_or_create(run=run, node=node)
        if new:  # a re-delivered hook does not send twice
            created.append(delivery)
            transaction.on_commit(lambda pk=delivery.pk: _enqueue(pk))
    return created


def delivery_request(*, case: Case, node_id: int, user) -> ResultDelivery:
    """Send the case's newest model result to a node now (or join a delivery already under way)."""
    node = dicom_node_get(node_id=node_id)
    if not node.enabled:
        raise DomainError(f"DICOM node '{node.name}' is disabled; enable it first", code="node_disabled", http_status=409)
    segmentation = model_segmentation_latest(case=case)
    if segmentation is None:
        raise DomainError(f"case {case.code} has no finished model result to send", code="no_result", http_status=409)
    run = segmentation.inference_run or segmentation.parent.inference_run
    with transaction.atomic():
        delivery, _ = ResultDelivery.objects.select_for_update().get_or_create(
            run=run, node=node, defaults={"requested_by": user})
        audit_record(actor=user, action="pacs.send.request", object_type="result_delivery", object_id=delivery.pk,
                     case_code=case.code, detail={"node": node.name, "run": run.pk})
        if delivery.status not in ACTIVE:  # sent or given up: a new round of attempts
            delivery.status, delivery.attempts, delivery.last_error = ResultDelivery.Status.QUEUED, 0, ""
            delivery.requested_by = user
            delivery.save(update_fields=["status", "attempts", "last_error", "requested_by", "updated_at"])
        # Also for one under way: a pending retry is sent now; the claim keeps duplicates harmless.
        transaction.on_commit(lambda: _enqueue(delivery.pk))
    return delivery


def _claim(delivery_id: int) -> ResultDelivery | None:
    with transaction.atomic():
        delivery = (ResultDelivery.objects.select_for_update().select_related("node", "run__case")
                    .filter(pk=delivery_id).first())
        if delivery is None or delivery.status not in ACTIVE:
            return None  # sent already, or given up: a duplicate message changes nothing
        delivery.status = ResultDelivery.Status.SENDING
        delivery.attempts += 1
        delivery.save(update_fields=["status", "attempts", "updated_at"])
        return delivery


def _finish(delivery: ResultDelivery, *, status: str, error: str = "", reidentified: bool = False) -> None:
    delivery.status, delivery.last_error, delivery.reidentified = status, error[:2000], reidentified
    if status == ResultDelivery.Status.SENT:
        delivery.sent_at = timezone.now()
    delivery.save(update_fields=["status", "last_error", "reidentified", "sent_at", "updated_at"])


def _documents(delivery: ResultDelivery, clock: StageClock):
    segmentation = run_segmentation(run=delivery.run)
    if segmentation is None:
        raise DomainError(f"run {delivery.run_id} has no stored result", code="no_result")
    originals = reidentification_load(case=delivery.run.case, purpose=f"send results to {delivery.node.name}")
    return result_documents(segmentation=segmentation, originals=originals, clock=clock), originals is not None


def delivery_execute(*, delivery_id: int) -> str:
    """One attempt: claim, build, C-STORE; then sent, queued again (backoff) or failed. Safe to run twice."""
    with logged_stages(task="deliver_results", object_id=delivery_id) as clock:
        return _execute(delivery_id, clock)


def _execute(delivery_id: int, clock: StageClock) -> str:
    clock.mark("claim")
    delivery = _claim(delivery_id)
    if delivery is None:
        return "nothing to do"
    node = delivery.node
    try:
        clock.mark("load_result")
        documents, reidentified = _documents(delivery, clock)
        clock.mark("c_store")
        c_store(datasets=[document.dataset() for document in documents],
                destination=Destination(ae_title=node.ae_title, host=node.host, port=node.port),
                calling_ae_title=settings.PETCTWEB_PACS_AE_TITLE, timeout_s=settings.PETCTWEB_PACS_TIMEOUT_S)
    except DeliveryError as exc:
        return _after_failure(delivery, str(exc))
    except DomainError as exc:  # nothing a retry can mend (no result, no key): say so at once
        _finish(delivery, status=ResultDelivery.Status.FAILED, error=exc.message)
        return "failed"
    except Exception as exc:  # a readable status beats a delivery stuck in "sending"
        logger.exception("delivery %s failed", delivery_id)
        return _after_failure(delivery, f"{type(exc).__name__}: {exc}")
    clock.mark("finish")
    _finish(delivery, status=ResultDelivery.Status.SENT, reidentified=reidentified)
    audit_record(actor=None, action="pacs.send", object_type="result_delivery", object_id=delivery.pk,
                 case_code=delivery.run.case.code,
                 detail={"node": node.name, "attempts": delivery.attempts, "reidentified": reidentified,
                         "documents": [d.kind for d in documents]})
    return "sent"


def _after_failure(delivery: ResultDelivery, error: str) -> str:
    if delivery.attempts >= settings.PETCTWEB_PACS_MAX_ATTEMPTS:
        _finish(delivery, status=ResultDelivery.Status.FAILED,
                error=f"gave up after {delivery.attempts} attempts: {error}")
        return "failed"
    _finish(delivery, status=ResultDelivery.Status.QUEUED, error=f"attempt {delivery.attempts}: {error}")
    _enqueue(delivery.pk, countdown=backoff_seconds(delivery.attempts))
    return "retrying"
