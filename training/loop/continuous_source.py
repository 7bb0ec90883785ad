"""Training cases from continuous-truth phantoms, wrapped (film, container wall, gauze) or not.

The voxel phantoms (``cases.phantoms``) have no wrappings and voxel-mask labels, so a model trained
only on them draws its tumour surface off the true one next to a container wall or film. These
cases come from ``cases.phantoms.continuous.generate_continuous_case``: margins drawn continuously
over 0-4 mm (about two thirds in 0.5-2 mm; not band cases only), wrappings cycled over
``wrappings``, one synthetic patient per case.

One preprocessing path: each case's DICOM is written, then read back through the product's own
ingest (``cases.imaging.study.load_studies``, as ``training.loop.sources`` does for DICOM
phantoms). The label is exact: the tumour's partial-volume occupancy computed from the implicit
surfaces on the INGESTED working grid, clipped by the specimen's occupancy as the generator does,
thresholded at 0.5 (the surface the margin analysis should find). It is computed once, when the
case is generated, and stored with the grid it belongs to; loading checks that ingest still makes
that grid.

Folder (generated on demand, each case cached on its own, so a larger batch reuses a smaller one)::

    ROOT/manifest.json                          n, seed, size, wrappings, generator + label versions
    ROOT/seed_7000_none/ct/*.dcm, pet/*.dcm     DICOM series, read through load_studies
    ROOT/seed_7000_none/truth/truth.json        the generator's truth (closest_margin_mm, ...)
    ROOT/seed_7000_none/truth/labels.npz        tumour / specimen masks on the ingested working grid
    ROOT/seed_7000_none/case.json               seed, wrapping, size, versions, working grid

Case ``i`` has seed ``seed + i`` and wrapping ``wrappings[i % len(wrappings)]``. Keep ``seed`` clear
of the margin benchmark's seeds (test 1500-1539, tuning 1600-1619, speed 2000): those cases must
stay unseen by the model.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from cases.imaging.volume import Grid
from cases.phantoms.config import SIZES
from cases.phantoms.continuous import WRAPPINGS
from cases.phantoms.continuous.case import SCHEMA as GENERATOR_SCHEMA
from inference.engine.config import PreprocessConfig
from training.loop.data import TrainingCase
from training.loop.sources import load_dicom_study, training_case_from_study
from training.loop.validation import TrainingInputError

LABEL_VERSION = "1"  # 1: min(tumour, specimen occupancy) >= 0.5 on the ingested working grid
LABEL_LEVEL = 0.5
# Seeds the margin benchmark evaluates on (test, tuning, full-size speed case): never trained on.
BENCHMARK_SEEDS = (range(1500, 1540), range(1600, 1620), range(2000, 2001))
DEID_SECRET = "petctweb-training"
MANIFEST = "manifest.json"
CASE_INFO = "case.json"
LABELS = "truth/labels.npz"

Progress = Callable[[float, str], None]


def case_plan(*, n: int, seed: int, wrappings: Sequence[str]) -> list[tuple[int, str]]:
    """(seed, wrapping) of each case, after checking the request."""
    if n < 1:
        raise TrainingInputError(f"continuous cases: n must be at least 1, got {n}")
    wrappings = tuple(wrappings)
    if not wrappings:
        raise TrainingInputError("continuous cases: give at least one wrapping")
    unknown = sorted(set(wrappings) - set(WRAPPINGS))
    if unknown:
        raise TrainingInputError(
            f"continuous cases: unknown wrapping(s) {unknown}; choose from {list(WRAPPINGS)}"
        )
    seeds = range(int(seed), int(seed) + n)
    clash = sorted({s for s in seeds if any(s in reserved for reserved in BENCHMARK_SEEDS)})
    if clash:
        raise TrainingInputError(
            f"continuous cases: seeds {clash[0]}-{clash[-1]} are the margin benchmark's "
            "(test 1500-1539, tuning 1600-1619, speed 2000); training on them would leak the benchmark"
        )
    return [(s, wrappings[i % len(wrappings)]) for i, s in enumerate(seeds)]


def case_folder_name(*, seed: int, wrapping: str) -> str:
    return f"seed_{seed}_{wrapping}"


def _case_info(*, seed: int, wrapping: str, size: str) -> dict:
    return {
        "seed": seed,
        "wrapping": wrapping,
        "size": size,
        "generator": GENERATOR_SCHEMA,
        "label_version": LABEL_VERSION,
    }


def _is_current(case_dir: Path, wanted: dict) -> bool:
    info_path = case_dir / CASE_INFO
    if not info_path.is_file() or not (case_dir / LABELS).is_file():
        return False
    info = json.loads(info_path.read_text())
    return all(info.get(key) == value for key, value in wanted.items())


def generate_labelled_case(
    *, root: Path, seed: int, wrapping: str, size: str, working_spacing_mm: float
) -> Path:
    """Generate one case, ingest it and store its exact labels; written atomically (scratch, rename)."""
    from cases.phantoms.continuous import generate_continuous_case
    from cases.phantoms.continuous.materials import specimen_occupancy, tumour_occupancy

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    name = case_folder_name(seed=seed, wrapping=wrapping)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        case = generate_continuous_case(seed=seed, size=size, wrapping=wrapping, band=False, case_id=name)
        case_dir = case.write(scratch)
        study = load_dicom_study(
            case_dir=case_dir, config=PreprocessConfig(working_spacing_mm=working_spacing_mm),
            deid_secret=DEID_SECRET,
        )
        grid = study.ct_working.grid
        specimen = specimen_occupancy(specimen=case.specimen, grid=grid)
        tumour = np.minimum(tumour_occupancy(tumour=case.tumour, grid=grid), specimen)
        if not (tumour >= LABEL_LEVEL).any():
            raise TrainingInputError(f"continuous case seed {seed} ({wrapping}): no tumour voxel on the grid")
        np.savez_compressed(
            case_dir / LABELS,
            tumour=(tumour >= LABEL_LEVEL).astype(np.uint8),
            specimen=(specimen >= LABEL_LEVEL).astype(np.uint8),
        )
        info = {**_case_info(seed=seed, wrapping=wrapping, size=size), "working_grid": grid.to_dict()}
        (case_dir / CASE_INFO).write_text(json.dumps(info, indent=2, allow_nan=False))
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        case_dir.rename(final)
        return final
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def ensure_continuous_cases(
    *,
    path: Path,
    n: int,
    seed: int,
    wrappings: Sequence[str],
    size: str = "small",
    working_spacing_mm: float = 0.5,
    progress: Progress | None = None,
) -> list[Path]:
    """The batch's case folders under ``path``, generating only those not already there (same versions)."""
    if size not in SIZES:
        raise TrainingInputError(f"continuous cases: size must be one of {sorted(SIZES)}, got {size!r}")
    plan = case_plan(n=n, seed=seed, wrappings=wrappings)
    path = Path(path)
    folders = []
    for done, (case_seed, wrapping) in enumerate(plan):
        folder = path / case_folder_name(seed=case_seed, wrapping=wrapping)
        if not _is_current(folder, _case_info(seed=case_seed, wrapping=wrapping, size=size)):
            generate_labelled_case(
                root=path, seed=case_seed, wrapping=wrapping, size=size, working_spacing_mm=working_spacing_mm
            )
        folders.append(folder)
        if progress is not None:
            progress((done + 1) / len(plan), f"continuous phantom {done + 1}/{len(plan)}")
    manifest = {
        "n": n,
        "seed": seed,
        "size": size,
        "wrappings": list(wrappings),
        "generator_version": GENERATOR_SCHEMA,
        "label_version": LABEL_VERSION,
        "cases": [folder.name for folder in folders],
    }
    (path / MANIFEST).write_text(json.dumps(manifest, indent=2))
    return folders


