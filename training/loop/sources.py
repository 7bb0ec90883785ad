"""Where training cases come from: generated phantoms, a folder of volumes, or the app's own cases.

Every source ends as ``TrainingCase`` objects on the model's working grid (isotropic,
``PreprocessConfig.working_spacing_mm``), built with the product's own ingestion and resampling
(``cases.imaging.study.load_studies`` for DICOM, ``cases.imaging.resample``), so training sees
exactly the geometry and intensities inference will see. Masks are resampled with nearest neighbour.

Folder layouts
--------------
Generated phantoms (``cases.phantoms`` output)::

    ROOT/manifest.json                    optional
    ROOT/case_0001/ct/*.dcm, pet/*.dcm    DICOM series, read through load_studies
    ROOT/case_0001/truth/tumour_mask.nii.gz     on the CT grid (RAS affine)
    ROOT/case_0001/truth/specimen_mask.nii.gz   optional, on the CT grid
    ROOT/case_0001/truth/truth.json             optional: closest_margin_mm, patient_id
    Each phantom is its own patient, "<ROOT folder name>/<case folder>", unless truth.json names one.

A folder of volumes (one sub-folder per case; either form)::

    ROOT/CASE/ct.nii.gz          CT in HU
    ROOT/CASE/pet.nii.gz         PET in Bq/ml (or SUV: set "pet_units": "suv" in case.json)
    ROOT/CASE/tumour_mask.nii.gz on the CT grid (same shape and affine as ct.nii.gz)
    ROOT/CASE/specimen_mask.nii.gz   optional, on the CT grid
    ROOT/CASE/case.json          optional: {"patient_id": "...", "suv_factor": 0.0012 (Bq/ml -> SUV),
                                 "pet_units": "bqml" | "suv", "closest_margin_mm": 0.5}
or
    ROOT/CASE/ct/ and ROOT/CASE/pet/   DICOM series (SUV from the DICOM header when possible)
    ROOT/CASE/tumour_mask.nii.gz       on the CT grid; case.json / specimen_mask.nii.gz as above

Without a patient id in case.json, DICOM cases are grouped by their de-identified PatientID and
NIfTI cases are each their own patient (the folder name): cases of one patient MUST share a patient
id, or cross-validation would leak that patient between folds.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel
import numpy as np

from cases.imaging.resample import resample, working_grid
from cases.imaging.volume import LPS_TO_RAS, Grid, Volume
from inference.engine.config import PreprocessConfig
from training.loop.data import TrainingCase
from training.loop.validation import TrainingInputError, check_mask_geometry, check_readable_folder

PATIENT_KEYS = ("patient_id", "patient", "patient_code")
MARGIN_KEYS = ("closest_margin_mm", "closest_mm", "margin_mm")


def read_nifti(*, path: Path) -> Volume:
    """A NIfTI file as a Volume indexed [k, j, i] with its LPS grid (NIfTI stores i fastest, in RAS)."""
    image = nibabel.load(str(path))
    data = np.asanyarray(image.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise TrainingInputError(f"{path} is not a 3D volume (shape {data.shape})")
    array = np.ascontiguousarray(data.transpose(2, 1, 0))
    affine = LPS_TO_RAS @ np.asarray(image.affine, dtype=float)  # the RAS<->LPS flip is its own inverse
    spacing_ijk = np.linalg.norm(affine[:3, :3], axis=0)
    direction = affine[:3, :3] / spacing_ijk
    grid = Grid(
        shape=tuple(int(n) for n in array.shape),
        spacing=tuple(float(s) for s in spacing_ijk[::-1]),
        origin=tuple(float(o) for o in affine[:3, 3]),
        direction=tuple(tuple(float(v) for v in row) for row in direction),
    )
    return Volume(array=array, grid=grid)


def _first(data: dict, keys: tuple[str, ...]):
    for key in keys:
        if data.get(key) is not None:
            return data[key]
    return None


def _closest_margin(truth: dict) -> float | None:
    value = _first(truth, MARGIN_KEYS)
    if value is None and isinstance(truth.get("margin"), dict):
        value = _first(truth["margin"], MARGIN_KEYS)
    return None if value is None else float(value)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def _mask_on_working_grid(
    *, case_id: str, path: Path, image_grid: Grid, working: Grid, what: str
) -> np.ndarray:
    mask = read_nifti(path=path)
    check_mask_geometry(case_id=case_id, mask_grid=mask.grid, image_grid=image_grid, what=what)
    binary = Volume(array=(mask.array > 0).astype(np.uint8), grid=mask.grid)
    return resample(volume=binary, grid=working, order=0, fill=0).array


def load_dicom_study(*, case_dir: Path, config: PreprocessConfig, deid_secret: str):
    """The one PET/CT study in ``case_dir`` through the product's ingest, on the working grid."""
    from cases.imaging.errors import IngestError
    from cases.imaging.study import load_studies

    try:
        studies = load_studies(
            path=case_dir, working_spacing_mm=config.working_spacing_mm, deid_secret=deid_secret
        )
    except IngestError as error:
        raise TrainingInputError(f"case {case_dir.name!r}: {getattr(error, 'message', error)}") from error
    if len(studies) != 1:
        raise TrainingInputError(f"case {case_dir.name!r}: expected one PET/CT study, found {len(studies)}")
    return studies[0]


