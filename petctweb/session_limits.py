"""Session idle timeout and absolute lifetime.

Idle: Django expires a session SESSION_COOKIE_AGE after it was last saved; this middleware re-saves it
at most once a minute while the user is active, so the idle window slides without a database write on
every API call (which SESSION_SAVE_EVERY_REQUEST would cost). Absolute: the time of the first
authenticated request is kept in the session and the user is logged out once it is older than
PETCTWEB_SESSION_MAX_SECONDS, however active they are.
"""

from __future__ import annotations

import time

from django.conf import settings
from django.contrib.auth import logout

LOGIN_AT = "petctweb_login_at"
SEEN_AT = "petctweb_seen_at"
REFRESH_EVERY_S = 60


class SessionLimitsMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            session_limits_apply(request=request, now=time.time())
        return self.get_response(request)


def session_limits_apply(*, request, now: float) -> None:
    """Log out a session past its absolute lifetime or idle window; otherwise keep the idle window sliding."""
    session = request.session
    login_at = session.get(LOGIN_AT)
    seen_at = session.get(SEEN_AT, now)
    if login_at is None:
        session[LOGIN_AT] = session[SEEN_AT] = now
        return
    if now - login_at > settings.PETCTWEB_SESSION_MAX_SECONDS or now - seen_at > settings.SESSION_COOKIE_AGE:
        logout(request)  # flushes the session; the view then sees an anonymous user
        return
    if now - seen_at >= REFRESH_EVERY_S:
        session[SEEN_AT] = now
