"""Importing generated studies through the command and the upload API, and every bad input."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from cases.models import Case, CaseVolume

pytestmark = pytest.mark.django_db


def run_import_json(path: Path) -> list[dict]:
    out = io.StringIO()
    call_command("import_dicom", str(path), "--json", stdout=out)
    return json.loads(out.getvalue())


def truth_of(case_dir: Path) -> dict:
    return json.loads((case_dir / "truth" / "truth.json").read_text())


def test_import_command_reports_acquired_and_working_geometry_and_suv(one_case_dir):
    truth = truth_of(one_case_dir)
    [report] = run_import_json(one_case_dir)
    assert report["ct"]["shape"] == truth["ct_grid"]["shape"]
    assert report["ct"]["spacing"] == pytest.approx(truth["ct_grid"]["spacing"], abs=1e-4)
    assert report["pet"]["shape"] == truth["pet_grid"]["shape"]
    assert report["pet"]["spacing"] == pytest.approx(truth["pet_grid"]["spacing"], abs=1e-4)
    assert report["working_grid"]["spacing"] == pytest.approx([0.5, 0.5, 0.5])
    assert report["pet_units"] == "Bq/ml"
    assert report["suv_scale_factor"] == pytest.approx(truth["suv_per_bqml"], rel=1e-4)
    case = Case.objects.get(code=report["case"])
    assert set(case.volumes.values_list("kind", flat=True)) == {"ct", "pet", "specimen", "specimen_occ"}
    assert AuditEvent.objects.filter(action="case.import", case_code=case.code).exists()


def test_imported_volumes_sit_at_the_right_patient_position(one_case_dir):
    """The tumour's PET hot spot must land where the truth mask is, in patient space."""
    truth = truth_of(one_case_dir)
    [report] = run_import_json(one_case_dir)
    case = Case.objects.get(code=report["case"])
    from cases.selectors import case_volume_array

    pet = case_volume_array(case=case, kind="pet") * case.suv_factor
    hottest = np.array(np.unravel_index(np.argmax(pet), pet.shape))
    hottest_mm = case.grid.index_to_patient(hottest)
    centroids = [np.array(t["centroid_mm"]) for t in truth["tumours"]]
    assert min(np.linalg.norm(hottest_mm - c) for c in centroids) < 0.5 * max(
        t["nominal_diameter_mm"] for t in truth["tumours"]
    ) + 1.0
    assert pet.max() == pytest.approx(truth["tumour_suv"]["pet_max"], rel=0.35)


def test_imported_case_carries_no_identifying_data(one_case_dir):
    [report] = run_import_json(one_case_dir)
    case = Case.objects.get(code=report["case"])
    original = pydicom.dcmread(next((one_case_dir / "ct").iterdir()))
    stored = json.dumps(case.metadata) + json.dumps(case.working_grid)
    from cases.selectors import case_source_ct_headers

    headers = case_source_ct_headers(case=case)
    assert str(original.PatientName) not in stored
    assert headers[0].PatientID != original.PatientID
    assert headers[0].StudyInstanceUID != original.StudyInstanceUID
    assert "PatientBirthDate" not in headers[0] or headers[0].PatientBirthDate != original.PatientBirthDate
    assert str(headers[0].get("PatientIdentityRemoved", "")) == "YES"


def test_reimporting_the_same_study_is_refused_without_storing(one_case_dir):
    run_import_json(one_case_dir)
    with pytest.raises(CommandError, match="already imported"):
        run_import_json(one_case_dir)
    assert Case.objects.count() == 1


def _expect_cli_error(path: Path, pattern: str) -> None:
    _expect_cli_error_args([str(path)], pattern)


def _expect_cli_error_args(args: list[str], pattern: str) -> None:
    with pytest.raises(CommandError, match=pattern):
        call_command("import_dicom", *args)
    assert Case.objects.count() == 0
    assert CaseVolume.objects.count() == 0


def test_non_dicom_only_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("not an image")
    _expect_cli_error(tmp_path, "(?i)dicom")


