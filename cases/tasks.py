"""Celery entry points for cases (``default`` queue): ids in, services do the work, status in the rows."""

from celery import shared_task

from cases.receiver.services import received_study_ingest
from cases.upload_ingest import upload_session_ingest


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def ingest_received_study(received_id: int) -> str:
    return received_study_ingest(received_id=received_id)


@shared_task(acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def ingest_upload_session(session_id: int) -> str:
    return upload_session_ingest(session_id=session_id)
