"""Audit records of exports and of views of sensitive data."""

from __future__ import annotations

from audit.services import audit_record
from cases.models import Case


def export_record(*, user, what: str, object_type: str, object_id="", detail: dict | None = None) -> None:
    audit_record(actor=user, action=f"{what}.export", object_type=object_type, object_id=object_id,
                 detail=detail or {})


def view_record(*, user, what: str, case: Case | None = None, object_type: str = "case", object_id="",
                detail: dict | None = None) -> None:
    """Who looked at what (ground truth, a study's calls): reads of sensitive data are audited too."""
    audit_record(actor=user, action=f"{what}.view", object_type=object_type,
                 object_id=object_id or (case.pk if case else ""), case_code=case.code if case else "",
                 detail=detail or {})
