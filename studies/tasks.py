"""Celery entry points of studies: ids in, services do the work, state lives in StudyReport."""

from celery import shared_task

from studies.results.stored import study_report_compute


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def compute_study_report(study_id: int, model_label: str = "") -> str:
    return study_report_compute(study_id=study_id, model_label=model_label)
