"""The restricted re-identification store: pseudonymous UIDs -> the original study, series, instances and
patient identifiers, encrypted at rest (Fernet, keys from ``PETCTWEB_REID_KEY``).

Only two paths touch it: the import writes it (``reidentification_store``) and the task that sends
results to PACS reads it (``reidentification_load``). Both are audited; the audit detail never holds
an identifier. With ``PETCTWEB_REIDENTIFY=0`` nothing is stored and nothing can be read back.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from audit.services import audit_record
from cases.imaging.study import LoadedStudy
from cases.models import Case, Reidentification
from petctweb.errors import DomainError


@dataclass(frozen=True)
class Originals:
    """What a sender needs: pseudonymous -> original UIDs and the original patient/study attributes."""

    uids: dict[str, str]  # study, series, frame of reference and CT instance UIDs
    attributes: dict[str, str]  # DICOM keyword -> original value (PatientID, PatientName, AccessionNumber, ...)


def _cipher() -> MultiFernet:
    keys = [key.strip() for key in str(settings.PETCTWEB_REID_KEY or "").split(",") if key.strip()]
    if not keys:
        raise DomainError("PETCTWEB_REID_KEY is not set; the re-identification store cannot be used",
                          code="reid_key_missing", http_status=500)
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise DomainError("PETCTWEB_REID_KEY is not a valid Fernet key (32 url-safe base64 bytes)",
                          code="reid_key_invalid", http_status=500) from exc


def _mapping(study: LoadedStudy) -> dict:
    from cases.imaging.originals import PATIENT_AND_STUDY

    originals = study.originals or {}
    pseudonymous = study.source_ct_datasets
    if not pseudonymous or len(originals.get("ct_instance_uids", [])) != len(pseudonymous):
        raise ValueError("the original CT instance UIDs do not match the stored CT headers")
    first = pseudonymous[0]
    uids = {
        str(first.StudyInstanceUID): originals["study_uid"],
        str(first.SeriesInstanceUID): originals["ct_series_uid"],
    }
    if originals.get("frame_of_reference_uid") and "FrameOfReferenceUID" in first:
        uids[str(first.FrameOfReferenceUID)] = originals["frame_of_reference_uid"]
    for header, original in zip(pseudonymous, originals["ct_instance_uids"], strict=True):
        uids[str(header.SOPInstanceUID)] = original
    attributes = {keyword: originals.get(key, "") for key, keyword in PATIENT_AND_STUDY.items() if key != "study_uid"}
    return {"version": 1, "uids": uids, "attributes": attributes, "pet_series_uid": originals.get("pet_series_uid", "")}


def reidentification_store(*, case: Case, study: LoadedStudy, user=None) -> Reidentification | None:
    """Encrypt and keep the case's originals (inside the import's transaction); None when switched off."""
    if not settings.PETCTWEB_REIDENTIFY or study.originals is None:
        return None
    token = _cipher().encrypt(json.dumps(_mapping(study)).encode())
    row = Reidentification.objects.create(case=case, payload=token)
    audit_record(actor=user, action="reidentification.store", object_type="case", object_id=case.pk,
                 case_code=case.code, detail={"instances": len(study.source_ct_datasets)})
    return row


def reidentification_load(*, case: Case, purpose: str, user=None) -> Originals | None:
    """Decrypt a case's originals for ``purpose`` (audited); None when none were kept (research mode)."""
    if not settings.PETCTWEB_REIDENTIFY:
        return None
    row = Reidentification.objects.filter(case=case).first()
    if row is None:
        return None
    try:
        data = json.loads(_cipher().decrypt(bytes(row.payload)))
    except InvalidToken as exc:
        raise DomainError("the re-identification record cannot be decrypted with PETCTWEB_REID_KEY (key changed?)",
                          code="reid_undecryptable", http_status=500) from exc
    audit_record(actor=user, action="reidentification.use", object_type="case", object_id=case.pk,
                 case_code=case.code, detail={"purpose": purpose})
    return Originals(uids=data["uids"], attributes=data["attributes"])
