"""Role and state checks shared by the studies services."""

from __future__ import annotations

from petctweb.errors import DomainError
from petctweb.roles import PATHOLOGIST, is_study_admin, user_roles
from studies.models import Study


def require_admin(user) -> None:
    if not is_study_admin(user):
        raise DomainError("only study administrators may do this", code="forbidden", http_status=403)


def require_pathologist(user) -> None:
    if not (user.is_authenticated and PATHOLOGIST in user_roles(user)):
        raise DomainError("only pathologists may record ground truth", code="forbidden", http_status=403)


def require_open(study: Study) -> None:
    if not study.is_open:
        raise DomainError(f"study '{study.name}' is closed; nothing can be changed or submitted",
                          code="study_closed", http_status=409)
