"""Small synthetic CT and PET DICOM series for the imaging tests.

``values`` are the *rescaled* values (HU, Bq/ml) on the grid [k, j, i]; the factory picks
stored integers and per-slice RescaleSlope so the round trip is exact for integers (CT) and
within 1/30000 of the slice maximum (PET). Geometry: slice k sits at
``origin + k * sz * (row x col)``, PixelSpacing = [sy, sx].
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    PositronEmissionTomographyImageStorage,
    generate_uid,
)

PATIENT_ID = "MRN-12345"
PATIENT_NAME = "Doe^Jane"


def linear_values(
    *,
    shape: tuple[int, int, int],
    spacing: tuple[float, float, float],
    origin: Sequence[float],
    row: Sequence[float] = (1, 0, 0),
    col: Sequence[float] = (0, 1, 0),
    coefficients: Sequence[float] = (1.0, 2.0, 3.0),
    constant: float = 0.0,
) -> np.ndarray:
    """Values a*x + b*y + c*z + d at each voxel's patient position (for analytic resampling tests)."""
    row, col = np.asarray(row, float), np.asarray(col, float)
    normal = np.cross(row, col)
    k, j, i = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    sz, sy, sx = spacing
    xyz = (
        np.asarray(origin, float)
        + i[..., None] * sx * row
        + j[..., None] * sy * col
        + k[..., None] * sz * normal
    )
    return (xyz @ np.asarray(coefficients, float) + constant).astype(np.float64)


def make_series(
    *,
    modality: str,
    shape: tuple[int, int, int] = (6, 8, 10),
    spacing: tuple[float, float, float] = (1.0, 0.5, 0.5),
    origin: Sequence[float] = (-2.0, -3.0, 10.0),
    row: Sequence[float] = (1.0, 0.0, 0.0),
    col: Sequence[float] = (0.0, 1.0, 0.0),
    values: np.ndarray | Callable[[tuple[int, int, int]], np.ndarray] | None = None,
    study_uid: str | None = None,
    series_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    patient_id: str = PATIENT_ID,
    patient_name: str = PATIENT_NAME,
    series_number: int = 1,
    description: str = "",
    intercept: float = 0.0,
    per_slice_slope: bool = False,
    extra: dict | None = None,
    positions: Sequence[float] | None = None,
) -> list[Dataset]:
    """One single-frame dataset per slice, with plausible identifying headers to de-identify."""
    shape = tuple(int(n) for n in shape)
    if values is None:
        values = np.zeros(shape)
    elif callable(values):
        values = values(shape)
    values = np.asarray(values, dtype=float)
    assert values.shape == shape
    study_uid = study_uid or generate_uid()
    series_uid = series_uid or generate_uid()
    frame_of_reference_uid = frame_of_reference_uid or generate_uid()
    row, col = np.asarray(row, float), np.asarray(col, float)
    normal = np.cross(row, col)
    sz, sy, sx = spacing
    positions = list(positions) if positions is not None else [k * sz for k in range(shape[0])]
    sop_class = CTImageStorage if modality == "CT" else PositronEmissionTomographyImageStorage
    datasets = []
    for k, position in enumerate(positions):
        plane = values[k] - intercept
        if per_slice_slope:
            slope = max(float(np.abs(plane).max()), 1e-6) / 30000.0
        else:
            slope = 1.0
        stored = np.rint(plane / slope).astype(np.int16)
        ds = Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.file_meta.MediaStorageSOPClassUID = sop_class
        ds.SOPClassUID = sop_class
        ds.SOPInstanceUID = generate_uid()
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.Modality = modality
        ds.PatientName = patient_name
        ds.PatientID = patient_id
        ds.PatientBirthDate = "19650412"
        ds.PatientSex = "F"
        ds.PatientAge = "059Y"
        ds.OtherPatientIDs = "OTHER-9"
        ds.AccessionNumber = "ACC-777"
        ds.InstitutionName = "General Hospital"
        ds.InstitutionAddress = "1 Main Street"
        ds.ReferringPhysicianName = "Who^Doctor"
        ds.OperatorsName = "Tech^Tina"
        ds.PerformingPhysicianName = "Surgeon^Sam"
        ds.StationName = "MICROPET01"
        ds.DeviceSerialNumber = "SN-42"
        ds.StudyID = "S1"
        ds.Manufacturer = "MOLECUBES"
        ds.ManufacturerModelName = "X-CUBE" if modality == "CT" else "beta-CUBE"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_of_reference_uid
        ds.StudyDate = "20240315"
        ds.SeriesDate = "20240315"
        ds.AcquisitionDate = "20240315"
        ds.ContentDate = "20240315"
        ds.StudyTime = "100000"
        ds.SeriesTime = "100000"
        ds.AcquisitionTime = "100000"
        ds.StudyDescription = "Lumpectomy specimen"
        ds.SeriesDescription = description or f"{modality} specimen"
        ds.SeriesNumber = series_number
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [float(v) for v in np.asarray(origin, float) + position * normal]
        ds.ImageOrientationPatient = [float(v) for v in (*row, *col)]
        ds.PixelSpacing = [sy, sx]
        ds.SliceThickness = sz
        ds.Rows, ds.Columns = shape[1], shape[2]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope = f"{slope:.10g}"
        ds.RescaleIntercept = intercept
        ds.PixelData = stored.tobytes()
        for keyword, value in (extra or {}).items():
            setattr(ds, keyword, value)
        datasets.append(ds)
    return datasets


