"""Write synthetic micro-PET-CT specimen cases (DICOM + ground truth)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.phantoms.continuous import WRAPPINGS, generate_continuous_case
from cases.phantoms.generator import case_seed, generate_phantoms


class Command(BaseCommand):
    help = "Generate N synthetic lumpectomy specimens as DICOM CT + PET series with ground truth beside them."

    def add_arguments(self, parser):
        parser.add_argument("out_dir", type=Path)
        parser.add_argument("--n", type=int, default=4)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--size", choices=["full", "small"], default="full")
        parser.add_argument(
            "--continuous", action="store_true", help="continuous surfaces with exact margin truth"
        )
        parser.add_argument("--band", action="store_true", help="with --continuous: margins in 0.3-2.5 mm")
        parser.add_argument("--wrapping", choices=WRAPPINGS, default="none", help="with --continuous")

    def handle(self, *args, out_dir: Path, n: int, seed: int, size: str, continuous: bool, band: bool,
               wrapping: str, **options):
        if n < 1:
            raise CommandError("--n must be at least 1")
        if out_dir.exists() and not out_dir.is_dir():
            raise CommandError(f"{out_dir} exists and is not a folder")
        if (band or wrapping != "none") and not continuous:
            raise CommandError("--band and --wrapping need --continuous")
        if continuous:
            for index in range(n):
                case = generate_continuous_case(
                    seed=case_seed(seed=seed, index=index), size=size, wrapping=wrapping, band=band,
                    case_id=f"case_{index:04d}",
                )
                path = case.write(out_dir)
                self.stdout.write(f"{path}: margin {case.truth['closest_margin_mm']:.3f} mm, {wrapping}")
            self.stdout.write(self.style.SUCCESS(f"wrote {n} continuous case(s) to {out_dir}"))
            return
        summaries = generate_phantoms(out_dir=out_dir, n=n, seed=seed, size=size)
        for summary in summaries:
            self.stdout.write(str(summary))
        self.stdout.write(self.style.SUCCESS(f"wrote {len(summaries)} case(s) to {out_dir}"))
