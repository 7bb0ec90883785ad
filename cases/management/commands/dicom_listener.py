"""Run the DICOM receiver (C-STORE / C-ECHO SCP) until stopped; configured by PETCTWEB_DICOM_* settings."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from cases.receiver.listener import listener_config, run_listener


class Command(BaseCommand):
    help = "Receive CT/PET studies over DICOM; complete studies (quiet time) are ingested by a worker."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, help="TCP port (default PETCTWEB_DICOM_PORT)")
        parser.add_argument("--ae-title", help="our AE title (default PETCTWEB_DICOM_AE_TITLE)")
        parser.add_argument("--quiet-seconds", type=float,
                            help="seconds without a new instance before a study is complete "
                                 "(default PETCTWEB_DICOM_QUIET_SECONDS)")

    def handle(self, *args, port=None, ae_title=None, quiet_seconds=None, **options):
        config = listener_config(port=port, ae_title=ae_title)
        quiet = settings.PETCTWEB_DICOM_QUIET_SECONDS if quiet_seconds is None else quiet_seconds
        if quiet <= 0:
            raise CommandError("the quiet time must be more than 0 seconds")
        if not config.allow_any and not config.allowed_calling_aes:
            raise CommandError("no calling AE title is allowed: set PETCTWEB_DICOM_ALLOWED_AES (comma list), "
                               "or PETCTWEB_DICOM_ALLOW_ANY=1 for development only")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        allowed = "any (development)" if config.allow_any else ", ".join(config.allowed_calling_aes)
        self.stdout.write(f"DICOM listener {config.ae_title} on {config.host}:{config.port}; calling AEs: {allowed}; "
                          f"quiet time {quiet:g} s; incoming files in {config.incoming_dir}")
        self.stdout.flush()
        try:
            run_listener(config=config, quiet_seconds=quiet, stop=stop)
        except OSError as exc:
            raise CommandError(f"cannot listen on {config.host}:{config.port}: {exc}") from exc
        self.stdout.write("DICOM listener stopped")
