"""Reads for cases and their volumes (which cases a user may see: ``portal.access_policy``)."""

from __future__ import annotations

import numpy as np

from cases.models import Case, CaseVolume
from cases.volume_store import load_array
from petctweb.errors import DomainError


def case_volume(*, case: Case, kind: str) -> CaseVolume:
    volume = case.volumes.filter(kind=kind).first()
    if volume is None:
        raise DomainError(f"case {case.code} has no {kind} volume", code="not_found", http_status=404)
    return volume


def case_volume_array(*, case: Case, kind: str) -> np.ndarray:
    volume = case_volume(case=case, kind=kind)
    return load_array(name=volume.file.name, dtype=volume.dtype, shape=volume.shape)


def case_source_ct_headers(*, case: Case) -> list:
    """The de-identified CT headers (pydicom datasets without pixels) kept for DICOM SEG export."""
    import gzip
    import json

    import pydicom

    from cases.volume_store import read_payload

    payload = json.loads(gzip.decompress(read_payload(case.source_headers.ct_headers.name)))
    return [pydicom.Dataset.from_json(item) for item in payload]
