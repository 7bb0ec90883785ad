"""Seed the load-test database (study, readers, imported generated specimens) and write the locust plan."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from benchmarks.loadtest.seed import seed_load_test


class Command(BaseCommand):
    help = "Create the load test's study, readers and imported phantom cases, and write the plan JSON."

    def add_arguments(self, parser):
        parser.add_argument("plan", type=Path)
        parser.add_argument("--readers", type=int, default=100)
        parser.add_argument("--cases", type=int, default=4)
        parser.add_argument("--uploads", type=int, default=4, help="specimen studies for the uploader")
        parser.add_argument("--size", choices=["full", "small"], default="full")

    def handle(self, *args, plan: Path, readers: int, cases: int, uploads: int, size: str, **options):
        if not 1 <= readers <= 1000 or not 1 <= cases <= 50 or not 0 <= uploads <= 20:
            raise CommandError("--readers 1..1000, --cases 1..50, --uploads 0..20")
        if settings.PETCTWEB_AUTO_INFERENCE:
            raise CommandError("set PETCTWEB_AUTO_INFERENCE=0: the load test measures the web tier, not inference")
        data = seed_load_test(readers=readers, cases=cases, uploads=uploads, size=size, out_dir=plan.parent)
        plan.write_text(json.dumps(data))
        per_case = data["volume_bytes"]
        self.stdout.write(
            f"study {data['study_id']}: {readers} readers x {cases} {size} cases, grids {sorted(data['grids'].values())}; "
            f"stored gzip bytes per case: CT {per_case['ct']:,}, PET {per_case['pet']:,}, "
            f"specimen {per_case['specimen']:,}; uploads {data['upload_bytes']} bytes; plan {plan}")