def test_pet_without_ct_is_refused(one_case_dir):
    shutil.rmtree(one_case_dir / "ct")
    _expect_cli_error(one_case_dir, "(?i)CT")


def test_ct_without_pet_is_refused(one_case_dir):
    shutil.rmtree(one_case_dir / "pet")
    _expect_cli_error(one_case_dir, "(?i)PET")


def test_truncated_file_is_named(one_case_dir):
    victim = sorted((one_case_dir / "ct").iterdir())[3]
    victim.write_bytes(victim.read_bytes()[: len(victim.read_bytes()) // 2])
    _expect_cli_error(one_case_dir, victim.name)


def test_missing_slice_is_reported(one_case_dir):
    sorted((one_case_dir / "ct").iterdir())[5].unlink()
    _expect_cli_error(one_case_dir, "(?i)missing")


def test_two_patients_in_one_upload_are_refused(phantom_dir, tmp_path, client_for):
    shutil.copytree(phantom_dir / "case_0000", tmp_path / "a")
    shutil.copytree(phantom_dir / "case_0001", tmp_path / "b")
    response = _upload(client_for("study_admin"), [("two.zip", _zip_of(tmp_path))])
    assert response.status_code == 400 and response.json()["code"] == "multiple_patients"
    _expect_cli_error_args([str(tmp_path), "--single-patient"], "(?i)patient")


def test_folder_archive_with_several_patients_imports_each_from_disk(phantom_dir):
    reports = run_import_json(phantom_dir)
    assert len(reports) == 2 and len({r["case"] for r in reports}) == 2
    assert Case.objects.values("patient_key").distinct().count() == 2


def test_missing_pixel_data_is_refused(one_case_dir):
    victim = sorted((one_case_dir / "pet").iterdir())[2]
    dataset = pydicom.dcmread(victim)
    del dataset.PixelData
    dataset.save_as(victim)
    _expect_cli_error(one_case_dir, "(?i)pixel")


def test_inconsistent_spacing_is_refused(one_case_dir):
    files = sorted((one_case_dir / "ct").iterdir(), key=lambda p: float(pydicom.dcmread(p).ImagePositionPatient[2]))
    victim = files[len(files) // 2]
    dataset = pydicom.dcmread(victim)
    position = [float(v) for v in dataset.ImagePositionPatient]
    position[2] += 0.37 * float(dataset.get("SliceThickness", 0.5) or 0.5)
    dataset.ImagePositionPatient = position
    dataset.save_as(victim)
    _expect_cli_error(one_case_dir, "(?i)spacing|slice")


# --- Upload API ---------------------------------------------------------------------------


def _zip_of(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*.dcm")):
            archive.write(path, path.relative_to(folder).as_posix())
    return buffer.getvalue()


def _upload(client, files: list[tuple[str, bytes]]):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(
        "/api/cases/upload/",
        {"files": [SimpleUploadedFile(name, content) for name, content in files]},
        format="multipart",
    )


def test_upload_of_a_zip_creates_a_case_with_a_fast_volume_endpoint(client_for, one_case_dir):
    admin = client_for("study_admin")
    response = _upload(admin, [("study.zip", _zip_of(one_case_dir))])
    assert response.status_code == 201, response.content
    code = response.json()["cases"][0]["code"]

    listing = client_for("reader").get("/api/cases/").json()["results"]
    assert [c["code"] for c in listing] == [code]
    detail = client_for("reader").get(f"/api/cases/{code}/").json()
    assert detail["working_grid"]["spacing"] == pytest.approx([0.5, 0.5, 0.5])

    volume = client_for("reader").get(f"/api/cases/{code}/volumes/ct/", HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert volume.status_code == 200
    assert volume["Content-Encoding"] == "gzip"
    shape = [int(s) for s in volume["X-Volume-Shape"].split(",")]
    ct = np.frombuffer(gzip.decompress(b"".join(volume.streaming_content) if volume.streaming else volume.content),
                       dtype="<i2").reshape(shape)
    assert shape == detail["working_grid"]["shape"]
    assert ct.min() <= -900 and ct.max() >= 0  # air and tissue both present
    again = client_for("reader").get(f"/api/cases/{code}/volumes/ct/", HTTP_IF_NONE_MATCH=volume["ETag"],
                                   HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert again.status_code == 304


def test_upload_of_loose_files_with_equal_names_in_different_folders(client_for, one_case_dir):
    files = [(p.name, p.read_bytes()) for p in sorted(one_case_dir.rglob("*.dcm"))]
    response = _upload(client_for("study_admin"), files)
    assert response.status_code == 201, response.content


@pytest.mark.parametrize("role", ["reader", "pathologist", "no_role", None])
def test_only_study_admins_may_upload(client_for, one_case_dir, role):
    response = _upload(client_for(role), [("study.zip", _zip_of(one_case_dir))])
    assert response.status_code in (401, 403)
    assert Case.objects.count() == 0


def test_upload_of_non_dicom_gets_a_readable_400(client_for):
    response = _upload(client_for("study_admin"), [("photo.jpg", b"\xff\xd8\xff\xe0 not dicom")])
    assert response.status_code == 400
    assert "DICOM" in response.json()["detail"] or "dicom" in response.json()["detail"]


def test_upload_with_zip_path_traversal_is_refused(client_for):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../escape.dcm", b"x" * 200)
    response = _upload(client_for("study_admin"), [("evil.zip", buffer.getvalue())])
    assert response.status_code == 400
    assert response.json()["code"] == "unsafe_zip"


def test_zip_bomb_is_refused(client_for):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("huge.dcm", b"\0" * (200 * 1024 * 1024))
    response = _upload(client_for("study_admin"), [("bomb.zip", buffer.getvalue())])
    assert response.status_code == 400
    assert "zip" in response.json()["detail"].lower()


def test_oversize_upload_is_refused_before_reading(client_for, settings, one_case_dir):
    settings.PETCTWEB_MAX_UPLOAD_BYTES = 1000
    response = _upload(client_for("study_admin"), [("study.zip", _zip_of(one_case_dir))])
    assert response.status_code == 413
    assert "limit" in response.json()["detail"]


def test_empty_upload_is_refused(client_for):
    response = client_for("study_admin").post("/api/cases/upload/", {}, format="multipart")
    assert response.status_code == 400
    assert "no files" in response.json()["detail"]


def test_upload_requires_csrf_token_for_session_users(users, one_case_dir):
    from rest_framework.test import APIClient

    client = APIClient(enforce_csrf_checks=True)
    client.force_login(users["study_admin"])
    response = _upload(client, [("study.zip", _zip_of(one_case_dir))])
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]


def test_case_api_hides_everything_from_users_without_a_role(client_for, one_case_dir):
    run_import_json(one_case_dir)
    code = Case.objects.get().code
    for url in ("/api/cases/", f"/api/cases/{code}/", f"/api/cases/{code}/volumes/ct/"):
        assert client_for("no_role").get(url).status_code == 403
        assert client_for(None).get(url).status_code == 403
    assert client_for("reader").get("/api/cases/PC-NOPE00/").status_code == 404
    assert client_for("reader").get(f"/api/cases/{code}/volumes/bogus/").status_code == 404


def test_a_failure_while_volumes_are_being_stored_leaves_no_file_and_no_row(one_case_dir, settings, monkeypatch):
    """CT and PET compress while the specimen surface is found: when that fails, the files already written
    (or still being written) are removed and no row exists."""
    import cases.services as services

    def failing_surface(**_):
        raise MemoryError("out of memory while finding the specimen surface")

    monkeypatch.setattr(services, "specimen_surface_from_ct", failing_surface)
    with pytest.raises(MemoryError):
        call_command("import_dicom", str(one_case_dir))
    assert Case.objects.count() == 0 and CaseVolume.objects.count() == 0
    volumes = Path(settings.MEDIA_ROOT) / "volumes"
    assert not volumes.exists() or not any(path.is_file() for path in volumes.rglob("*"))
