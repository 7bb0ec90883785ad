"""Seed the load test: generated specimens imported through the real import path, readers, a study, a plan.

The cases are phantoms from ``cases.phantoms`` (CT + PET DICOM, full size by default) imported with
``cases.services.case_import``, so the stored volumes are what a real specimen scan gives: mostly air and
smooth tissue, which compress like real CT/PET (unlike random voxels). The plan JSON tells the locust
process (no Django there) the study, the session cookies, each case's grid and a mask per case.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from benchmarks.readers import _login_cookie, bench_users
from cases.models import Case, CaseVolume
from cases.phantoms.generator import generate_phantoms
from cases.services import case_import
from inference.maskcodec import ENCODING, encode_rle
from studies.services import study_create


def _centre_mask(shape: list[int]) -> dict:
    """A reader's mask: a small box at the grid's centre, in the API's run-length form (no parent)."""
    mask = np.zeros(shape, np.uint8)
    k, j, i = (s // 2 for s in shape)
    mask[max(0, k - 4):k + 4, max(0, j - 10):j + 10, max(0, i - 10):i + 10] = 1
    return {"parent_id": None, "shape": list(shape), "encoding": ENCODING, "data": encode_rle(mask)}


def _zip_case(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.parent.name in ("ct", "pet"):
                archive.write(path, path.relative_to(folder))
    return out


def seed_load_test(*, readers: int, cases: int, uploads: int, size: str, out_dir: Path, seed: int = 17,
                   tag: str = "load") -> dict:
    """Import ``cases`` generated specimens, zip ``uploads`` more (each study can be uploaded once), create
    the readers and an unaided study; return the plan."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="petctweb-load-") as folder:
        generate_phantoms(out_dir=Path(folder), n=cases + uploads, seed=seed, size=size)
        imported = []
        for index in range(cases):
            case_dir = Path(folder) / f"case_{index:04d}"
            shutil.rmtree(case_dir / "truth", ignore_errors=True)  # the scan only, as a scanner would send it
            imported += case_import(path=case_dir, source=Case.Source.IMPORT)
        zips = [_zip_case(Path(folder) / f"case_{index:04d}", out_dir / f"upload-{index}.zip").resolve()
                for index in range(cases, cases + uploads)]
    admin, people = bench_users(readers=readers, prefix=f"load-{tag}")
    codes = [item.case.code for item in imported]
    study = study_create(user=admin, name=f"load test {tag}", design="unaided", case_codes=codes,
                         reader_usernames=[u.get_username() for u in people], seed=seed)
    volumes = CaseVolume.objects.filter(case__code__in=codes)
    return {
        "study_id": study.pk,
        "reader_cookies": [_login_cookie(user) for user in people],
        "admin_cookie": _login_cookie(admin),
        "upload_zips": [str(path) for path in zips],
        "upload_bytes": [path.stat().st_size for path in zips],
        "size": size,
        "masks": {item.case.code: _centre_mask(item.case.grid.shape) for item in imported},
        "grids": {item.case.code: list(item.case.grid.shape) for item in imported},
        "volume_bytes": {kind: sum(v.size_bytes for v in volumes if v.kind == kind) // max(1, len(codes))
                         for kind in ("ct", "pet", "specimen")},
    }
