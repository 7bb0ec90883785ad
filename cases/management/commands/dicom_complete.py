"""End receipt of a DICOM study now (instead of waiting for the quiet time) and queue its ingest."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cases.receiver.services import received_study_complete
from petctweb.errors import DomainError


class Command(BaseCommand):
    help = "Complete a study being received over DICOM, by its original StudyInstanceUID, and queue its ingest."

    def add_arguments(self, parser):
        parser.add_argument("study_uid", help="StudyInstanceUID as the scanner sent it")

    def handle(self, *args, study_uid: str, **options):
        try:
            received = received_study_complete(study_uid=study_uid)
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"received study {received.pk}: {received.message}")