def training_case_from_study(
    *,
    study,
    case_dir: Path,
    patient_id: str,
    tumour_mask: np.ndarray,
    specimen_mask: np.ndarray | None,
    truth_closest_margin_mm: float | None,
) -> TrainingCase:
    """A TrainingCase from an ingested study (``load_dicom_study``) and labels on its working grid."""
    return TrainingCase(
        case_id=case_dir.name,
        patient_id=patient_id,
        tumour_mask=tumour_mask,
        spacing=study.ct_working.grid.spacing,
        ct_hu=study.ct_working.array.astype(np.float32, copy=False),
        pet=study.pet_working.array.astype(np.float32, copy=False),
        suv_factor=study.suv.factor,
        specimen_mask=specimen_mask,
        truth_closest_margin_mm=truth_closest_margin_mm,
        grid=study.ct_working.grid,
        source=str(case_dir),
    )


def _case_from_dicom(
    *,
    case_dir: Path,
    mask_dir: Path,
    info: dict,
    config: PreprocessConfig,
    deid_secret: str,
    default_patient: str | None = None,
) -> TrainingCase:
    study = load_dicom_study(case_dir=case_dir, config=config, deid_secret=deid_secret)
    working = study.ct_working.grid
    tumour = _mask_on_working_grid(
        case_id=case_dir.name,
        path=mask_dir / "tumour_mask.nii.gz",
        image_grid=study.ct_acquired,
        working=working,
        what="tumour mask",
    )
    specimen_path = mask_dir / "specimen_mask.nii.gz"
    specimen = (
        _mask_on_working_grid(
            case_id=case_dir.name,
            path=specimen_path,
            image_grid=study.ct_acquired,
            working=working,
            what="specimen mask",
        )
        if specimen_path.is_file()
        else None
    )
    # Grouping key: an explicit id, else the given default, else the de-identified DICOM PatientID.
    patient = _first(info, PATIENT_KEYS) or default_patient or study.patient_key or case_dir.name
    return training_case_from_study(study=study, case_dir=case_dir, patient_id=str(patient), tumour_mask=tumour,
                                    specimen_mask=specimen, truth_closest_margin_mm=_closest_margin(info))


def _case_from_nifti(*, case_dir: Path, info: dict, config: PreprocessConfig) -> TrainingCase:
    ct = read_nifti(path=case_dir / "ct.nii.gz")
    pet = read_nifti(path=case_dir / "pet.nii.gz")
    working = working_grid(reference=ct.grid, spacing_mm=config.working_spacing_mm)
    units = str(info.get("pet_units", "bqml")).lower()
    if units not in ("bqml", "suv"):
        raise TrainingInputError(f"case {case_dir.name!r}: pet_units must be 'bqml' or 'suv', got {units!r}")
    suv_factor = 1.0 if units == "suv" else info.get("suv_factor")

    def mask(name: str, what: str) -> np.ndarray | None:
        path = case_dir / name
        if not path.is_file():
            return None
        return _mask_on_working_grid(
            case_id=case_dir.name, path=path, image_grid=ct.grid, working=working, what=what
        )

    return TrainingCase(
        case_id=case_dir.name,
        patient_id=str(_first(info, PATIENT_KEYS) or case_dir.name),
        tumour_mask=mask("tumour_mask.nii.gz", "tumour mask"),
        spacing=working.spacing,
        ct_hu=resample(volume=ct, grid=working, order=1, fill=-1000.0).array,
        pet=resample(volume=pet, grid=working, order=1, fill=0.0).array,
        suv_factor=None if suv_factor is None else float(suv_factor),
        specimen_mask=mask("specimen_mask.nii.gz", "specimen mask"),
        truth_closest_margin_mm=_closest_margin(info),
        grid=working,
        source=str(case_dir),
    )


