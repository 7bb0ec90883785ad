"""Public entry points of the synthetic specimen generator (Django-free).

* :func:`generate_case` builds one case in memory (arrays, grids, header values, truth).
* :func:`write_case` writes it as ``case_dir/{ct/CT0001.dcm.., pet/PT0001.dcm.., truth/..}``.
* :func:`generate_phantoms` writes ``n`` cases plus ``manifest.json`` into ``out_dir``.

Everything is a pure function of the seed: per-case seeds are
``case_seed(seed=S, index=i)``, all random draws come from ``numpy.random.SeedSequence``
children of the case seed, and DICOM UIDs, dates and times are derived from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cases.phantoms import config as C
from cases.phantoms.case_builder import PhantomCase, generate_case
from cases.phantoms.dicom_writer import write_ct_series, write_pet_series
from cases.phantoms.report import GENERATOR_VERSION
from cases.phantoms.truth import (
    write_json,
    write_mask_nifti,
)

__all__ = [
    "PhantomCase",
    "PhantomSummary",
    "batch_categories",
    "case_seed",
    "generate_case",
    "generate_phantoms",
    "write_case",
]

MANIFEST_SCHEMA = "petctweb-phantom-manifest/1"

# Category schedule of a batch: 3 transected, 2 close, 5 clear per 10 cases, so any run
# of 3 or more consecutive cases contains both margin-positive and -negative cases at 1 mm.
_SCHEDULE: tuple[str, ...] = (
    "transected",
    "clear",
    "close",
    "clear",
    "transected",
    "clear",
    "close",
    "clear",
    "transected",
    "clear",
)


@dataclass(frozen=True)
class PhantomSummary:
    case_id: str
    seed: int
    size: str
    path: Path
    closest_margin_mm: float
    status_0mm: str
    status_1mm: str
    n_tumours: int
    has_clips: bool
    n_ct_files: int
    n_pet_files: int
    dicom_bytes: int

    def to_dict(self, *, relative_to: Path | None = None) -> dict:
        path = self.path.relative_to(relative_to) if relative_to is not None else self.path
        return {
            "case_id": self.case_id,
            "seed": self.seed,
            "size": self.size,
            "path": str(path),
            "closest_margin_mm": self.closest_margin_mm,
            "status_0mm": self.status_0mm,
            "status_1mm": self.status_1mm,
            "n_tumours": self.n_tumours,
            "has_clips": self.has_clips,
            "n_ct_files": self.n_ct_files,
            "n_pet_files": self.n_pet_files,
            "dicom_bytes": self.dicom_bytes,
        }


def case_seed(*, seed: int, index: int) -> int:
    """Per-case seed of case ``index`` of a batch with seed ``seed`` (uint32)."""
    return int(np.random.SeedSequence([int(seed), int(index), 0x5EC1]).generate_state(1)[0])


def write_case(*, case: PhantomCase, out_dir: Path) -> Path:
    """Write ``case`` into ``out_dir/<case_id>/`` and return that folder."""
    case_dir = Path(out_dir) / case.case_id
    for folder, prefix in (("ct", "CT"), ("pet", "PT")):  # stale slices of an earlier run
        for stale in (case_dir / folder).glob(f"{prefix}*.dcm"):
            stale.unlink()
    ct_paths = write_ct_series(
        study=case.study,
        stored=case.ct_stored,
        grid=case.ct_grid,
        series_time=case.ct_series_time,
        out_dir=case_dir / "ct",
    )
    pet_paths = write_pet_series(
        study=case.study,
        stored=case.pet_stored,
        slopes=case.pet_slopes,
        grid=case.pet_grid,
        calibration=case.calibration,
        frame_duration_s=C.PET_FRAME_S,
        out_dir=case_dir / "pet",
    )
    truth_dir = case_dir / "truth"
    write_mask_nifti(array=case.tumour_mask, grid=case.ct_grid, path=truth_dir / "tumour_mask.nii.gz")
    write_mask_nifti(array=case.specimen_mask, grid=case.ct_grid, path=truth_dir / "specimen_mask.nii.gz")
    write_mask_nifti(array=case.labels, grid=case.ct_grid, path=truth_dir / "labels.nii.gz")
    truth = dict(case.truth)
    truth["files"] = {
        "ct_dir": "ct",
        "pet_dir": "pet",
        "n_ct_files": len(ct_paths),
        "n_pet_files": len(pet_paths),
        "dicom_bytes": int(sum(p.stat().st_size for p in [*ct_paths, *pet_paths])),
        "tumour_mask": "truth/tumour_mask.nii.gz",
        "specimen_mask": "truth/specimen_mask.nii.gz",
        "labels": "truth/labels.nii.gz",
        "masks_grid": "ct_grid",
    }
    write_json(data=truth, path=truth_dir / "truth.json")
    return case_dir


def _summary(case: PhantomCase, case_dir: Path) -> PhantomSummary:
    files = json.loads((case_dir / "truth" / "truth.json").read_text())["files"]
    t = case.truth
    return PhantomSummary(
        case_id=case.case_id,
        seed=case.seed,
        size=case.size,
        path=case_dir,
        closest_margin_mm=t["closest_margin_mm"],
        status_0mm=t["margin_status"]["0mm"],
        status_1mm=t["margin_status"]["1mm"],
        n_tumours=t["n_tumours"],
        has_clips=t["has_clips"],
        n_ct_files=files["n_ct_files"],
        n_pet_files=files["n_pet_files"],
        dicom_bytes=files["dicom_bytes"],
    )


def batch_categories(*, seed: int, n: int) -> list[str]:
    """Target margin categories of a batch: the fixed schedule from a seed-derived offset."""
    offset = int(np.random.default_rng(np.random.SeedSequence([int(seed), 0xCA7])).integers(len(_SCHEDULE)))
    return [_SCHEDULE[(offset + i) % len(_SCHEDULE)] for i in range(n)]


def generate_phantoms(
    *,
    out_dir: Path,
    n: int,
    seed: int,
    size: str = "full",
    progress: Callable[[int, int, PhantomSummary], None] | None = None,
) -> list[PhantomSummary]:
    """Generate and write ``n`` cases ``case_0000..`` plus ``manifest.json`` into ``out_dir``.

    ``progress(done, n, summary)`` is called after each case is written.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if size not in C.SIZES:
        raise ValueError(f"size must be one of {sorted(C.SIZES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    categories = batch_categories(seed=seed, n=n)
    summaries: list[PhantomSummary] = []
    for index in range(n):
        case = generate_case(
            seed=case_seed(seed=seed, index=index),
            size=size,
            case_id=f"case_{index:04d}",
            margin_category=categories[index],
        )
        case_dir = write_case(case=case, out_dir=out_dir)
        summary = _summary(case, case_dir)
        summaries.append(summary)
        del case
        if progress is not None:
            progress(index + 1, n, summary)
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "n": int(n),
        "size": size,
        "case_seed_rule": "numpy SeedSequence([seed, index, 0x5EC1]).generate_state(1)[0]",
        "cases": [s.to_dict(relative_to=out_dir) for s in summaries],
    }
    write_json(data=manifest, path=out_dir / "manifest.json")
    return summaries
