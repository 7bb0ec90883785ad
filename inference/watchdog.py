"""Nothing stuck: every worker runs a watchdog thread that re-enqueues runs whose heartbeat went stale
(their worker was killed), on any broker. Execution is idempotent, so a run re-enqueued by several
watchdogs still completes exactly once. The worker starts it (inference/tasks.py connects
``start_watchdog`` to Celery's worker_ready)."""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from django.db import close_old_connections

from inference.heartbeat import stale_after
from inference.services import inference_runs_requeue_stale

logger = logging.getLogger(__name__)


def watchdog_tick() -> list[int]:
    close_old_connections()
    requeued = inference_runs_requeue_stale(older_than=stale_after())
    if requeued:
        logger.warning("watchdog re-enqueued inference runs %s (worker gone or message lost)", requeued)
    return requeued


def _watch(stop: threading.Event) -> None:
    while not stop.wait(settings.PETCTWEB_WATCHDOG_SECONDS):
        try:
            watchdog_tick()
        except Exception:
            logger.exception("watchdog check failed; retrying")


def start_watchdog(**kwargs) -> None:
    if settings.PETCTWEB_WATCHDOG_SECONDS > 0:
        threading.Thread(target=_watch, args=(threading.Event(),), name="inference-watchdog", daemon=True).start()
