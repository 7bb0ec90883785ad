"""Reads for uploads and received studies on their way to becoming cases (the live ingest list)."""

from __future__ import annotations

from datetime import timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from cases.models import ReceivedStudy, UploadSession

RECENT = timedelta(hours=1)  # finished ones stay listed a while, so a failure's reason is seen


def upload_sessions_in_flight(*, user) -> QuerySet[UploadSession]:
    """The user's uploads (superusers: all) not yet finished, or finished within the last hour."""
    sessions = UploadSession.objects.select_related("case").exclude(state=UploadSession.State.EXPIRED)
    if not user.is_superuser:
        sessions = sessions.filter(created_by=user)
    return sessions.filter(Q(finished_at__isnull=True) | Q(finished_at__gte=timezone.now() - RECENT))


def received_studies_in_flight() -> QuerySet[ReceivedStudy]:
    return ReceivedStudy.objects.select_related("case").filter(
        Q(finished_at__isnull=True) | Q(finished_at__gte=timezone.now() - RECENT))