def make_ct_series(**kwargs) -> list[Dataset]:
    kwargs.setdefault("intercept", -1024.0)
    return make_series(modality="CT", **kwargs)


def radiopharmaceutical(
    *,
    dose_bq: float | None = 370e6,
    half_life_s: float | None = 6586.2,
    start_time: str | None = "090000",
    start_datetime: str | None = None,
) -> DicomSequence:
    item = Dataset()
    item.Radiopharmaceutical = "Fluorodeoxyglucose"
    if dose_bq is not None:
        item.RadionuclideTotalDose = dose_bq
    if half_life_s is not None:
        item.RadionuclideHalfLife = half_life_s
    if start_time is not None:
        item.RadiopharmaceuticalStartTime = start_time
    if start_datetime is not None:
        item.RadiopharmaceuticalStartDateTime = start_datetime
    code = Dataset()
    code.CodeValue = "C-111A1"
    code.CodingSchemeDesignator = "SRT"
    code.CodeMeaning = "^18^Fluorine"
    item.RadionuclideCodeSequence = DicomSequence([code])
    return DicomSequence([item])


def pet_headers(
    *, units: str = "BQML", decay: str = "START", weight: float | None = 70.0, **radio: object
) -> dict:
    headers = {
        "Units": units,
        "DecayCorrection": decay,
        "CorrectedImage": ["DECY", "ATTN"],
        "RadiopharmaceuticalInformationSequence": radiopharmaceutical(**radio),
    }
    if weight is not None:
        headers["PatientWeight"] = weight
    return headers


def make_pet_series(*, pet: dict | None = None, extra: dict | None = None, **kwargs) -> list[Dataset]:
    """PET slices with ``pet`` headers (default :func:`pet_headers`) plus any ``extra`` ones."""
    kwargs.setdefault("per_slice_slope", True)
    headers = {**(pet if pet is not None else pet_headers()), **(extra or {})}
    return make_series(modality="PT", extra=headers, **kwargs)


def write_series(
    datasets: Sequence[Dataset], folder: Path, *, prefix: str = "IM", compress: str | None = None
) -> list[Path]:
    """Write each dataset as ``folder/prefixNNNN`` (optionally compressed with a pydicom encoder UID)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, ds in enumerate(datasets):
        if compress is not None:
            ds = copy.deepcopy(ds)  # compress() rewrites file_meta, which a shallow copy shares
            ds.compress(compress, generate_instance_uid=False)
        path = folder / f"{prefix}{index:04d}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def write_pair(
    folder: Path,
    *,
    ct_kwargs: dict | None = None,
    pet_kwargs: dict | None = None,
    study_uid: str | None = None,
) -> tuple[list[Dataset], list[Dataset]]:
    """A CT and a PET series of one study written under folder/CT and folder/PET."""
    study_uid = study_uid or generate_uid()
    frame = generate_uid()
    ct = make_ct_series(study_uid=study_uid, frame_of_reference_uid=frame, **(ct_kwargs or {}))
    pet = make_pet_series(
        study_uid=study_uid, frame_of_reference_uid=frame, series_number=2, **(pet_kwargs or {})
    )
    write_series(ct, folder / "CT", prefix="CT")
    write_series(pet, folder / "PET", prefix="PT")
    return ct, pet
