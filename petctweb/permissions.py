"""DRF permission classes built on the roles."""

from rest_framework.permissions import BasePermission

from petctweb.roles import is_study_admin, user_roles


class IsStudyAdmin(BasePermission):
    message = "Only study administrators may do this."

    def has_permission(self, request, view) -> bool:
        return is_study_admin(request.user)


class HasAnyRole(BasePermission):
    message = "Your account has no role in petctweb; ask an administrator."

    def has_permission(self, request, view) -> bool:
        return bool(request.user.is_authenticated and (request.user.is_superuser or user_roles(request.user)))
