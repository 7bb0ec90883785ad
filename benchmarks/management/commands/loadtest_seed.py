"""Seed the load-test database: study, readers, synthetic cases, an upload archive; write the locust plan."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from benchmarks.management.commands.bench_readers import _shape
from benchmarks.readers import _login_cookie, prepare
from cases.phantoms.generator import generate_phantoms
from inference.maskcodec import ENCODING, encode_rle


def upload_archive(*, out: Path) -> Path:
    """One small generated specimen (CT + PET DICOM) zipped as a browser upload would send it."""
    with tempfile.TemporaryDirectory(prefix="petctweb-load-") as folder:
        generate_phantoms(out_dir=Path(folder), n=1, seed=5, size="small")
        case = Path(folder) / "case_0000"
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(case.rglob("*")):
                if path.is_file() and path.parent.name in ("ct", "pet"):
                    archive.write(path, path.relative_to(case))
    return out


class Command(BaseCommand):
    help = "Create the load test's study, readers and cases in the configured database and write the plan JSON."

    def add_arguments(self, parser):
        parser.add_argument("plan", type=Path)
        parser.add_argument("--readers", type=int, default=100)
        parser.add_argument("--cases", type=int, default=6)
        parser.add_argument("--shape", default="48,128,128")

    def handle(self, *args, plan: Path, readers: int, cases: int, shape: str, **options):
        if not 1 <= readers <= 1000 or not 1 <= cases <= 100:
            raise CommandError("--readers 1..1000, --cases 1..100")
        grid = _shape(shape)
        study, people = prepare(readers=readers, cases=cases, shape=grid, tag="load")
        admin = study.created_by
        mask = np.zeros(grid, np.uint8)
        k, j, i = (s // 2 for s in grid)
        mask[k - 3:k + 3, j - 8:j + 8, i - 8:i + 8] = 1
        plan.parent.mkdir(parents=True, exist_ok=True)
        archive = upload_archive(out=plan.parent / "upload.zip")
        plan.write_text(json.dumps({
            "study_id": study.pk,
            "reader_cookies": [_login_cookie(user) for user in people],
            "admin_cookie": _login_cookie(admin),
            "upload_zip": str(archive.resolve()),
            "mask": {"parent_id": None, "shape": list(grid), "encoding": ENCODING, "data": encode_rle(mask)},
        }))
        self.stdout.write(f"study {study.pk}: {readers} readers x {cases} cases of {grid}; plan {plan}")
