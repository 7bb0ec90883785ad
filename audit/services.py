"""The only write path into the audit log (there is no update or delete path)."""

from __future__ import annotations

from audit.models import AuditEvent


def audit_record(
    *, actor, action: str, object_type: str, object_id: str | int = "", case_code: str = "", detail: dict | None = None
) -> AuditEvent:
    return AuditEvent.objects.create(
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        case_code=case_code,
        detail=detail or {},
    )
