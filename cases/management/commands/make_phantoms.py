"""Write synthetic micro-PET-CT specimen cases (DICOM + ground truth)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.phantoms.generator import generate_phantoms


class Command(BaseCommand):
    help = "Generate N synthetic lumpectomy specimens as DICOM CT + PET series with ground truth beside them."

    def add_arguments(self, parser):
        parser.add_argument("out_dir", type=Path)
        parser.add_argument("--n", type=int, default=4)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--size", choices=["full", "small"], default="full")

    def handle(self, *args, out_dir: Path, n: int, seed: int, size: str, **options):
        if n < 1:
            raise CommandError("--n must be at least 1")
        if out_dir.exists() and not out_dir.is_dir():
            raise CommandError(f"{out_dir} exists and is not a folder")
        summaries = generate_phantoms(out_dir=out_dir, n=n, seed=seed, size=size)
        for summary in summaries:
            self.stdout.write(str(summary))
        self.stdout.write(self.style.SUCCESS(f"wrote {len(summaries)} case(s) to {out_dir}"))