def _same_grid(a: Grid, b: Grid) -> bool:
    return tuple(a.shape) == tuple(b.shape) and np.allclose(a.affine(), b.affine(), atol=1e-6)


def case_from_continuous(*, case_dir: Path, config: PreprocessConfig) -> TrainingCase:
    """One generated case: its DICOM through the product's ingest, its stored exact labels."""
    case_dir = Path(case_dir)
    if not (case_dir / CASE_INFO).is_file() or not (case_dir / LABELS).is_file():
        raise TrainingInputError(f"{case_dir} is not a generated continuous case (no {CASE_INFO} / {LABELS})")
    info = json.loads((case_dir / CASE_INFO).read_text())
    study = load_dicom_study(case_dir=case_dir, config=config, deid_secret=DEID_SECRET)
    working = study.ct_working.grid
    if not _same_grid(working, Grid.from_dict(info["working_grid"])):
        raise TrainingInputError(
            f"case {case_dir.name!r}: ingest now makes another working grid than the one its labels were "
            "computed on (working spacing or ingest changed); delete the folder to regenerate it"
        )
    with np.load(case_dir / LABELS) as labels:
        tumour, specimen = labels["tumour"], labels["specimen"]
    truth = json.loads((case_dir / "truth" / "truth.json").read_text())
    return training_case_from_study(
        study=study,
        case_dir=case_dir,
        patient_id=f"{case_dir.parent.name}/{case_dir.name}",  # every case is its own synthetic patient
        tumour_mask=tumour,
        # The exact specimen, not the CT-derived one: slices are chosen and centred on the tissue,
        # never on a container wall.
        specimen_mask=specimen,
        truth_closest_margin_mm=float(truth["closest_margin_mm"]),
    )


def cases_from_continuous(
    *,
    path: Path,
    n: int,
    seed: int,
    wrappings: Sequence[str],
    size: str = "small",
    config: PreprocessConfig,
    progress: Progress | None = None,
) -> list[TrainingCase]:
    """Generate (or reuse) the batch under ``path`` and load it as training cases."""
    folders = ensure_continuous_cases(
        path=path, n=n, seed=seed, wrappings=wrappings, size=size,
        working_spacing_mm=config.working_spacing_mm, progress=progress,
    )
    return [case_from_continuous(case_dir=folder, config=config) for folder in folders]
