"""Resumable, chunked uploads (tus-like): a declared manifest of files filled by byte offset.

The client declares its files (name and size, in order); the upload is their concatenation, sent in
chunks that each start at the offset the server has stored (``received_bytes``). Bytes stream from the
request straight to the session's folder on disk, so the web process holds one small buffer at a time.
A dropped connection keeps what arrived; the client asks for the offset and goes on from there.
Complete queues the ingest task (``cases.tasks.ingest_upload_session``, default queue).
"""

from __future__ import annotations

import fcntl
import logging
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from cases.models import UploadSession
from cases.upload import SAFE_NAME
from petctweb.celery import app as celery_app
from petctweb.errors import DomainError

logger = logging.getLogger(__name__)

INGEST_TASK = "cases.tasks.ingest_upload_session"
PIECE_BYTES = 1024 * 1024  # what is read from the request and written at a time
MAX_NAME = 100


class OffsetError(DomainError):
    """A refusal that tells the client where to resume (the API puts ``offset`` in the body and header)."""

    def __init__(self, message: str, *, code: str, http_status: int, offset: int) -> None:
        super().__init__(message, code=code, http_status=http_status)
        self.offset = offset


def upload_root() -> Path:
    return Path(settings.PETCTWEB_UPLOAD_DIR)


def _stored_name(index: int, name: str) -> str:
    return f"{index:06d}_{SAFE_NAME.sub('_', Path(name).name)[:MAX_NAME] or 'file'}"


def _checked_manifest(files) -> list[dict]:
    if not isinstance(files, list) or not files:
        raise DomainError("declare the files to upload: 'files' must be a non-empty list of {name, size}",
                          code="invalid_manifest")
    if len(files) > settings.DATA_UPLOAD_MAX_NUMBER_FILES:
        raise DomainError(f"too many files: {len(files)} declared, at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES}",
                          code="too_many_files")
    manifest = []
    for index, item in enumerate(files):
        name = item.get("name") if isinstance(item, dict) else None
        size = item.get("size") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise DomainError(f"file {index}: 'name' must be a non-empty string", code="invalid_manifest")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise DomainError(f"file {index}: 'size' must be a whole number of bytes >= 0", code="invalid_manifest")
        manifest.append({"name": name[:255], "size": size, "stored_as": _stored_name(index, name)})
    return manifest


def _check_total(total: int) -> None:
    limit = settings.PETCTWEB_MAX_UPLOAD_BYTES
    if total <= 0:
        raise DomainError("the declared files hold no bytes", code="empty")
    if total > limit:
        raise DomainError(f"upload of {total / 1e6:.1f} MB exceeds the limit of {limit / 1e6:.1f} MB",
                          code="upload_too_large", http_status=413)


def upload_session_create(*, user, files) -> UploadSession:
    """Open a session for the declared files (checked against the size and count limits first)."""
    manifest = _checked_manifest(files)
    total = sum(item["size"] for item in manifest)
    _check_total(total)
    upload_sessions_expire()  # abandoned sessions go whenever a new one starts (and from the worker)
    token = uuid.uuid4()
    folder = upload_root() / token.hex
    (folder / "files").mkdir(parents=True, exist_ok=False)
    session = UploadSession.objects.create(
        token=token, created_by=user if user is not None and user.is_authenticated else None, manifest=manifest,
        total_bytes=total, file_count=len(manifest), folder=str(folder.resolve()), updated_at=timezone.now())
    audit_record(actor=user, action="upload.start", object_type="upload_session", object_id=session.pk,
                 detail={"files": len(manifest), "bytes": total})
    return session


