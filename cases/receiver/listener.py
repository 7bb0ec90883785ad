"""The listener process: the SCP threads plus a timer that closes quiet studies (Django side)."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections

from cases.receiver.scp import ListenerConfig, start_server
from cases.receiver.services import received_instances_record, received_studies_close_quiet, study_key_for
from cases.receiver.tracker import ReceiptTracker

logger = logging.getLogger(__name__)


def listener_config(*, port: int | None = None, ae_title: str | None = None) -> ListenerConfig:
    return ListenerConfig(
        ae_title=ae_title or settings.PETCTWEB_DICOM_AE_TITLE,
        host=settings.PETCTWEB_DICOM_HOST,
        port=settings.PETCTWEB_DICOM_PORT if port is None else port,
        allowed_calling_aes=tuple(settings.PETCTWEB_DICOM_ALLOWED_AES),
        allow_any=settings.PETCTWEB_DICOM_ALLOW_ANY,
        # Absolute: the folder is stored on the receipt and opened by a worker with another working directory.
        incoming_dir=Path(settings.PETCTWEB_DICOM_INCOMING_DIR).resolve(),
    )


def _flush(tracker: ReceiptTracker) -> None:
    pending = tracker.take()
    while pending:
        try:
            received_instances_record(stored=pending[0].first, instances=pending[0].instances,
                                      last_received_at=pending[0].last_received_at)
        except Exception:
            tracker.restore(pending)  # never drop a study whose files are on disk
            raise
        pending.pop(0)


def run_listener(*, config: ListenerConfig, quiet_seconds: float, stop: threading.Event) -> None:
    """Serve until ``stop`` is set; every tenth of the quiet time (0.1 to 1 s) close studies that went quiet."""
    config.incoming_dir.mkdir(parents=True, exist_ok=True)
    tracker = ReceiptTracker()
    # The handler threads only write files and this tracker; the database is written by this thread.
    server = start_server(config, study_key=study_key_for, record=tracker.record,
                          association_closed=tracker.association_closed)
    # A study waits for the quiet time plus up to one tick: ticks at a tenth of it keep that extra wait small
    # (each tick is one indexed query unless instances arrived).
    interval = max(0.1, min(1.0, quiet_seconds / 10))
    try:
        while not stop.wait(interval):
            try:
                close_old_connections()
                _flush(tracker)
                busy = tracker.busy_studies()
                for received_id in received_studies_close_quiet(quiet_seconds=quiet_seconds, busy=busy):
                    logger.info("received study %s is complete; queued for ingest", received_id)
            except Exception:  # a database hiccup must not stop the receiver
                logger.exception("quiet-time check failed; retrying")
    finally:
        server.shutdown()
        _flush(tracker)  # what was stored is recorded; the next start closes it after the quiet time
