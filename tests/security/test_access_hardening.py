"""Login lockout (django-axes), DRF throttles, session idle and absolute limits, password validators."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from petctweb.session_limits import LOGIN_AT, SEEN_AT

pytestmark = pytest.mark.django_db

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"


def attempt(client: Client, url: str, username: str, password: str):
    return client.post(url, {"username": username, "password": password})


@pytest.mark.parametrize("url", [LOGIN, ADMIN_LOGIN])
def test_31st_wrong_password_is_refused_and_the_lock_is_per_username_and_ip(url, users):
    client = Client(REMOTE_ADDR="10.0.0.5")
    statuses = [attempt(client, url, "root", f"wrong-{i}").status_code for i in range(30)]
    assert statuses[0] == 200  # the form again, with an error
    assert 429 in statuses
    assert attempt(client, url, "root", "wrong-31").status_code == 429
    locked = attempt(client, url, "root", "pw-root")  # even the right password
    assert locked.status_code == 429
    assert "_auth_user_id" not in client.session
    # Another user from the same address, and the same user from another address, are not locked.
    other_user = attempt(client, LOGIN, "reader1", "pw-reader1")
    assert other_user.status_code == 302
    elsewhere = Client(REMOTE_ADDR="10.0.0.9")
    assert attempt(elsewhere, url, "root", "pw-root").status_code == 302


def test_lock_lifts_after_the_configured_cool_off(users, settings):
    from axes.models import AccessAttempt

    settings.AXES_FAILURE_LIMIT = 3
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    client = Client(REMOTE_ADDR="10.0.0.6")
    for i in range(3):
        attempt(client, LOGIN, "reader1", f"wrong-{i}")
    assert attempt(client, LOGIN, "reader1", "pw-reader1").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert attempt(client, LOGIN, "reader1", "pw-reader1").status_code == 302


def test_drf_user_throttle_answers_429_as_json(users, settings, client_for):
    settings.PETCTWEB_THROTTLE_RATES = {"anon": None, "user": "5/minute"}
    reader = client_for("reader")
    statuses = [reader.get("/api/cases/").status_code for _ in range(6)]
    assert statuses[:5] == [200] * 5
    assert statuses[5] == 429
    throttled = reader.get("/api/cases/")
    assert throttled.status_code == 429 and "detail" in throttled.json()
    # The limit is per user: another reader still gets through.
    assert client_for("reader2").get("/api/cases/").status_code == 200


def test_drf_anon_throttle_applies_to_open_views(settings, db):
    """DRF checks permissions before throttles, so the anonymous rate guards views open to anonymous users."""
    from rest_framework.permissions import AllowAny
    from rest_framework.response import Response
    from rest_framework.test import APIRequestFactory
    from rest_framework.views import APIView

    class OpenApi(APIView):
        permission_classes = [AllowAny]

        def get(self, request):
            return Response({"ok": True})

    settings.PETCTWEB_THROTTLE_RATES = {"anon": "2/minute", "user": None}
    view, factory = OpenApi.as_view(), APIRequestFactory()
    statuses = [view(factory.get("/api/open/", REMOTE_ADDR="10.1.1.1")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert view(factory.get("/api/open/", REMOTE_ADDR="10.1.1.2")).status_code == 200


def _session_times(client: Client, **values: float) -> None:
    session = client.session
    for key, value in values.items():
        session[key] = value
    session.save()


def test_session_ends_after_the_absolute_lifetime_however_active(users, settings):
    settings.PETCTWEB_SESSION_MAX_SECONDS = 12 * 3600
    client = Client()
    client.force_login(users["reader"])
    assert client.get("/api/cases/").status_code == 200
    now = time.time()
    _session_times(client, **{LOGIN_AT: now - 12 * 3600 - 5, SEEN_AT: now - 10})  # active 10 s ago
    assert client.get("/api/cases/").status_code == 403
    assert client.get("/").status_code == 302  # pages send the user to the login page


def test_session_ends_after_the_idle_timeout(users, settings):
    settings.SESSION_COOKIE_AGE = 8 * 3600
    client = Client()
    client.force_login(users["reader"])
    assert client.get("/api/cases/").status_code == 200
    now = time.time()
    _session_times(client, **{LOGIN_AT: now - 9 * 3600, SEEN_AT: now - 8 * 3600 - 5})
    settings.PETCTWEB_SESSION_MAX_SECONDS = 24 * 3600
    assert client.get("/api/cases/").status_code == 403


def test_activity_slides_the_idle_window(users, settings):
    settings.PETCTWEB_SESSION_MAX_SECONDS = 24 * 3600
    client = Client()
    client.force_login(users["reader"])
    client.get("/api/cases/")
    now = time.time()
    _session_times(client, **{LOGIN_AT: now - 7 * 3600, SEEN_AT: now - 7 * 3600})
    assert client.get("/api/cases/").status_code == 200
    assert client.session[SEEN_AT] > now - 60  # refreshed, so the next 8 h count from now


def test_default_session_limits():
    from django.conf import settings

    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    assert settings.PETCTWEB_SESSION_MAX_SECONDS >= settings.SESSION_COOKIE_AGE


@pytest.mark.parametrize("password", ["short1", "password123", "12345678901234", "reader1-pw-x"])
def test_weak_passwords_are_refused(password, users):
    with pytest.raises(ValidationError):
        validate_password(password, user=users["reader"])


def test_strong_password_is_accepted(users):
    validate_password("amber-kettle-velvet-42", user=users["reader"])
