"""The Celery application. Workers load Django settings; models are loaded lazily per process."""

import gc
import os

from celery import Celery
from celery.signals import task_postrun, worker_process_init

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


# Every so many tasks the frozen objects are collected too: an object frozen earlier that later ends up in an
# unreachable cycle (a replaced cache entry, say) is otherwise never freed, and a hospital's worker runs for weeks.
FULL_COLLECTION_EVERY = 50
_tasks_since_full_collection = 0


def _freeze_survivors(**_kwargs) -> None:
    """After each task, collect its garbage and move what survives (Django, the loaded model, caches) out of
    the cyclic collector's reach: a worker holds about half a million long-lived objects, and every full
    collection of them, triggered by the many small objects a DICOM ingest makes, cost a few tenths of a
    second inside the next task. The collection here covers only what is not frozen yet (cheap), except
    every FULL_COLLECTION_EVERY tasks, when everything is collected once (between tasks, a few tenths of a
    second)."""
    global _tasks_since_full_collection
    _tasks_since_full_collection += 1
    if _tasks_since_full_collection >= FULL_COLLECTION_EVERY:
        _tasks_since_full_collection = 0
        gc.unfreeze()
    gc.collect()
    gc.freeze()


def _in_pool_process(**_kwargs) -> None:
    # Only in a worker's pool process: tests that run tasks in their own process keep the usual collector.
    task_postrun.connect(_freeze_survivors, weak=False)


worker_process_init.connect(_in_pool_process, weak=False)
