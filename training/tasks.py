"""Celery entry point for training: the id in, the service does the work, status lives in TrainingJob.

Routed to its own ``training`` queue by ``CELERY_TASK_ROUTES["training.tasks.*"]``.
"""

from celery import shared_task

from training.services import training_job_execute


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_training_job(job_id: int) -> str:
    return training_job_execute(job_id=job_id)
