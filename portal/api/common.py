"""What the portal's API views share: one readable 400 for bad input, error bodies the viewer reads, and
small parsers of query and form values."""

from __future__ import annotations

from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.response import Response
from rest_framework.views import APIView

from petctweb.errors import DomainError
from studies import services

MAX_CSV_BYTES = 5 * 1024 * 1024


def validated(serializer_class, data) -> dict:
    """Validate input; errors become one readable 400 {detail, code, errors}."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        parts = []
        for name, problems in serializer.errors.items():
            text = "; ".join(str(p) for p in problems) if isinstance(problems, list) else str(problems)
            parts.append(text if name == "non_field_errors" else f"{name}: {text}")
        raise services.RowErrors("; ".join(parts) or "invalid input", errors=parts)
    return serializer.validated_data


def error_response(exc: DomainError) -> Response:
    body = {"detail": exc.message, "code": exc.code}
    if isinstance(exc, services.ReadExists):
        body["read_id"] = exc.read_id
    if isinstance(exc, services.RowErrors):
        body["errors"] = exc.errors
    return Response(body, status=exc.http_status)


class StudiesApiView(APIView):
    """Adds ``read_id`` / ``errors`` to the usual {detail, code} error body where the viewer uses them."""

    def handle_exception(self, exc):
        if isinstance(exc, services.ReadExists | services.RowErrors):
            return error_response(exc)
        return super().handle_exception(exc)


def parse_int(value: str, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"{name} must be a whole number", code="invalid") from exc


def decode_csv(payload: bytes) -> str:
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DomainError("the file is not UTF-8 text (save it as CSV UTF-8)", code="invalid") from exc


def parse_opens_at(value: str):
    if (value or "").strip().lower() == "now":
        return timezone.now()
    parsed = parse_datetime((value or "").strip())
    if parsed is None:
        raise DomainError("opens_at must be an ISO date-time with a time zone, or 'now'", code="invalid")
    return parsed