def _case_dirs(path: Path, *, limit: int | None) -> list[Path]:
    dirs = sorted(p for p in Path(path).iterdir() if p.is_dir() and not p.name.startswith("."))
    return dirs[:limit] if limit is not None else dirs


def cases_from_phantoms(
    *,
    path: Path,
    config: PreprocessConfig,
    deid_secret: str = "petctweb-training",
    limit: int | None = None,
    check_files: bool = True,
) -> list[TrainingCase]:
    """Generated phantom cases (DICOM read through the product's ingestion), masks on the working grid."""
    path = Path(path)
    if check_files:
        check_readable_folder(path=path)
    case_dirs = [d for d in _case_dirs(path, limit=None) if (d / "truth" / "tumour_mask.nii.gz").is_file()]
    case_dirs = case_dirs[:limit] if limit is not None else case_dirs
    if not case_dirs:
        raise TrainingInputError(f"no phantom cases (case folders with truth/tumour_mask.nii.gz) in {path}")
    return [
        _case_from_dicom(
            case_dir=case_dir,
            mask_dir=case_dir / "truth",
            info=_read_json(case_dir / "truth" / "truth.json"),
            config=config,
            deid_secret=deid_secret,
            # Every phantom is its own synthetic patient; PatientIDs restart at each generated batch,
            # so the batch folder's name is part of the id (train and test batches never collide).
            default_patient=f"{path.resolve().name}/{case_dir.name}",
        )
        for case_dir in case_dirs
    ]


def cases_from_folder(
    *,
    path: Path,
    config: PreprocessConfig,
    deid_secret: str = "petctweb-training",
    limit: int | None = None,
    check_files: bool = True,
) -> list[TrainingCase]:
    """Cases from a folder of NIfTI or DICOM volumes with masks (layout in the module docstring)."""
    path = Path(path)
    if check_files:
        check_readable_folder(path=path)
    cases, problems = [], []
    for case_dir in _case_dirs(path, limit=limit):
        info = _read_json(case_dir / "case.json")
        if (case_dir / "truth" / "tumour_mask.nii.gz").is_file():  # a phantom folder is fine too
            cases.append(
                _case_from_dicom(
                    case_dir=case_dir,
                    mask_dir=case_dir / "truth",
                    info=info or _read_json(case_dir / "truth" / "truth.json"),
                    config=config,
                    deid_secret=deid_secret,
                )
            )
        elif not (case_dir / "tumour_mask.nii.gz").is_file():
            problems.append(f"{case_dir.name}: no tumour_mask.nii.gz")
        elif (case_dir / "ct.nii.gz").is_file() and (case_dir / "pet.nii.gz").is_file():
            cases.append(_case_from_nifti(case_dir=case_dir, info=info, config=config))
        elif (case_dir / "ct").is_dir() and (case_dir / "pet").is_dir():
            cases.append(
                _case_from_dicom(
                    case_dir=case_dir, mask_dir=case_dir, info=info, config=config, deid_secret=deid_secret
                )
            )
        else:
            problems.append(f"{case_dir.name}: neither ct.nii.gz + pet.nii.gz nor ct/ + pet/ DICOM folders")
    if problems:
        raise TrainingInputError(f"cannot read cases in {path}:\n- " + "\n- ".join(problems))
    if not cases:
        raise TrainingInputError(f"no cases in {path}")
    return cases


def cases_from_data(*, path: Path, config: PreprocessConfig) -> list[TrainingCase]:
    """A ``make_phantoms`` batch (it has a manifest.json) or a folder of cases with masks."""
    if (Path(path) / "manifest.json").is_file():
        return cases_from_phantoms(path=path, config=config)
    return cases_from_folder(path=path, config=config)
