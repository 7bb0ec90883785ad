"""Celery entry points: ids in, services do the work, status lives in InferenceRun."""

from celery import shared_task

from inference.services import inference_run_execute


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_inference(run_id: int) -> str:
    return inference_run_execute(run_id=run_id)