def upload_session_from_files(*, user, files) -> UploadSession:
    """A one-request multipart upload handed to the worker like a completed chunked one (scripts: ``?async=1``)."""
    if not files:
        raise DomainError("no files were uploaded: send one or more DICOM files or a .zip as 'files'", code="empty")
    manifest = _checked_manifest([{"name": uploaded.name or "file", "size": uploaded.size} for uploaded in files])
    total = sum(item["size"] for item in manifest)
    _check_total(total)
    token = uuid.uuid4()
    folder = upload_root() / token.hex
    (folder / "files").mkdir(parents=True, exist_ok=False)
    try:
        for uploaded, item in zip(files, manifest, strict=True):
            with open(folder / "files" / item["stored_as"], "wb") as handle:
                for chunk in uploaded.chunks():
                    handle.write(chunk)
        with transaction.atomic():
            session = UploadSession.objects.create(
                token=token, created_by=user if user is not None and user.is_authenticated else None,
                manifest=manifest, total_bytes=total, file_count=len(manifest), received_bytes=total,
                folder=str(folder.resolve()), state=UploadSession.State.RECEIVED,
                message="all files received; queued for ingest", updated_at=timezone.now())
            audit_record(actor=user, action="upload.complete", object_type="upload_session", object_id=session.pk,
                         detail={"files": len(manifest), "bytes": total})
            transaction.on_commit(lambda pk=session.pk: _enqueue(pk))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return session


def upload_session_get(*, token, user) -> UploadSession:
    """The caller's own session (superusers: any); unknown, foreign and expired ones are not found."""
    try:
        session = UploadSession.objects.get(token=uuid.UUID(str(token)))
    except (ValueError, UploadSession.DoesNotExist):
        session = None
    if session is not None and not (user.is_superuser or session.created_by_id == user.pk):
        session = None
    if session is None:
        raise DomainError("no such upload session", code="not_found", http_status=404)
    if session.state == UploadSession.State.UPLOADING and _is_abandoned(session):
        _expire(session)
    if session.state == UploadSession.State.EXPIRED:
        raise DomainError(f"this upload session is closed ({session.message}); start the upload again",
                          code="expired", http_status=410)
    return session


def _is_abandoned(session: UploadSession) -> bool:
    return session.updated_at < timezone.now() - timedelta(hours=settings.PETCTWEB_UPLOAD_SESSION_HOURS)


@contextmanager
def _exclusive(session: UploadSession) -> Iterator[None]:
    """One writer per session (a retry may overlap a request the server has not noticed is dead)."""
    folder = Path(session.folder)
    with open(folder / ".lock", "a+b") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise DomainError("another chunk of this upload is being written; ask for the offset and retry",
                              code="busy", http_status=409) from exc
        yield


def _file_spans(manifest: list[dict], start: int) -> Iterator[tuple[dict, int, int]]:
    """(file, local position, room left in it) for every file from byte ``start`` of the concatenation."""
    position = 0
    for item in manifest:
        end = position + item["size"]
        if start < end:
            local = max(0, start - position)
            yield item, local, item["size"] - local
        position = end


def _write_stream(*, session: UploadSession, offset: int, length: int, stream: BinaryIO) -> int:
    """Write up to ``length`` bytes from ``stream`` at ``offset``; returns how many arrived."""
    folder = Path(session.folder) / "files"  # the lock file sits beside it, never among the study's files
    written = 0
    for item, local, room in _file_spans(session.manifest, offset):
        if written >= length:
            break
        path = folder / item["stored_as"]
        with open(path, "r+b" if path.exists() else "wb") as handle:
            handle.seek(local)
            handle.truncate()  # bytes past the recorded offset (an interrupted write) are not trusted
            want = min(room, length - written)
            while want > 0:
                try:
                    piece = stream.read(min(PIECE_BYTES, want))
                except OSError:  # the client went away mid-chunk: keep what arrived
                    piece = b""
                if not piece:
                    handle.flush()
                    return written
                handle.write(piece)
                written += len(piece)
                want -= len(piece)
    return written


