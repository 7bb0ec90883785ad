"""The Celery application. Workers load Django settings; models are loaded lazily per process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "petctweb.settings")

app = Celery("petctweb")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def _ensure_filesystem_broker_folders() -> None:
    """The server-less broker keeps messages in folders that must exist before anyone connects."""
    from django.conf import settings

    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
            os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key], exist_ok=True)


_ensure_filesystem_broker_folders()
