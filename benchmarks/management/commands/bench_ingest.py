"""Benchmark: ingestion MB/s next to the raw pydicom read rate of the same files, in one run."""

import json
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from benchmarks.ingest import benchmark_ingest
from cases.phantoms.generator import generate_phantoms


class Command(BaseCommand):
    help = "Generate a case (or use PATH) and print ingestion MB/s and raw pydicom read MB/s for the same files."

    def add_arguments(self, parser):
        parser.add_argument("--path", type=Path, help="DICOM folder to measure instead of a generated case")
        parser.add_argument("--size", choices=["full", "small"], default="full")
        parser.add_argument("--seed", type=int, default=3)
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        with tempfile.TemporaryDirectory() as scratch:
            path = options["path"]
            if path is None:
                generate_phantoms(out_dir=Path(scratch), n=1, seed=options["seed"], size=options["size"])
                path = Path(scratch) / "case_0000"
            elif not path.exists():
                raise CommandError(f"{path} does not exist")
            result = benchmark_ingest(path=path, working_spacing_mm=settings.PETCTWEB_WORKING_SPACING_MM)
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2, default=str))
            return
        ratio = result["ingest_seconds"] / max(result["raw_read_seconds"], 1e-9)
        self.stdout.write(
            f"{result.get('files')} files, {result['megabytes']:.1f} MB: raw pydicom read {result['raw_read_mb_per_s']:.1f} MB/s "
            f"({result['raw_read_seconds']:.2f} s); ingestion {result['ingest_mb_per_s']:.1f} MB/s "
            f"({result['ingest_seconds']:.2f} s); ingestion costs {ratio:.2f}x the raw read"
        )
        stages = ", ".join(f"{name} {seconds * 1000:.1f}" for name, seconds in result["stages_seconds"].items())
        self.stdout.write(f"ingest stages, ms (fastest repeat of each): {stages}")
