"""Ground truth from CSV: every row is validated, all rows are stored or none, errors name the rows."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from studies.models import GroundTruth
from studies.services import ground_truth_record, study_create

pytestmark = pytest.mark.django_db

HEADER = "case_code,margin_status,closest_distance_mm,tumour_type,slice_index,face_+x,face_-z\n"


@pytest.fixture
def study(users, cases):
    return study_create(user=users["study_admin"], name="CSV study", design="unaided",
                        case_codes=[c.code for c in cases[:2]], reader_usernames=["reader1"])


def _upload(client, study, text: str, name="gt.csv", **extra):
    upload = SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text, content_type="text/csv")
    return client.post(f"/api/studies/{study.pk}/ground-truth/import/", {"file": upload, **extra}, format="multipart")


def test_good_csv_through_the_api_is_stored_signed_off(study, cases, client_for, users):
    a, b = cases[0].code, cases[1].code
    text = HEADER + f"{a},positive,0,invasive NST,2,positive,\n{b},Negative,3.5,,,negative,negative\n"
    response = _upload(client_for("study_admin"), study, "\ufeff" + text)
    assert response.status_code == 201, response.content
    assert response.json()["imported"] == 2
    first = GroundTruth.objects.get(case=cases[0])
    assert first.signed_off and first.source == "csv" and first.slice_index == 2
    assert first.face_status == {"+x": "positive"} and first.signed_off_by == users["study_admin"]
    assert GroundTruth.objects.get(case=cases[1]).margin_status == "negative"
    assert AuditEvent.objects.filter(action="ground_truth.import").count() == 2
    # Importing again creates new versions on top of the signed-off ones.
    again = _upload(client_for("study_admin"), study, HEADER + f"{a},close,0.5,,,,\n", sign_off="no")
    assert again.status_code == 201
    latest = GroundTruth.objects.filter(case=cases[0]).order_by("-version").first()
    assert latest.version == 2 and latest.supersedes == first and not latest.signed_off
    assert "imported from gt.csv" in latest.correction_reason


def test_bad_rows_store_nothing_and_are_each_named(study, cases, client_for):
    a, b = cases[0].code, cases[1].code
    outside = cases[2].code
    text = HEADER + "\n".join([
        f"{a},positive,0,,,,",          # good
        f"{b},maybe,1,,,,",            # bad status
        f"{a},negative,2,,,,",         # duplicate case
        f"{outside},negative,2,,,,",   # not in the study
        "PC-NOPE,negative,2,,,,",      # unknown case
        f"{b},negative,-1,,,,",        # negative distance
        ",negative,2,,,,",             # no code
        f"{b},negative,abc,,,,",       # not a number
    ]) + "\n"
    response = _upload(client_for("study_admin"), study, text)
    assert response.status_code == 400
    body = response.json()
    assert "nothing was imported" in body["detail"]
    errors = body["errors"]
    assert len(errors) == 7
    for line in (3, 4, 5, 6, 7, 8, 9):
        assert any(e.startswith(f"row {line}") for e in errors), (line, errors)
    assert not GroundTruth.objects.exists()


@pytest.mark.parametrize(("text", "message"), [
    ("", "empty"),
    ("case,status\nX,positive\n", "header"),
    (HEADER, "no data rows"),
    ("case_code,margin_status,colour\nX,positive,red\n", "header"),
])
def test_malformed_files(study, client_for, text, message):
    response = _upload(client_for("study_admin"), study, text)
    assert response.status_code == 400 and message in response.json()["detail"]
    assert not GroundTruth.objects.exists()


def test_non_utf8_and_missing_file(study, client_for):
    response = _upload(client_for("study_admin"), study, "case_code,margin_status\n\xff\xfe".encode("latin-1"))
    assert response.status_code == 400 and "UTF-8" in response.json()["detail"]
    missing = client_for("study_admin").post(f"/api/studies/{study.pk}/ground-truth/import/", {}, format="multipart")
    assert missing.status_code == 400


def test_a_case_with_unsigned_ground_truth_blocks_the_import(study, cases, users, client_for):
    ground_truth_record(user=users["pathologist"], case=cases[0], margin_status="close", closest_distance_mm=0.5)
    response = _upload(client_for("study_admin"), study, HEADER + f"{cases[0].code},negative,2,,,,\n"
                       f"{cases[1].code},negative,2,,,,\n")
    assert response.status_code == 400 and "not signed off" in response.json()["errors"][0]
    assert GroundTruth.objects.count() == 1


def test_only_administrators_may_import(study, client_for):
    for role in ("reader", "pathologist", "no_role"):
        assert _upload(client_for(role), study, HEADER).status_code == 403


def test_management_command(study, cases, users, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(HEADER + f"{cases[0].code},close,0.4,,1,,\n")
    out = io.StringIO()
    call_command("import_ground_truth", str(good), "--study", study.name, "--user", "admin1", stdout=out)
    assert "imported ground truth for 1 case" in out.getvalue()
    gt = GroundTruth.objects.get()
    assert gt.signed_off and gt.created_by == users["study_admin"]
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + f"{cases[1].code},close,0,,,,\n{cases[0].code},positive,0,,,,\n")
    with pytest.raises(CommandError, match=r"row 2 .*0 mm"):
        call_command("import_ground_truth", str(bad), "--study", str(study.pk), stdout=io.StringIO())
    assert GroundTruth.objects.count() == 1
    with pytest.raises(CommandError, match="no study"):
        call_command("import_ground_truth", str(good), "--study", "nope", stdout=io.StringIO())
    with pytest.raises(CommandError, match="not a readable file"):
        call_command("import_ground_truth", str(tmp_path / "missing.csv"), "--study", str(study.pk))
