"""DRF throttles whose rates are read from settings on every request (so deployments and tests can change them).

DRF's own classes copy the rates once at import; these read ``settings.PETCTWEB_THROTTLE_RATES`` when a
view is called. A rate of None switches that throttle off.
"""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class _SettingsRate:
    scope: str

    def get_rate(self) -> str | None:
        return settings.PETCTWEB_THROTTLE_RATES.get(self.scope)


class AnonThrottle(_SettingsRate, AnonRateThrottle):
    scope = "anon"


class UserThrottle(_SettingsRate, UserRateThrottle):
    scope = "user"
