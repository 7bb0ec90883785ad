"""API tokens for scripts and gateways: each user creates, lists and revokes their own (django-rest-knox
stores only a hash, with an expiry). Tokens carry the user's roles and nothing more: every endpoint
asks the same access policy whichever way the user signed in."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone
from knox.models import AuthToken

from audit.services import audit_record
from petctweb.errors import DomainError

MAX_TOKEN_DAYS = 365


def api_tokens_of(*, user) -> QuerySet[AuthToken]:
    """The user's tokens that still work (expired ones are not listed)."""
    return AuthToken.objects.filter(user=user).exclude(expiry__lt=timezone.now()).order_by("-created")


def api_token_create(*, user, days: int | None = None) -> tuple[AuthToken, str]:
    """A new token; the secret is returned once and never stored."""
    ttl = settings.REST_KNOX["TOKEN_TTL"] if days is None else timedelta(days=days)
    if days is not None and not 1 <= days <= MAX_TOKEN_DAYS:
        raise DomainError(f"days must be between 1 and {MAX_TOKEN_DAYS}", code="invalid")
    if api_tokens_of(user=user).count() >= settings.REST_KNOX["TOKEN_LIMIT_PER_USER"]:
        raise DomainError("too many API tokens; revoke one first", code="token_limit", http_status=409)
    instance, secret = AuthToken.objects.create(user=user, expiry=ttl)
    audit_record(actor=user, action="api_token.create", object_type="api_token", object_id=instance.token_key,
                 detail={"expiry": instance.expiry.isoformat() if instance.expiry else None})
    return instance, secret


def api_token_revoke(*, user, token_key: str) -> None:
    token = AuthToken.objects.filter(user=user, token_key=token_key).first()
    if token is None:
        raise DomainError("no such API token of yours", code="not_found", http_status=404)
    token.delete()
    audit_record(actor=user, action="api_token.revoke", object_type="api_token", object_id=token_key)
