"""The de-identified metadata we store for a study (built from headers already de-identified)."""

from __future__ import annotations

from collections.abc import Iterable

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from .dicomtime import parse_date


def _plain(value: object) -> object:
    """pydicom value -> JSON-friendly Python."""
    if value is None or value == "":
        return None
    if isinstance(value, MultiValue | list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, int | float):
        return value if isinstance(value, int) and not isinstance(value, bool) else float(value)
    return str(value)


def _get(dataset: Dataset, keyword: str) -> object:
    return _plain(dataset.get(keyword))


def _series_metadata(header: Dataset, extra: Iterable[str]) -> dict:
    keywords = [
        "SeriesInstanceUID",
        "SeriesNumber",
        "SeriesDescription",
        "Modality",
        "Manufacturer",
        "ManufacturerModelName",
        "SoftwareVersions",
        "FrameOfReferenceUID",
        "SliceThickness",
        "ProtocolName",
        "BodyPartExamined",
        "ConvolutionKernel",
        *extra,
    ]
    return {keyword: _get(header, keyword) for keyword in keywords}


def _iso(value: object) -> str | None:
    day = parse_date(value=value)
    return day.isoformat() if day else None


def study_metadata(*, ct: Dataset, pet: Dataset) -> dict:
    """The metadata we store for a study, from DE-IDENTIFIED CT and PET headers (no PHI left to leak)."""
    if str(ct.get("PatientIdentityRemoved", "")).upper() != "YES":
        raise ValueError("study_metadata expects de-identified headers (PatientIdentityRemoved=YES)")
    radiopharmaceutical: dict = {}
    sequence = pet.get("RadiopharmaceuticalInformationSequence")
    if sequence:
        info = sequence[0]
        nuclide = info.get("RadionuclideCodeSequence")
        radiopharmaceutical = {
            "Radiopharmaceutical": _get(info, "Radiopharmaceutical"),
            "Radionuclide": _plain(nuclide[0].get("CodeMeaning")) if nuclide else None,
            "RadionuclideHalfLife": _get(info, "RadionuclideHalfLife"),
            "RadionuclideTotalDose": _get(info, "RadionuclideTotalDose"),
        }
    return {
        "StudyInstanceUID": _get(ct, "StudyInstanceUID"),
        "StudyDate": _iso(ct.get("StudyDate") or pet.get("StudyDate")),
        "StudyDescription": _get(ct, "StudyDescription"),
        "PatientID": _get(ct, "PatientID"),  # the case code
        "PatientSex": _get(ct, "PatientSex"),
        "PatientAge": _get(ct, "PatientAge"),
        "PatientWeight": _get(pet, "PatientWeight"),
        "Modalities": sorted({str(ct.get("Modality", "")), str(pet.get("Modality", ""))} - {""}),
        "CT": _series_metadata(ct, ["KVP", "XRayTubeCurrent", "Exposure"]),
        "PET": {
            **_series_metadata(
                pet,
                ["Units", "DecayCorrection", "CorrectedImage", "ReconstructionMethod", "ActualFrameDuration"],
            ),
            **radiopharmaceutical,
        },
        "Deidentification": {
            "PatientIdentityRemoved": _get(ct, "PatientIdentityRemoved"),
            "DeidentificationMethod": _get(ct, "DeidentificationMethod"),
            "DatesShifted": True,
        },
    }
