"""Cached continuous-truth benchmark cases: generated once, read back cheaply on every rerun.

Each case lives in ``<root>/<size>-<seed>-<wrapping>/``: the DICOM the generator wrote, the truth,
the exact working-grid occupancies (geometry benchmark) and what the real ingest (``load_studies``)
made of the DICOM (end-to-end benchmark). Generation takes 10-25 s per small case on a loaded
2-core machine; a cached case loads in well under a second. A case made by an older version of the
generator is made again.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cases.imaging.study import load_studies
from cases.imaging.volume import Grid
from cases.phantoms.continuous import generate_continuous_case
from cases.phantoms.continuous.case import GENERATOR_VERSION

DEID_SECRET = "bench"


@dataclass(frozen=True)
class CachedCase:
    seed: int
    size: str
    wrapping: str
    truth: dict
    working_grid: Grid  # the generator's grid of the exact occupancies
    tumour_occupancy: np.ndarray
    specimen_occupancy: np.ndarray
    ct_hu: np.ndarray  # ingested CT on the working grid
    pet: np.ndarray  # ingested PET on the working grid, in its units
    suv_factor: float | None
    ingest_grid: Grid

    @property
    def truth_mm(self) -> float:
        return float(self.truth["closest_margin_mm"])


def case_dir(*, root: Path, seed: int, size: str, wrapping: str) -> Path:
    return Path(root) / f"{size}-{seed}-{wrapping}"


def ensure_case(*, root: Path, seed: int, size: str, wrapping: str, working_spacing_mm: float = 0.5) -> Path:
    """Generate, write and ingest the band case once; later calls only return its folder."""
    folder = case_dir(root=root, seed=seed, size=size, wrapping=wrapping)
    if (folder / "done").exists() and _generator_version(folder) == GENERATOR_VERSION:
        return folder
    Path(root).mkdir(parents=True, exist_ok=True)  # a --cache folder named for the first time
    scratch = Path(tempfile.mkdtemp(prefix=f"{folder.name}-", dir=Path(root)))
    try:
        case = generate_continuous_case(seed=seed, size=size, band=True, wrapping=wrapping)
        written = case.write(scratch / "dicom")
        (study,) = load_studies(path=written, working_spacing_mm=working_spacing_mm, deid_secret=DEID_SECRET,
                                temp_parent=scratch)
        np.savez_compressed(scratch / "truth_fields.npz", tumour=case.tumour_occupancy,
                            specimen=case.specimen_occupancy)
        np.savez_compressed(scratch / "ingest.npz", ct_hu=study.ct_working.array, pet=study.pet_working.array)
        meta = {"truth": case.truth, "working_grid": case.working_grid.to_dict(),
                "ingest_grid": study.ct_working.grid.to_dict(), "suv_factor": study.suv.factor}
        (scratch / "meta.json").write_text(json.dumps(meta, allow_nan=False))
        (scratch / "done").write_text("ok\n")
        if folder.exists():
            shutil.rmtree(folder)
        scratch.rename(folder)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return folder


def _generator_version(folder: Path) -> int:
    """The continuous generator's version a cached case was made with (1: before it was recorded)."""
    meta = json.loads((folder / "meta.json").read_text())
    return int(meta["truth"].get("generator_version", 1))


def load_case(*, root: Path, seed: int, size: str, wrapping: str) -> CachedCase:
    folder = ensure_case(root=root, seed=seed, size=size, wrapping=wrapping)
    meta = json.loads((folder / "meta.json").read_text())
    with np.load(folder / "truth_fields.npz") as fields, np.load(folder / "ingest.npz") as ingest:
        return CachedCase(
            seed=seed, size=size, wrapping=wrapping, truth=meta["truth"],
            working_grid=Grid.from_dict(meta["working_grid"]), tumour_occupancy=fields["tumour"],
            specimen_occupancy=fields["specimen"], ct_hu=ingest["ct_hu"], pet=ingest["pet"],
            suv_factor=meta["suv_factor"], ingest_grid=Grid.from_dict(meta["ingest_grid"]),
        )
