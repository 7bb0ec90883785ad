from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The composing layer: APIs and pages that combine apps, and the access policy."""

    name = "portal"
