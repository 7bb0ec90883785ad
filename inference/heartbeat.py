"""Heartbeats of running inference runs: a side thread refreshes ``InferenceRun.heartbeat_at`` while a
run executes, so a watchdog can tell a live run from one whose worker was killed (see watchdog.py)."""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)


def stale_after() -> timedelta:
    return timedelta(seconds=settings.PETCTWEB_RUN_STALE_SECONDS)


def heartbeat_is_fresh(heartbeat_at) -> bool:
    return heartbeat_at is not None and heartbeat_at > timezone.now() - stale_after()


@contextmanager
def run_heartbeat(*, run_id: int):
    """Refresh ``InferenceRun.heartbeat_at`` from a side thread while the body runs."""
    from inference.models import InferenceRun

    stop = threading.Event()

    def beat() -> None:
        try:
            while not stop.wait(settings.PETCTWEB_RUN_HEARTBEAT_SECONDS):
                try:
                    InferenceRun.objects.filter(pk=run_id, status=InferenceRun.Status.RUNNING).update(
                        heartbeat_at=timezone.now())
                except Exception:  # a busy database skips one beat; the stale limit allows several
                    logger.warning("heartbeat of run %s skipped", run_id, exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=beat, name=f"heartbeat-run{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
