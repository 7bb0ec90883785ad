"""Reads of margin calls: payloads and a study's calls (who may see which call: ``portal.access_policy``)."""

from __future__ import annotations

from django.db.models import QuerySet

from studies.models import Read, Study

OUTSIDE_STUDIES = "outside studies"


def read_context_label(read: Read) -> str:
    """Where a call was made, in words: a study session, or outside any study (never counted in a study)."""
    if read.study_id is None:
        return OUTSIDE_STUDIES
    session = f", session {read.session.number}" if read.session_id else ""
    return f"study {read.study.name}{session}"


def read_payload(read: Read) -> dict:
    return {
        "id": read.pk,
        "case": read.case.code,
        "reader": read.reader.get_username(),
        "study_id": read.study_id,
        "context": "study" if read.study_id else "outside_studies",
        "context_label": read_context_label(read),
        "session": read.session.number if read.session_id else None,
        "unit": read.unit_id,
        "unit_label": read.unit.label if read.unit_id else None,
        "slice_index": read.unit.slice_index if read.unit_id else None,
        "aided": read.aided,
        "status": read.status,
        "confidence": read.confidence,
        "face_calls": read.face_calls,
        "comment": read.comment,
        "time_spent_s": read.time_spent_s,
        "segmentation_id": read.segmentation_id,
        "version": read.version,
        "amends": read.amends_id,
        "opened_at": read.opened_at.isoformat() if read.opened_at else None,
        "submitted_at": read.submitted_at.isoformat(),
    }


def study_reads(*, study: Study) -> QuerySet[Read]:
    return (Read.objects.filter(study=study).select_related("case", "reader", "session", "study", "unit")
            .order_by("reader__username", "session__number", "case__code", "version"))


def study_final_reads(*, study: Study) -> QuerySet[Read]:
    """The latest version of every call of a study: one per reader, session and case (for statistics)."""
    return (Read.objects.filter(study=study, amended_by__isnull=True)
            .select_related("case", "reader", "session", "segmentation")
            .order_by("reader__username", "session__number", "case__code"))
