"""De-identification: PHI gone, UIDs remapped consistently, dates shifted per patient."""

from __future__ import annotations

import json
from datetime import date

import pytest
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence

from cases.imaging.deid import (
    date_offset_days,
    deidentify_dataset,
    patient_key,
    remap_uid,
    study_metadata,
)

from .dicom_factory import PATIENT_ID, make_ct_series, make_pet_series, pet_headers

SECRET = "test-secret"
PHI = [
    "Doe",
    PATIENT_ID,
    "19650412",
    "OTHER-9",
    "ACC-777",
    "General Hospital",
    "Main Street",
    "Who^Doctor",
    "Tech^Tina",
    "Surgeon^Sam",
    "MICROPET01",
    "SN-42",
    "Nurse^Nina",
]


def _strings(dataset: Dataset) -> list[str]:
    """Every value in the dataset (nested ones too) as text."""
    out = []
    for element in dataset.iterall():
        if element.VR == "SQ":
            continue
        value = element.value
        values = list(value) if isinstance(value, MultiValue | list) else [value]
        out += [v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in values]
    return out


def _pet() -> Dataset:
    ds = make_pet_series(shape=(1, 2, 2))[0]
    ds.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime = "20240315090000.5"
    ds.private_block(0x7053, "Philips PET Private Group", create=True).add_new(0x00, "DS", "0.0001")
    reference = Dataset()
    reference.ReferencedSOPClassUID = ds.SOPClassUID
    reference.ReferencedSOPInstanceUID = ds.SOPInstanceUID
    reference.ContentCreatorName = "Nurse^Nina"  # a person name nested in a sequence
    ds.ReferencedImageSequence = DicomSequence([reference])
    return ds


def test_phi_removed_everywhere() -> None:
    original = _pet()
    before = " ".join(_strings(original))
    assert all(phi in before for phi in PHI)  # the check below can see every one of them
    out = deidentify_dataset(dataset=original, secret=SECRET, case_code="CASE-0001")
    text = " ".join(_strings(out)) + " " + " ".join(_strings(out.file_meta))
    for phi in PHI:
        assert phi not in text, phi
    assert out.PatientName == "CASE-0001" and out.PatientID == "CASE-0001"
    assert out.PatientBirthDate == "" and out.AccessionNumber == "" and out.StudyID == ""
    # X/Z/D in the table resolves to "empty" (kept present, no content); X removes.
    assert out.get("InstitutionName", "") == "" and out.get("OperatorsName", "") == ""
    assert "OtherPatientIDs" not in out and "InstitutionAddress" not in out
    assert out.PatientIdentityRemoved == "YES"
    assert {item.CodeValue for item in out.DeidentificationMethodCodeSequence} == {
        "113100",
        "113105",
        "113107",
        "113108",
    }
    assert all(len(v) <= 64 for v in out.DeidentificationMethod)
    # Private tags are gone except the safe list (the Philips SUV factor and its creator).
    assert [str(e.tag) for e in out.iterall() if e.tag.is_private] == ["(7053,0010)", "(7053,1000)"]
    # The input is left untouched.
    assert original.PatientID == PATIENT_ID and "InstitutionName" in original


def test_uids_remapped_consistently_and_class_uids_kept() -> None:
    ds = _pet()
    out = deidentify_dataset(dataset=ds, secret=SECRET, case_code="C")
    again = deidentify_dataset(dataset=ds, secret=SECRET, case_code="C")
    other = deidentify_dataset(dataset=ds, secret="another-secret", case_code="C")
    for keyword in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        new = out[keyword].value
        assert new != ds[keyword].value and new.startswith("2.25.") and len(new) <= 64
        assert new == again[keyword].value == remap_uid(uid=ds[keyword].value, secret=SECRET)
        assert new != other[keyword].value
    assert out.SOPClassUID == ds.SOPClassUID
    assert out.file_meta.MediaStorageSOPInstanceUID == out.SOPInstanceUID
    assert out.file_meta.TransferSyntaxUID == ds.file_meta.TransferSyntaxUID
    reference = out.ReferencedImageSequence[0]
    assert reference.ReferencedSOPInstanceUID == out.SOPInstanceUID  # references still resolve
    assert reference.ReferencedSOPClassUID == ds.SOPClassUID


def test_dates_shifted_by_a_per_patient_offset_times_kept() -> None:
    ds = _pet()
    out = deidentify_dataset(dataset=ds, secret=SECRET, case_code="C")
    days = date_offset_days(patient_id=PATIENT_ID, secret=SECRET)
    assert -3650 <= days <= -1
    shifted = date(2024, 3, 15).toordinal() + days
    assert (
        date.fromordinal(shifted).strftime("%Y%m%d") == out.StudyDate == out.SeriesDate == out.AcquisitionDate
    )
    start = out.RadiopharmaceuticalInformationSequence[0].RadiopharmaceuticalStartDateTime
    assert start == date.fromordinal(shifted).strftime("%Y%m%d") + "090000.5"
    assert out.SeriesTime == ds.SeriesTime
    # Same patient in another import (other series, other secret-independent data): same offset.
    ct = deidentify_dataset(dataset=make_ct_series(shape=(1, 2, 2))[0], secret=SECRET, case_code="C")
    assert ct.StudyDate == out.StudyDate
    assert date_offset_days(patient_id="SOMEONE-ELSE", secret=SECRET) != days


def test_patient_key_is_stable_and_keyed() -> None:
    key = patient_key(patient_id=PATIENT_ID, secret=SECRET)
    assert key == patient_key(patient_id=f" {PATIENT_ID} ", secret=SECRET)
    assert key != patient_key(patient_id=PATIENT_ID, secret="other")
    assert PATIENT_ID not in key and len(key) == 32
    assert patient_key(patient_id="", secret=SECRET) is None


def test_options_drop_characteristics_and_descriptions() -> None:
    out = deidentify_dataset(
        dataset=_pet(),
        secret=SECRET,
        case_code="C",
        retain_patient_characteristics=False,
        keep_descriptions=False,
    )
    assert "PatientWeight" not in out and "PatientAge" not in out and out.PatientSex == ""
    assert "SeriesDescription" not in out and "StudyDescription" not in out
    assert "113108" not in {item.CodeValue for item in out.DeidentificationMethodCodeSequence}


def test_study_metadata_has_no_phi_and_is_json() -> None:
    ct = deidentify_dataset(dataset=make_ct_series(shape=(1, 2, 2))[0], secret=SECRET, case_code="CASE-7")
    pet = deidentify_dataset(
        dataset=make_pet_series(shape=(1, 2, 2), pet=pet_headers())[0], secret=SECRET, case_code="CASE-7"
    )
    metadata = study_metadata(ct=ct, pet=pet)
    text = json.dumps(metadata)
    for phi in PHI:
        assert phi not in text, phi
    assert metadata["PatientID"] == "CASE-7"
    assert (
        metadata["StudyDate"]
        == date.fromordinal(
            date(2024, 3, 15).toordinal() + date_offset_days(patient_id=PATIENT_ID, secret=SECRET)
        ).isoformat()
    )
    assert metadata["PET"]["Radiopharmaceutical"] == "Fluorodeoxyglucose"
    assert metadata["PET"]["Units"] == "BQML" and metadata["CT"]["Manufacturer"] == "MOLECUBES"
    assert metadata["Modalities"] == ["CT", "PT"]


def test_study_metadata_refuses_identified_headers() -> None:
    ds = make_ct_series(shape=(1, 2, 2))[0]
    with pytest.raises(ValueError, match="de-identified"):
        study_metadata(ct=ds, pet=ds)
