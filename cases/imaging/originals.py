"""The original identifiers of a study, read before de-identification replaces them.

They are what results sent back to PACS must carry to land with the patient's own study; the
caller keeps them only in the encrypted re-identification store (``cases.reidentification``).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydicom.dataset import Dataset

from .reading import header_text

PATIENT_AND_STUDY = {  # payload key -> DICOM keyword, study-level attributes copied onto what is sent
    "patient_id": "PatientID",
    "patient_name": "PatientName",
    "patient_birth_date": "PatientBirthDate",
    "patient_sex": "PatientSex",
    "study_uid": "StudyInstanceUID",
    "study_id": "StudyID",
    "study_date": "StudyDate",
    "study_time": "StudyTime",
    "accession_number": "AccessionNumber",
    "referring_physician_name": "ReferringPhysicianName",
}


def original_identifiers(*, ct_headers: Sequence[Dataset], pet_header: Dataset) -> dict:
    """Patient and study identifiers, series UIDs and every CT SOPInstanceUID (in ``ct_headers`` order)."""
    first = ct_headers[0]
    return {
        **{key: _text(first, keyword) for key, keyword in PATIENT_AND_STUDY.items()},
        "ct_series_uid": _text(first, "SeriesInstanceUID"),
        "pet_series_uid": _text(pet_header, "SeriesInstanceUID"),
        "frame_of_reference_uid": _text(first, "FrameOfReferenceUID"),
        "ct_instance_uids": [header_text(header, "SOPInstanceUID") for header in ct_headers],
    }


def _text(header: Dataset, keyword: str) -> str:
    value = header.get(keyword)
    return "" if value is None else str(value)
