"""Audit log API (administrators): filtered listing and CSV export (the export is itself recorded)."""

from __future__ import annotations

import io
import json
from datetime import datetime, time, timedelta

from django.http import HttpResponse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from petctweb.csv_safety import csv_writer
from petctweb.errors import DomainError
from petctweb.permissions import IsStudyAdmin
from portal.api.common import StudiesApiView, parse_int
from studies import selectors, services


def _moment(value: str, name: str):
    value = (value or "").strip()
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise DomainError(f"{name} must be a date (YYYY-MM-DD) or an ISO date-time", code="invalid")
        parsed = datetime.combine(day, time.min)
        if name == "until":
            parsed += timedelta(days=1)  # a whole day, inclusive
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def audit_filters(params) -> dict:
    return {
        "actor": (params.get("actor") or "").strip(),
        "action": (params.get("action") or "").strip(),
        "object_type": (params.get("object_type") or "").strip(),
        "case_code": (params.get("case") or "").strip(),
        "study_id": parse_int(params["study"], "study") if params.get("study") else None,
        "since": _moment(params.get("since"), "since"),
        "until": _moment(params.get("until"), "until"),
    }


class AuditListApi(StudiesApiView):
    """The audit log, newest first; filters: actor, action (prefix), object_type, case, study, since, until."""

    permission_classes = [IsStudyAdmin]

    @extend_schema(responses={200: dict})
    def get(self, request):
        events = selectors.audit_events(**audit_filters(request.query_params))
        limit = min(max(parse_int(request.query_params.get("limit", 100), "limit"), 1), 1000)
        offset = max(parse_int(request.query_params.get("offset", 0), "offset"), 0)
        total = events.count()
        return Response({"count": total, "limit": limit, "offset": offset,
                         "results": [selectors.audit_event_payload(e) for e in events[offset:offset + limit]]})


AUDIT_CSV_COLUMNS = ["id", "at", "actor", "action", "object_type", "object_id", "case_code", "detail"]


class AuditExportApi(StudiesApiView):
    """The (filtered) audit log as CSV. The export itself is recorded."""

    permission_classes = [IsStudyAdmin]

    @extend_schema(responses={200: dict})
    def get(self, request):
        filters = audit_filters(request.query_params)
        events = selectors.audit_events(**filters)
        buffer = io.StringIO()
        writer = csv_writer(buffer)
        writer.writerow(AUDIT_CSV_COLUMNS)
        count = 0
        for event in events.iterator(chunk_size=2000):
            count += 1
            writer.writerow([event.pk, event.at.isoformat(), event.actor.get_username() if event.actor else "",
                             event.action, event.object_type, event.object_id, event.case_code,
                             json.dumps(event.detail, sort_keys=True)])
        services.export_record(user=request.user, what="audit", object_type="audit_log",
                               detail={"rows": count, "filters": {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                                                  for k, v in filters.items() if v}})
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{timezone.now():%Y%m%d-%H%M%S}.csv"'
        return response