def upload_chunk_write(*, session: UploadSession, offset: int | None, length: int | None,
                       stream: BinaryIO) -> UploadSession:
    """Append one chunk at ``offset`` (which must equal the stored offset); a short body keeps its bytes."""
    if session.state != UploadSession.State.UPLOADING:
        raise DomainError(f"this upload is {session.state}; it takes no more data", code="not_uploading",
                          http_status=409)
    if offset is None or offset < 0:
        raise DomainError("send the chunk's start as the Upload-Offset header (a whole number >= 0)",
                          code="offset_required")
    if length is None or length < 0:
        raise DomainError("send the chunk's size as Content-Length", code="length_required", http_status=411)
    if offset + length > session.total_bytes:
        raise DomainError(f"the chunk ends at byte {offset + length}, past the declared {session.total_bytes}",
                          code="upload_too_large", http_status=413)
    with _exclusive(session):
        session.refresh_from_db()
        if offset != session.received_bytes:
            raise OffsetError(f"this chunk starts at byte {offset} but the server has {session.received_bytes}; "
                              "resume from the server's offset", code="offset_mismatch", http_status=409,
                              offset=session.received_bytes)
        received = _write_stream(session=session, offset=offset, length=length, stream=stream)
        session.received_bytes = offset + received
        session.updated_at = timezone.now()
        session.save(update_fields=["received_bytes", "updated_at"])
    if received < length:
        raise OffsetError(f"the connection ended after {received} of {length} bytes; resume from byte "
                          f"{session.received_bytes}", code="incomplete_chunk", http_status=400,
                          offset=session.received_bytes)
    return session


def _enqueue(session_id: int) -> None:
    # By registered name: cases.tasks imports this module, never the reverse (default queue).
    celery_app.send_task(INGEST_TASK, args=[session_id])


def upload_session_complete(*, session: UploadSession, user=None) -> UploadSession:
    """All declared bytes are here: queue the ingest (on commit). Twice is harmless."""
    with transaction.atomic():
        session = UploadSession.objects.select_for_update().get(pk=session.pk)
        if session.state != UploadSession.State.UPLOADING:
            return session  # already completed (a retried request)
        if session.received_bytes != session.total_bytes:
            raise OffsetError(f"only {session.received_bytes} of {session.total_bytes} bytes have arrived; "
                              "send the rest first", code="incomplete_upload", http_status=409,
                              offset=session.received_bytes)
        session.state = UploadSession.State.RECEIVED
        session.message = "all files received; queued for ingest"
        session.updated_at = timezone.now()
        session.save(update_fields=["state", "message", "updated_at"])
        audit_record(actor=user, action="upload.complete", object_type="upload_session", object_id=session.pk,
                     detail={"bytes": session.total_bytes})
        transaction.on_commit(lambda pk=session.pk: _enqueue(pk))
    return session


def upload_session_cancel(*, session: UploadSession, user=None) -> None:
    if session.state != UploadSession.State.UPLOADING:
        raise DomainError(f"this upload is {session.state} and can no longer be cancelled", code="not_uploading",
                          http_status=409)
    _expire(session, message="cancelled by the uploader")
    audit_record(actor=user, action="upload.cancel", object_type="upload_session", object_id=session.pk,
                 detail={"received_bytes": session.received_bytes})


def _expire(session: UploadSession, *, message: str = "expired after a pause without data") -> None:
    updated = UploadSession.objects.filter(pk=session.pk, state=UploadSession.State.UPLOADING).update(
        state=UploadSession.State.EXPIRED, message=message, finished_at=timezone.now())
    if updated:
        shutil.rmtree(session.folder, ignore_errors=True)
    session.refresh_from_db()


def upload_sessions_expire() -> int:
    """Expire sessions that got no data for ``PETCTWEB_UPLOAD_SESSION_HOURS`` and remove their files."""
    cutoff = timezone.now() - timedelta(hours=settings.PETCTWEB_UPLOAD_SESSION_HOURS)
    stale = list(UploadSession.objects.filter(state=UploadSession.State.UPLOADING, updated_at__lt=cutoff))
    for session in stale:
        _expire(session)
    return len(stale)


def upload_import_path(session: UploadSession) -> Path:
    """What ingest reads: the one file (it may be a .zip) or the folder of files."""
    folder = Path(session.folder) / "files"
    if session.file_count == 1:
        return folder / session.manifest[0]["stored_as"]
    return folder


def upload_files_remove(session: UploadSession) -> None:
    try:
        shutil.rmtree(session.folder)
    except FileNotFoundError:
        pass
    except OSError:
        logger.warning("could not remove the files of upload session %s", session.pk)
