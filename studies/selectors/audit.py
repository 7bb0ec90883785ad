"""Reads of the audit log, filtered for the audit page and its export."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from audit.models import AuditEvent


def audit_events(*, actor: str = "", action: str = "", object_type: str = "", case_code: str = "",
                 study_id: int | None = None, since: datetime | None = None, until: datetime | None = None):
    events = AuditEvent.objects.select_related("actor").order_by("-at", "-id")
    if actor:
        events = events.filter(actor__username=actor)
    if action:
        events = events.filter(action__startswith=action)
    if object_type:
        events = events.filter(object_type=object_type)
    if case_code:
        events = events.filter(case_code=case_code)
    if study_id is not None:
        events = events.filter(Q(detail__study_id=study_id) | Q(object_type="study", object_id=str(study_id)))
    if since is not None:
        events = events.filter(at__gte=since)
    if until is not None:
        events = events.filter(at__lt=until)
    return events


def audit_event_payload(event) -> dict:
    return {
        "id": event.pk,
        "at": event.at.isoformat(),
        "actor": event.actor.get_username() if event.actor else None,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "case_code": event.case_code,
        "detail": event.detail,
    }
