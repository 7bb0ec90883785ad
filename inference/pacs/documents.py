"""The DICOM documents of a model result: the SEG and the TID 1500 SR, as bytes ready to send or download.

For PACS they are built on re-identified CT headers (original UIDs and patient), for downloads on the
stored de-identified ones. Instance UIDs are derived from the run with a keyed hash, so a re-sent
document replaces itself in PACS rather than piling up copies.
"""

from __future__ import annotations

import hashlib
import hmac
import io
from dataclasses import dataclass

import pydicom
from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Q

from cases.imaging.timing import StageClock
from cases.imaging.volume import Grid
from cases.orientation import face_names
from cases.reidentification import Originals
from cases.selectors import case_source_ct_headers
from cases.services import CT_HEADERS
from cases.worker_memory import recall
from inference.engine.exports import mask_to_dicom_seg
from inference.engine.structured_report import MarginReportInput, margin_structured_report
from inference.exports import segmentation_mask
from inference.models import InferenceRun, Segmentation
from inference.pacs.reidentify import reidentified_headers
from petctweb.errors import DomainError


@dataclass(frozen=True)
class ResultDocument:
    kind: str  # "seg" or "sr"
    payload: bytes

    def dataset(self) -> pydicom.Dataset:
        return pydicom.dcmread(io.BytesIO(self.payload))


def _uid(*parts: str) -> str:
    digest = hmac.new(settings.PETCTWEB_DEID_SECRET.encode(), "|".join(parts).encode(), hashlib.sha256).digest()
    return "2.25." + str(int.from_bytes(digest[:16], "big"))  # a UUID-derived UID (PS3.5 B.2), at most 44 chars


def _bytes(dataset: pydicom.Dataset) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _ct_headers(case) -> list[pydicom.Dataset]:
    """The stored de-identified CT headers; the very datasets the ingest kept, when it ran in this process
    (parsing the stored JSON of a full series costs more than building the SEG). Never modified here:
    re-identification works on copies and the builders only read their sources."""
    name = case.source_headers.ct_headers.name
    remembered = recall(case=case, kind=CT_HEADERS, name=name)
    if remembered is not None and default_storage.exists(name):  # a lost file fails here as it would anyway
        return list(remembered)
    return case_source_ct_headers(case=case)


def run_segmentation(*, run: InferenceRun) -> Segmentation | None:
    """The newest model analysis of ``run`` (its own, or a re-analysis against a corrected specimen)."""
    return (
        Segmentation.objects.filter(Q(inference_run=run) | Q(parent__inference_run=run), source=Segmentation.Source.MODEL)
        .select_related("margin", "model_version", "case")
        .order_by("-created_at", "-id")
        .first()
    )


def margin_report_input(segmentation: Segmentation) -> MarginReportInput:
    margin = getattr(segmentation, "margin", None)
    if margin is None:
        raise DomainError(f"case {segmentation.case.code} has no margin result", code="no_result", http_status=409)
    interval = getattr(margin, "interval_mm", None)
    # The newest orientation at the time of sending: anatomical names where recorded, else none.
    named = {face: name for face, name in face_names(case=segmentation.case).items() if name != face}
    return MarginReportInput(status=margin.status, closest_margin_mm=margin.closest_margin_mm,
                             threshold_mm=margin.threshold_mm, faces=dict(margin.faces or {}), interval_mm=interval,
                             face_names=named)


def result_documents(*, segmentation: Segmentation, originals: Originals | None, kinds=("seg", "sr"),
                     clock: StageClock | None = None) -> list[ResultDocument]:
    """SEG and/or SR of a model segmentation; re-identified when ``originals`` is given."""
    clock = clock or StageClock(task="result_documents")
    case = segmentation.case
    model = segmentation.model_version
    clock.mark("ct_headers")
    headers = _ct_headers(case)
    clock.mark("reidentify")
    if originals is not None:
        try:
            headers = reidentified_headers(headers=headers, uids=originals.uids, attributes=originals.attributes)
        except ValueError as exc:
            raise DomainError(f"case {case.code}: {exc}", code="reid_incomplete", http_status=409) from exc
    identity = ("reid" if originals is not None else "pseudo", f"segmentation-{segmentation.pk}")
    documents = []
    if "seg" in kinds:
        clock.mark("seg_build")
        seg = mask_to_dicom_seg(
            mask_working=segmentation_mask(segmentation),
            working_grid=case.grid,
            source_ct_datasets=headers,
            ct_grid=Grid.from_dict(case.ct_acquired),
            model_name=model.name,
            model_version=model.version,
            series_description=f"AI tumour segmentation {model.name} {model.version}",
            series_instance_uid=_uid(*identity, "seg-series"),
            sop_instance_uid=_uid(*identity, "seg-instance"),
        )
        clock.mark("seg_encode")
        documents.append(ResultDocument(kind="seg", payload=_bytes(seg)))
    if "sr" in kinds:
        clock.mark("sr_build")
        report = margin_structured_report(
            source_ct_datasets=headers,
            margin=margin_report_input(segmentation),
            model_name=model.name,
            model_version=model.version,
            series_instance_uid=_uid(*identity, "sr-series"),
            sop_instance_uid=_uid(*identity, "sr-instance"),
        )
        clock.mark("sr_encode")
        documents.append(ResultDocument(kind="sr", payload=_bytes(report)))
    clock.close()
    return documents


def structured_report_bytes(*, segmentation: Segmentation) -> bytes:
    """The de-identified SR for download (same document as sent, with the pseudonymous UIDs)."""
    return result_documents(segmentation=segmentation, originals=None, kinds=("sr",))[0].payload
