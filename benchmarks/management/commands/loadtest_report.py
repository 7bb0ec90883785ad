"""Print the load test's figures: API p50/p95, errors, calls stored vs submitted, volume throughput."""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import BaseCommand

from studies.models import Read


class Command(BaseCommand):
    help = "Summarise a finished locust run (the summary JSON from benchmarks/loadtest/locustfile.py)."

    def add_arguments(self, parser):
        parser.add_argument("summary", type=Path)
        parser.add_argument("--study", type=int, required=True)

    def handle(self, *args, summary: Path, study: int, **options):
        data = json.loads(summary.read_text())
        stored = Read.objects.filter(study_id=study).count()
        data["calls_stored"] = stored
        summary.write_text(json.dumps(data, indent=2))
        self.stdout.write(
            f"{data['requests']} requests in {data['wall_s']} s, errors {data['errors']}; "
            f"API p50 {data['api_p50_ms']} ms, p95 {data['api_p95_ms']} ms (n={data['api_n']}); "
            f"calls submitted {data['submits_ok']}, stored {stored}; volumes {data['volume_n']} "
            f"({data['volume_mb']} MB): {data['volume_mb_per_s_wall']} MB/s over the run, "
            f"{data['volume_mb_per_s_per_download']} MB/s per download")
        self.stdout.write(f"{'request':<40} {'n':>6} {'p50 ms':>8} {'p95 ms':>8}")
        for name, stats in data["per_name"].items():
            self.stdout.write(f"{name[:40]:<40} {stats['n']:>6} {stats['p50_ms']:>8} {stats['p95_ms']:>8}")
