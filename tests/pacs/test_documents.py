"""The SEG and the TID 1500 SR we write: downloaded through the API, checked by dciodvfy and read back."""

from __future__ import annotations

import io
import subprocess

import pydicom
import pytest

from inference.engine.structured_report import STATUS_VALUES, MarginReportInput, margin_structured_report

from .conftest import DCIODVFY

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


def _dciodvfy_errors(payload: bytes, tmp_path, name: str) -> list[str]:
    if DCIODVFY is None:
        pytest.skip("dciodvfy (Debian's dicom3tools) is not installed; scripts/test.sh installs it as root")
    path = tmp_path / name
    path.write_bytes(payload)
    result = subprocess.run([DCIODVFY, str(path)], capture_output=True, text=True, timeout=120)
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]


def _content_items(dataset):
    for item in dataset.get("ContentSequence", []):
        yield item
        yield from _content_items(item)


@pytest.mark.parametrize("fmt", ["seg", "sr"])
def test_downloaded_seg_and_sr_pass_dciodvfy(finished_case, client_for, tmp_path, fmt):
    response = client_for("study_admin").get(f"/api/cases/{finished_case.code}/results/{fmt}/")
    assert response.status_code == 200 and response["Content-Type"] == "application/dicom"
    assert _dciodvfy_errors(response.content, tmp_path, f"{fmt}.dcm") == []
    dataset = pydicom.dcmread(io.BytesIO(response.content))
    assert dataset.Modality == fmt.upper()
    assert dataset.PatientID == finished_case.code  # downloads stay de-identified


def test_sr_holds_margin_status_distances_and_model(finished_case, client_for):
    from inference.models import MarginResult

    margin = MarginResult.objects.get(segmentation__case=finished_case)
    sr = pydicom.dcmread(io.BytesIO(client_for("study_admin").get(f"/api/cases/{finished_case.code}/results/sr/").content))
    items = list(_content_items(sr))
    status = [i for i in items if i.ValueType == "CODE" and i.ConceptNameCodeSequence[0].CodeValue == "372249001"]
    assert status[0].ConceptCodeSequence[0].CodeValue == STATUS_VALUES[margin.status].value
    numbers = {i.ConceptNameCodeSequence[0].CodeValue: float(i.MeasuredValueSequence[0].NumericValue)
               for i in items if i.ValueType == "NUM"}
    assert numbers["MARGIN-THRESHOLD"] == pytest.approx(margin.threshold_mm)
    if margin.closest_margin_mm is not None:
        assert numbers["CLOSEST-MARGIN"] == pytest.approx(margin.closest_margin_mm, abs=1e-3)
    texts = {str(i.get("TextValue", "")) for i in items}
    assert "tiny" in texts and "test" in texts  # algorithm name and version (TID 4019)
    evidence = sr.CurrentRequestedProcedureEvidenceSequence[0]
    assert evidence.StudyInstanceUID == sr.StudyInstanceUID


def test_builder_omits_faces_without_tumour_and_marks_indeterminate(phantom_dir, tmp_path):
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted((phantom_dir / "case_0000" / "ct").iterdir())]
    sr = margin_structured_report(
        source_ct_datasets=headers,
        margin=MarginReportInput(status="indeterminate", closest_margin_mm=0.9, threshold_mm=1.0,
                                 faces={"+x": 0.9, "-x": None}, interval_mm=[0.4, 1.6]),
        model_name="demo", model_version="2", series_instance_uid=pydicom.uid.generate_uid(),
        sop_instance_uid=pydicom.uid.generate_uid())
    buffer = io.BytesIO()
    sr.save_as(buffer, enforce_file_format=True)
    assert _dciodvfy_errors(buffer.getvalue(), tmp_path, "sr.dcm") == []
    codes = [i.ConceptNameCodeSequence[0].CodeValue for i in _content_items(sr) if i.ValueType == "NUM"]
    assert "FACE-+X" in codes and "FACE--X" not in codes
    assert {"MARGIN-LOW", "MARGIN-HIGH"} <= set(codes)
    status = [i for i in _content_items(sr) if i.ValueType == "CODE" and i.ConceptNameCodeSequence[0].CodeValue == "372249001"]
    assert status[0].ConceptCodeSequence[0].CodeValue == "82334004"  # SNOMED CT "Indeterminate"
    with pytest.raises(ValueError, match="unknown margin status"):
        margin_structured_report(source_ct_datasets=headers, margin=MarginReportInput(status="maybe", closest_margin_mm=1,
                                 threshold_mm=1), model_name="m", model_version="1", series_instance_uid="1.2.3",
                                 sop_instance_uid="1.2.4")


def _face_sites(sr) -> dict[str, str | None]:
    """{FACE-.. code: the SNOMED CT topographical modifier of its finding site, or None}."""
    sites = {}
    for item in _content_items(sr):
        if item.ValueType != "NUM" or not item.ConceptNameCodeSequence[0].CodeValue.startswith("FACE-"):
            continue
        modifiers = [m.ConceptCodeSequence[0].CodeMeaning for site in item.get("ContentSequence", [])
                     if site.ConceptNameCodeSequence[0].CodeValue == "363698007"  # Finding Site
                     for m in site.get("ContentSequence", [])
                     if m.ConceptNameCodeSequence[0].CodeValue == "106233006"]  # Topographical modifier
        sites[item.ConceptNameCodeSequence[0].CodeValue] = modifiers[0] if modifiers else None
    return sites


