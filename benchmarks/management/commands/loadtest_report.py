"""Print the load test's figures: API p50/p95/p99 per endpoint and overall, errors, calls submitted vs stored,
volume throughput."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from studies.models import Read


def _line(label: str, stats: dict) -> str:
    return (f"{label[:34]:<34} {stats['n']:>6} {stats['p50_ms']!s:>8} {stats['p95_ms']!s:>8} "
            f"{stats['p99_ms']!s:>8} {stats['max_ms']!s:>8}")


class Command(BaseCommand):
    help = "Summarise a finished locust run (the summary JSON written by benchmarks/loadtest/locustfile.py)."

    def add_arguments(self, parser):
        parser.add_argument("summary", type=Path)
        parser.add_argument("--study", type=int, required=True)

    def handle(self, *args, summary: Path, study: int, **options):
        data = json.loads(summary.read_text())
        stored = Read.objects.filter(study_id=study).count()
        data["calls_stored"] = stored
        summary.write_text(json.dumps(data, indent=2))
        volumes = data["volumes"]
        out = self.stdout.write
        out(f"{data['requests']} requests in {data['wall_s']} s, errors {data['errors']} {data['errors_by_name'] or ''}")
        out(f"calls submitted {data['calls_submitted']}, stored {stored}; readers with a call "
            f"{data['readers_with_a_call']} of {data['readers']}")
        out(f"volumes: {volumes['n']} downloads ({volumes['mb']} MB gzip on the wire), {volumes['not_modified']} "
            f"revalidated (304); {volumes['mb_per_s_over_run']} MB/s over the run, "
            f"{volumes['mb_per_s_per_download']} MB/s per download")
        out(f"{'request':<34} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'max ms':>8}")
        out(_line("API (readers' /api/ calls)", data["api"]))
        out(_line("API incl. upload and exports", data["api_with_admin"]))
        out(_line("pages", data["pages"]))
        out(_line("volume downloads (200)", volumes))
        for name, stats in data["per_name"].items():
            out(_line("  " + name, stats))
