"""Celery entry points: ids in, services do the work, status lives in InferenceRun."""

from celery import shared_task
from celery.signals import worker_ready

from inference.pacs.delivery import delivery_execute
from inference.services import inference_run_execute
from inference.watchdog import start_watchdog

# Every worker watches for runs whose worker died (the file broker never redelivers them).
worker_ready.connect(start_watchdog, weak=False)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_inference(run_id: int) -> str:
    return inference_run_execute(run_id=run_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def deliver_results(delivery_id: int) -> str:
    """One C-STORE attempt of a run's SEG + SR (sent on the default queue; retries re-enqueue with backoff)."""
    return delivery_execute(delivery_id=delivery_id)
