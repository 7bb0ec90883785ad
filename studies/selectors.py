"""Which cases a user may see, and what they may see of each (blinding lives here)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import QuerySet

from cases.models import Case
from petctweb.roles import PATHOLOGIST, is_study_admin, user_roles


@dataclass(frozen=True)
class CaseAccess:
    """What one user may see and do on one case, decided on the server."""

    can_see_model: bool
    can_see_ground_truth: bool
    can_call: bool
    can_edit_mask: bool
    read_context: dict = field(default_factory=dict)  # {"readId", "studyId", "session", "aided"}


def visible_cases(*, user) -> QuerySet[Case]:
    # Until reader studies assign cases, every role reads every (de-identified) case.
    if not user.is_authenticated:
        return Case.objects.none()
    if user.is_superuser or user_roles(user):
        return Case.objects.all()
    return Case.objects.none()


def case_access(*, user, case: Case) -> CaseAccess:
    admin = is_study_admin(user)
    pathologist = PATHOLOGIST in user_roles(user)
    return CaseAccess(
        can_see_model=True,
        can_see_ground_truth=admin or pathologist,
        can_call=True,
        can_edit_mask=True,
        read_context={"readId": None, "studyId": None, "session": None, "aided": None},
    )
