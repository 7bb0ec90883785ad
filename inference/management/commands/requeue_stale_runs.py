"""Re-enqueue inference runs whose worker vanished without the broker redelivering them."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from inference.services import inference_runs_requeue_stale


class Command(BaseCommand):
    help = "Re-enqueue runs queued or running for longer than --minutes (idempotent: a finished run is skipped)."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=float, default=30.0)

    def handle(self, *args, minutes: float, **options):
        if minutes <= 0:
            raise CommandError("--minutes must be positive")
        ids = inference_runs_requeue_stale(older_than=timedelta(minutes=minutes))
        self.stdout.write(f"re-enqueued {len(ids)} run(s): {ids}")