def test_builder_names_oriented_faces_as_finding_sites_and_stays_valid(phantom_dir, tmp_path):
    headers = [pydicom.dcmread(p, stop_before_pixels=True) for p in sorted((phantom_dir / "case_0000" / "ct").iterdir())]
    sr = margin_structured_report(
        source_ct_datasets=headers,
        margin=MarginReportInput(status="positive", closest_margin_mm=0.0, threshold_mm=1.0,
                                 faces={"+x": 0.0, "-z": 2.5, "+y": 4.0},
                                 face_names={"+x": "lateral", "-x": "medial", "-z": "deep", "+z": "superficial"}),
        model_name="demo", model_version="2", series_instance_uid=pydicom.uid.generate_uid(),
        sop_instance_uid=pydicom.uid.generate_uid())
    buffer = io.BytesIO()
    sr.save_as(buffer, enforce_file_format=True)
    assert _dciodvfy_errors(buffer.getvalue(), tmp_path, "sr-named.dcm") == []
    # The concept stays the scanner label; the anatomical side is the finding site (none where unnamed).
    assert _face_sites(sr) == {"FACE-+X": "Lateral", "FACE--Z": "Deep", "FACE-+Y": None}


def test_downloaded_sr_follows_the_newest_orientation(finished_case, client_for):
    from inference.models import MarginResult

    faces = {f for f, d in (MarginResult.objects.get(segmentation__case=finished_case).faces or {}).items()
             if d is not None}
    admin = client_for("study_admin")
    reply = admin.post(f"/api/cases/{finished_case.code}/orientation/",
                       {"directions": {"superior": "+z", "lateral": "-x", "anterior": "-y"}}, format="json")
    assert reply.status_code == 201, reply.content
    names = reply.json()["face_names"]
    sr = pydicom.dcmread(io.BytesIO(admin.get(f"/api/cases/{finished_case.code}/results/sr/").content))
    sites = _face_sites(sr)
    assert set(sites) == {f"FACE-{f.upper()}" for f in faces}
    assert all(sites[f"FACE-{f.upper()}"] == names[f].capitalize() for f in faces)


def test_reidentified_copies_leave_the_de_identified_headers_as_they_were():
    from inference.pacs.reidentify import reidentified_headers

    header = pydicom.Dataset()
    header.StudyInstanceUID, header.SOPInstanceUID, header.PatientName = "2.25.1", "2.25.2", "PC-ABC"
    header.ReferencedSeriesSequence = [pydicom.Dataset()]
    copies = reidentified_headers(headers=[header], uids={"2.25.1": "1.2.3", "2.25.2": "1.2.4"},
                                  attributes={"PatientName": "Doe^Jane", "PatientID": "MRN-1"})
    assert (copies[0].StudyInstanceUID, copies[0].SOPInstanceUID) == ("1.2.3", "1.2.4")
    assert (copies[0].PatientName, copies[0].PatientID) == ("Doe^Jane", "MRN-1")
    assert (header.StudyInstanceUID, header.SOPInstanceUID, header.PatientName) == ("2.25.1", "2.25.2", "PC-ABC")
    assert "PatientID" not in header
    with pytest.raises(ValueError, match="no original SOPInstanceUID"):
        reidentified_headers(headers=[header], uids={"2.25.1": "1.2.3"}, attributes={})


def _without_times(dataset: pydicom.Dataset) -> dict:
    found = dataset.to_json_dict()
    # Instance creation, content and contribution times; the dimension organisation (its UID is drawn anew).
    for tag in ("00080012", "00080013", "00080023", "00080033", "0018A001", "00209221", "00209222"):
        found.pop(tag, None)
    return found


def test_documents_from_the_headers_the_worker_remembers_equal_those_from_the_stored_ones(finished_case):
    """The ingest keeps the de-identified CT headers in memory for the PACS delivery in the same worker: the
    SEG is the same as one built from the stored headers, and building (re-identified) changes nothing."""
    from cases.models import Case
    from cases.reidentification import reidentification_load
    from cases.services import CT_HEADERS
    from cases.worker_memory import forget, recall
    from inference.pacs.documents import result_documents, run_segmentation

    case = Case.objects.get(pk=finished_case.pk)
    name = case.source_headers.ct_headers.name
    remembered = recall(case=case, kind=CT_HEADERS, name=name)
    assert remembered is not None, "the import (in this process) keeps the headers it stored"
    before = [header.to_json_dict() for header in remembered]
    segmentation = run_segmentation(run=case.inference_runs.get())
    originals = reidentification_load(case=case, purpose="test")
    from_memory = result_documents(segmentation=segmentation, originals=originals, kinds=("seg",))[0].dataset()
    assert [header.to_json_dict() for header in remembered] == before
    assert from_memory.PatientID != case.code  # re-identified ...
    assert remembered[0].PatientID == case.code  # ... on copies only
    forget()
    from_storage = result_documents(segmentation=segmentation, originals=originals, kinds=("seg",))[0].dataset()
    assert _without_times(from_memory) == _without_times(from_storage)
    assert recall(case=case, kind="ct_headers", name=name) is None
