"""Roles are Django groups; these helpers are the only place that knows their names."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

STUDY_ADMIN = "study_admin"
READER = "reader"
PATHOLOGIST = "pathologist"
ALL_ROLES = (STUDY_ADMIN, READER, PATHOLOGIST)


def user_roles(user: AbstractBaseUser | AnonymousUser) -> set[str]:
    if not user.is_authenticated:
        return set()
    # Kept on the user object for its lifetime, one request for request.user (as Django's own _perm_cache):
    # the access checks of one request would otherwise query the groups five times.
    cached = getattr(user, "_petctweb_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True)) & frozenset(ALL_ROLES)
        if user.is_superuser:
            cached |= {STUDY_ADMIN}
        user._petctweb_roles = cached
    return set(cached)


def is_study_admin(user) -> bool:
    return user.is_authenticated and (user.is_superuser or STUDY_ADMIN in user_roles(user))


def primary_role(user) -> str:
    if not user.is_authenticated:
        return "anonymous"
    if user.is_superuser:
        return "superuser"
    roles = user_roles(user)
    for role in (STUDY_ADMIN, PATHOLOGIST, READER):
        if role in roles:
            return role
    return "none"
