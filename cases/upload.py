"""Turning an HTTP upload into files on disk for import, within the configured limits."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from petctweb.errors import DomainError

SAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def check_upload_size(*, content_length: str | None) -> None:
    limit = settings.PETCTWEB_MAX_UPLOAD_BYTES
    try:
        length = int(content_length or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise DomainError(
            f"upload of {length / 1e6:.1f} MB exceeds the limit of {limit / 1e6:.1f} MB", code="upload_too_large",
            http_status=413,
        )


def save_uploaded_files(*, files, target: Path) -> list[Path]:
    """Write each uploaded file under a unique, sanitised name (browsers may send equal basenames)."""
    if not files:
        raise DomainError("no files were uploaded: send one or more DICOM files or a .zip as 'files'", code="empty")
    total = 0
    saved = []
    for index, uploaded in enumerate(files):
        total += uploaded.size
        if total > settings.PETCTWEB_MAX_UPLOAD_BYTES:
            raise DomainError("upload exceeds the size limit", code="upload_too_large", http_status=413)
        name = SAFE_NAME.sub("_", Path(uploaded.name).name)[:100] or "file"
        path = target / f"{index:06d}_{name}"
        with path.open("wb") as handle:
            for chunk in uploaded.chunks():
                handle.write(chunk)
        saved.append(path)
    return saved
