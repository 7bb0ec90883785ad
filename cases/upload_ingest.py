"""Ingest of a completed upload session in a worker (``cases.tasks.ingest_upload_session``).

The session carries the live state until the case exists (received -> checking -> de-identifying ->
resampling -> done, or failed with the reason); then the case's inference run says the rest. Whatever the
outcome, the uploaded files are removed: a failed import stores no case and no volume (``case_import``
discards what it wrote), so nothing is left half-written.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from cases.models import Case, UploadSession
from cases.services import case_import
from cases.upload_sessions import upload_files_remove, upload_import_path, upload_sessions_expire
from petctweb.errors import DomainError

logger = logging.getLogger(__name__)

# A redelivered message (the worker died mid-ingest) finds one of these and starts over.
INGESTING = (UploadSession.State.RECEIVED, UploadSession.State.CHECKING, UploadSession.State.DEIDENTIFYING,
             UploadSession.State.RESAMPLING)


def _claim(session_id: int) -> UploadSession | None:
    with transaction.atomic():
        session = UploadSession.objects.select_for_update().filter(pk=session_id, state__in=INGESTING).first()
        if session is None:
            return None
        session.state = UploadSession.State.CHECKING
        session.message = "checking the files"
        session.updated_at = timezone.now()
        session.save(update_fields=["state", "message", "updated_at"])
        return session


def _set_state(session: UploadSession, state: str) -> None:
    UploadSession.objects.filter(pk=session.pk).update(state=state, message=state, updated_at=timezone.now())


def _finish(session: UploadSession, *, state: str, message: str, cases: list[Case] = ()) -> None:
    session.state, session.message = state, message
    session.case = cases[0] if cases else None
    session.case_codes = [case.code for case in cases]
    session.updated_at = session.finished_at = timezone.now()
    session.save(update_fields=["state", "message", "case", "case_codes", "updated_at", "finished_at"])
    audit_record(actor=session.created_by, action=f"upload.{state}", object_type="upload_session",
                 object_id=session.pk, case_code=session.case_codes[0] if cases else "",
                 detail={"message": message})


def _as_uploaded(session: UploadSession, message: str) -> str:
    """The reason names files as the uploader chose them, not by their stored (numbered) names."""
    for item in sorted(session.manifest, key=lambda item: len(item["stored_as"]), reverse=True):
        message = message.replace(item["stored_as"], item["name"])
    return message


def upload_session_ingest(*, session_id: int) -> str:
    """Import a completed upload once (safe to deliver twice); inference follows through ``cases.events``."""
    upload_sessions_expire()
    session = _claim(session_id)
    if session is None:
        return "nothing to do"
    try:
        imported = case_import(path=upload_import_path(session), source=Case.Source.UPLOAD, user=session.created_by,
                               on_stage=lambda stage: _set_state(session, stage))
    except DomainError as exc:
        _finish(session, state=UploadSession.State.FAILED, message=_as_uploaded(session, exc.message))
        return "failed"
    except Exception as exc:  # never leave a session "checking" forever; the reason names no file
        logger.exception("upload session %s: ingest failed", session.pk)
        _finish(session, state=UploadSession.State.FAILED,
                message=f"the import failed ({type(exc).__name__}); nothing was stored")
        return "failed"
    finally:
        upload_files_remove(session)
    cases = [item.case for item in imported]
    _finish(session, state=UploadSession.State.DONE, cases=cases,
            message=f"imported as case {', '.join(case.code for case in cases)}")
    return "done"
