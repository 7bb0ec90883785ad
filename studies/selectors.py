"""Which cases a user may see."""

from __future__ import annotations

from django.db.models import QuerySet

from cases.models import Case
from petctweb.roles import user_roles


def visible_cases(*, user) -> QuerySet[Case]:
    # Until reader studies assign cases, every role reads every (de-identified) case.
    if not user.is_authenticated:
        return Case.objects.none()
    if user.is_superuser or user_roles(user):
        return Case.objects.all()
    return Case.objects.none()
