"""Writing the CT and PET series as genuine single-frame DICOM files.

CT Image Storage and PET Image Storage, one file per slice, explicit VR little endian
with a proper file meta header. Both series share the StudyInstanceUID and the
FrameOfReferenceUID. UIDs are ``2.25`` UUID-derived UIDs hashed from the case seed, and
all dates and times come from the seed, so the bytes depend on nothing but the seed.
Patient-identifying attributes are synthetic but PHI-like (name, IDs, birth date,
accession number, institution, physicians), so de-identification has something to remove.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    PositronEmissionTomographyImageStorage,
)

from cases.imaging.volume import Grid
from cases.phantoms.config import F18_POSITRON_FRACTION, RADIOPHARMACEUTICAL
from cases.phantoms.fields import check_axis_aligned
from cases.phantoms.pet import PET_MAX_STORED, PetCalibration, format_ds

CT_SOP_CLASS = CTImageStorage  # 1.2.840.10008.5.1.4.1.1.2
PET_SOP_CLASS = PositronEmissionTomographyImageStorage  # 1.2.840.10008.5.1.4.1.1.128
IMPLEMENTATION_VERSION = "PETCTWEB_PHANTOM"

PerSlice = Callable[[Dataset, int], list[str]]  # sets per-slice elements, returns their keywords


_UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "petctweb:phantom-generator")


def seeded_uid(*parts: object) -> str:
    """Deterministic UUID-derived UID ``2.25.<int>`` (PS3.5 B.2) from the given parts."""
    name = "|".join(str(p) for p in parts)
    return f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}"


def dicom_date(value: datetime) -> str:
    return value.strftime("%Y%m%d")


def dicom_time(value: datetime) -> str:
    return value.strftime("%H%M%S.%f")


@dataclass(frozen=True)
class StudyInfo:
    """Patient and study attributes shared by both series."""

    case_number: int
    seed: int
    study_uid: str
    frame_of_reference_uid: str
    study_time: datetime
    patient_birth_date: str
    patient_weight_kg: float
    accession_number: str
    institution_name: str
    referring_physician: str
    operator_name: str
    laterality: str = "L"

    @property
    def patient_name(self) -> str:
        return f"PHANTOM^{self.case_number:04d}"

    @property
    def patient_id(self) -> str:
        return f"PHANTOM-{self.case_number:04d}"

    def to_dict(self) -> dict:
        return {
            "patient_name": self.patient_name,
            "patient_id": self.patient_id,
            "patient_birth_date": self.patient_birth_date,
            "accession_number": self.accession_number,
            "institution_name": self.institution_name,
            "study_instance_uid": self.study_uid,
            "frame_of_reference_uid": self.frame_of_reference_uid,
            "study_datetime": self.study_time.isoformat(),
        }


def _ds_list(values) -> list[str]:
    return [format_ds(float(v)) for v in values]


def _base_dataset(
    *,
    study: StudyInfo,
    sop_class: str,
    series_uid: str,
    series_number: int,
    series_time: datetime,
    grid: Grid,
    description: str,
    modality: str,
) -> Dataset:
    check_axis_aligned(grid)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = "1.2"  # replaced per slice
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationVersionName = IMPLEMENTATION_VERSION

    ds = Dataset()
    ds.file_meta = meta
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = "1.2"
    ds.StudyDate = dicom_date(study.study_time)
    ds.StudyTime = dicom_time(study.study_time)
    ds.SeriesDate = dicom_date(series_time)
    ds.SeriesTime = dicom_time(series_time)
    ds.AcquisitionDate = dicom_date(series_time)
    ds.AcquisitionTime = dicom_time(series_time)
    ds.ContentDate = dicom_date(series_time)
    ds.ContentTime = dicom_time(series_time)
    ds.AccessionNumber = study.accession_number
    ds.Modality = modality
    ds.Manufacturer = "PETCTWEB"
    ds.InstitutionName = study.institution_name
    ds.InstitutionAddress = "1 Example Street, Synthetic City"
    ds.ReferringPhysicianName = study.referring_physician
    ds.StationName = "BENCHTOP-SIM"
    ds.StudyDescription = "Lumpectomy specimen micro-PET-CT (synthetic phantom)"
    ds.SeriesDescription = description
    ds.OperatorsName = study.operator_name
    ds.ManufacturerModelName = "petctweb phantom generator"
    ds.PatientName = study.patient_name
    ds.PatientID = study.patient_id
    ds.PatientBirthDate = study.patient_birth_date
    ds.PatientSex = "F"
    ds.PatientAge = f"{int(study.study_time.year) - int(study.patient_birth_date[:4]):03d}Y"
    ds.PatientWeight = format_ds(study.patient_weight_kg)
    ds.BodyPartExamined = "BREAST"
    ds.Laterality = study.laterality
    ds.PatientPosition = "HFS"
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = f"{study.case_number:04d}"
    ds.SeriesNumber = series_number
    ds.AcquisitionNumber = 1
    ds.InstanceNumber = 1
    ds.FrameOfReferenceUID = study.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.ImageOrientationPatient = _ds_list([1, 0, 0, 0, 1, 0])
    sz, sy, sx = grid.spacing
    ds.PixelSpacing = _ds_list([sy, sx])  # row spacing, column spacing
    ds.SliceThickness = format_ds(sz)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = grid.shape[1]
    ds.Columns = grid.shape[2]
    ds.BitsAllocated = 16
    ds.BitsStored = 16
    ds.HighBit = 15
    return ds


class SliceEncoder:
    """Encodes single-frame files of one series quickly.

    The elements that are the same in every slice are encoded once; per slice only the
    varying elements and the file meta are encoded, and all are joined in tag order. The
    bytes equal what ``Dataset.save_as(..., enforce_file_format=True)`` writes (tested).
    """

    def __init__(self, template: Dataset, *, varying: tuple[str, ...]) -> None:
        from pydicom.datadict import tag_for_keyword

        self.template = template
        self.varying = {int(tag_for_keyword(k)) for k in varying}
        self.constant = {
            int(elem.tag): self._encode([elem]) for elem in template if int(elem.tag) not in self.varying
        }

    @staticmethod
    def _encode(elements: list[DataElement]) -> bytes:
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_dataset

        single = Dataset()
        for elem in elements:
            single.add(elem)
        fp = DicomBytesIO()
        fp.is_little_endian = True
        fp.is_implicit_VR = False
        write_dataset(fp, single)
        return fp.getvalue()

    def encode(self, elements: list[DataElement]) -> bytes:
        from pydicom.filebase import DicomBytesIO
        from pydicom.filewriter import write_file_meta_info

        parts = dict(self.constant)
        for elem in elements:
            parts[int(elem.tag)] = self._encode([elem])
        meta = FileMetaDataset()
        for elem in self.template.file_meta:
            meta.add(elem)
        sop_uid = next(e.value for e in elements if e.keyword == "SOPInstanceUID")
        meta.MediaStorageSOPInstanceUID = sop_uid
        fp = DicomBytesIO()
        fp.is_little_endian = True
        fp.is_implicit_VR = False
        fp.write(b"\x00" * 128 + b"DICM")
        write_file_meta_info(fp, meta, enforce_standard=True)
        return fp.getvalue() + b"".join(parts[tag] for tag in sorted(parts))


_VARYING = ("SOPInstanceUID", "InstanceNumber", "ImagePositionPatient", "SliceLocation", "PixelData")


def slice_elements(
    *,
    ds: Dataset,
    stored: np.ndarray,
    grid: Grid,
    k: int,
    uid_parts: tuple,
    per_slice: PerSlice | None = None,
) -> list:
    """Set the per-slice elements of ``ds`` for slice ``k`` and return them (DataElements)."""
    ox, oy, oz = grid.origin
    uid = seeded_uid(*uid_parts, k)
    ds.SOPInstanceUID = uid
    ds.file_meta.MediaStorageSOPInstanceUID = uid
    ds.InstanceNumber = k + 1
    z = oz + k * grid.spacing[0]
    ds.ImagePositionPatient = _ds_list([ox, oy, z])
    ds.SliceLocation = format_ds(z)
    keywords = list(_VARYING)
    if per_slice is not None:
        keywords += per_slice(ds, k)
    ds.PixelData = np.ascontiguousarray(stored[k]).astype(stored.dtype.newbyteorder("<")).tobytes()
    ds["PixelData"].VR = "OW"
    return [ds[kw] for kw in keywords]


def _write_slices(
    *,
    ds: Dataset,
    stored: np.ndarray,
    grid: Grid,
    out_dir: Path,
    prefix: str,
    uid_parts: tuple,
    per_slice: PerSlice | None = None,
) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    encoder = None
    for k in range(stored.shape[0]):
        elements = slice_elements(
            ds=ds, stored=stored, grid=grid, k=k, uid_parts=uid_parts, per_slice=per_slice
        )
        if encoder is None:
            encoder = SliceEncoder(ds, varying=tuple(e.keyword for e in elements))
        path = out_dir / f"{prefix}{k + 1:04d}.dcm"
        path.write_bytes(encoder.encode(elements))
        paths.append(path)
    return paths


def write_ct_series(
    *,
    study: StudyInfo,
    stored: np.ndarray,
    grid: Grid,
    series_time: datetime,
    out_dir: Path,
    kvp: float = 50.0,
) -> list[Path]:
    """CT slices from uint16 stored values (HU = stored - 1024)."""
    if stored.dtype != np.uint16:
        raise TypeError("CT stored values must be uint16")
    series_uid = seeded_uid(study.seed, study.case_number, "ct-series")
    ds = _base_dataset(
        study=study,
        sop_class=CT_SOP_CLASS,
        series_uid=series_uid,
        series_number=1,
        series_time=series_time,
        grid=grid,
        description="Specimen CT",
        modality="CT",
    )
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PixelRepresentation = 0
    ds.RescaleIntercept = "-1024"
    ds.RescaleSlope = "1"
    ds.RescaleType = "HU"
    ds.KVP = format_ds(kvp)
    ds.XRayTubeCurrent = 200
    ds.ConvolutionKernel = "STANDARD"
    ds.WindowCenter = "40"
    ds.WindowWidth = "400"
    return _write_slices(
        ds=ds,
        stored=stored,
        grid=grid,
        out_dir=out_dir,
        prefix="CT",
        uid_parts=(study.seed, study.case_number, "ct"),
    )


def write_pet_series(
    *,
    study: StudyInfo,
    stored: np.ndarray,
    slopes: list[str],
    grid: Grid,
    calibration: PetCalibration,
    frame_duration_s: float,
    out_dir: Path,
) -> list[Path]:
    """PET slices from int16 stored values with per-slice RescaleSlope (Bq/ml, START)."""
    if stored.dtype != np.int16:
        raise TypeError("PET stored values must be int16")
    series_time = calibration.series_time
    series_uid = seeded_uid(study.seed, study.case_number, "pet-series")
    ds = _base_dataset(
        study=study,
        sop_class=PET_SOP_CLASS,
        series_uid=series_uid,
        series_number=2,
        series_time=series_time,
        grid=grid,
        description="Specimen FDG PET",
        modality="PT",
    )
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.PixelRepresentation = 1
    ds.RescaleIntercept = "0"
    ds.RescaleSlope = "1"  # per slice below
    ds.Units = "BQML"
    ds.CountsSource = "EMISSION"
    ds.SeriesType = ["STATIC", "IMAGE"]
    ds.CorrectedImage = ["DECY", "ATTN", "SCAT", "DTIM", "RAN", "NORM"]
    ds.DecayCorrection = "START"
    ds.RandomsCorrectionMethod = "DLYD"
    ds.AttenuationCorrectionMethod = "CT-based"
    ds.ScatterCorrectionMethod = "single scatter simulation"
    ds.ReconstructionMethod = "OSEM 3D"
    ds.CollimatorType = "NONE"
    ds.NumberOfSlices = stored.shape[0]
    ds.ActualFrameDuration = int(round(frame_duration_s * 1000))
    lam = np.log(2.0) / calibration.half_life_s
    # decay during the frame: factor that corrects frame-average activity to the frame start
    decay_factor = lam * frame_duration_s / (1.0 - np.exp(-lam * frame_duration_s))
    ds.DecayFactor = format_ds(decay_factor)
    ds.FrameReferenceTime = format_ds(1000.0 * np.log(decay_factor) / lam)
    ds.DoseCalibrationFactor = "1"
    inj = calibration.injection_time
    item = Dataset()
    item.Radiopharmaceutical = RADIOPHARMACEUTICAL
    item.RadiopharmaceuticalStartTime = dicom_time(inj)
    item.RadiopharmaceuticalStartDateTime = inj.strftime("%Y%m%d%H%M%S.%f")
    item.RadionuclideTotalDose = format_ds(calibration.injected_dose_bq)
    item.RadionuclideHalfLife = format_ds(calibration.half_life_s)
    item.RadionuclidePositronFraction = format_ds(F18_POSITRON_FRACTION)
    nuclide = Dataset()
    nuclide.CodeValue = "C-111A1"
    nuclide.CodingSchemeDesignator = "SRT"
    nuclide.CodeMeaning = "^18^Fluorine"
    item.RadionuclideCodeSequence = Sequence([nuclide])
    drug = Dataset()
    drug.CodeValue = "C-B1031"
    drug.CodingSchemeDesignator = "SRT"
    drug.CodeMeaning = "Fluorodeoxyglucose F^18^"
    item.RadiopharmaceuticalCodeSequence = Sequence([drug])
    ds.RadiopharmaceuticalInformationSequence = Sequence([item])

    def per_slice(d: Dataset, k: int) -> list[str]:
        d.RescaleSlope = slopes[k]
        d.ImageIndex = k + 1
        d.LargestImagePixelValue = int(stored[k].max())
        d.SmallestImagePixelValue = int(stored[k].min())
        return ["RescaleSlope", "ImageIndex", "LargestImagePixelValue", "SmallestImagePixelValue"]

    ds.add_new(0x00280106, "SS", 0)  # SmallestImagePixelValue, VR fixed for signed data
    ds.add_new(0x00280107, "SS", PET_MAX_STORED)  # LargestImagePixelValue
    return _write_slices(
        ds=ds,
        stored=stored,
        grid=grid,
        out_dir=out_dir,
        prefix="PT",
        uid_parts=(study.seed, study.case_number, "pet"),
        per_slice=per_slice,
    )
