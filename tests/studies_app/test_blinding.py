"""Blinding is enforced by the API: what a reader cannot see, no endpoint returns."""

from __future__ import annotations

import json
import re

import pytest

from studies.models import Study
from studies.services import ground_truth_record, study_create

from .conftest import call_body, make_case, make_model_result, mask_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def unaided(users, cases):
    return study_create(user=users["study_admin"], name="Unaided", design="unaided",
                        case_codes=[c.code for c in cases[:2]], reader_usernames=["reader1", "reader2"], seed=1,
                        enforce_order=False)


def _config(client, code):
    page = client.get(f"/cases/{code}/")
    assert page.status_code == 200
    html = page.content.decode()
    config = json.loads(re.search(r'id="viewer-config" type="application/json">(.*?)</script>', html, re.S).group(1))
    detail = json.loads(re.search(r'id="case-detail" type="application/json">(.*?)</script>', html, re.S).group(1))
    return config, detail


def test_reader_in_an_unaided_session_gets_no_model_output_anywhere(unaided, cases, client_for):
    reader = client_for("reader")
    case = cases[0]
    run_id = case.inference_runs.get().pk
    detail = reader.get(f"/api/cases/{case.code}/").json()
    assert detail["model"] is None and detail["margin"] is None
    assert detail["volumes"]["model_mask"] is None and detail["volumes"]["uncertainty"] is None
    assert detail["exports"] == {"dicom_seg": None, "nifti": None, "margin_json": None, "margin_csv": None}
    for url in (f"/api/cases/{case.code}/volumes/model_mask/", f"/api/cases/{case.code}/volumes/uncertainty/",
                f"/api/cases/{case.code}/results/nifti/", f"/api/cases/{case.code}/results/seg/",
                f"/api/inference-runs/{run_id}/"):
        response = reader.get(url)
        assert response.status_code == 403 and response.json()["code"] == "blinded", url
    model_seg = case.segmentations.get(source="model")
    assert reader.get(f"/api/cases/{case.code}/segmentations/{model_seg.pk}/mask/").status_code == 404
    listing = {c["code"]: c for c in reader.get("/api/cases/").json()["results"]}
    assert listing[case.code]["inference"] is None and listing[case.code]["margin_status"] is None
    config, page_detail = _config(reader, case.code)
    assert config["canSeeModel"] is False and config["canSeeGroundTruth"] is False
    assert page_detail["margin"] is None and page_detail["model"] is None
    # The list page does not show the model's call either.
    rows = client_for("reader").get("/").content.decode().split("<tr>")
    row = next(r for r in rows if f">{case.code}<" in r)
    assert "positive" not in row and "done" not in row


def test_reader_never_sees_ground_truth(unaided, cases, users, client_for):
    pathologist = client_for("pathologist")
    outline = pathologist.post(f"/api/cases/{cases[0].code}/segmentations/", mask_body(cases[0]), format="json")
    gt = ground_truth_record(user=users["pathologist"], case=cases[0], margin_status="positive",
                             closest_distance_mm=0, segmentation_id=outline.json()["id"])
    reader = client_for("reader")
    for url in ("/api/studies/ground-truth/", f"/api/studies/ground-truth/{cases[0].code}/",
                f"/api/studies/ground-truth/{cases[0].code}/{gt.pk}/"):
        assert reader.get(url).status_code == 403, url
    assert reader.get(f"/api/cases/{cases[0].code}/segmentations/{outline.json()['id']}/mask/").status_code == 404
    assert reader.get(f"/studies/ground-truth/{cases[0].code}/").status_code == 403
    assert reader.get("/studies/ground-truth/").status_code == 403
    # ... while the pathologist and administrators do.
    assert pathologist.get(f"/api/cases/{cases[0].code}/segmentations/{outline.json()['id']}/mask/").status_code == 200
    assert client_for("study_admin").get(f"/api/studies/ground-truth/{cases[0].code}/").status_code == 200


def test_reader_never_sees_other_readers_calls_or_masks(unaided, cases, client_for):
    r1, r2 = client_for("reader"), client_for("reader2")
    code = cases[0].code
    mask = r2.post(f"/api/cases/{code}/segmentations/", mask_body(cases[0]), format="json").json()
    call = r2.post(f"/api/cases/{code}/reads/", call_body("positive", segmentation_id=mask["id"]), format="json")
    assert call.status_code == 201
    assert r1.get(f"/api/cases/{code}/reads/").json()["results"] == []
    assert r1.get(f"/api/cases/{code}/reads/{call.json()['id']}/").status_code == 404
    assert r1.post(f"/api/cases/{code}/reads/{call.json()['id']}/amend/", call_body(), format="json").status_code == 404
    assert r1.get(f"/api/cases/{code}/segmentations/{mask['id']}/mask/").status_code == 404
    assert r1.get(f"/api/cases/{code}/segmentations/").json()["results"] == []
    assert r1.get(f"/api/cases/{code}/").json()["my_segmentation"] is None
    # Linking someone else's mask to one's own call is refused.
    stolen = r1.post(f"/api/cases/{code}/reads/", call_body(segmentation_id=mask["id"]), format="json")
    assert stolen.status_code == 400
    # Study-wide views are for administrators only.
    sid = unaided.pk
    for url in (f"/api/studies/{sid}/", f"/api/studies/{sid}/reads/export/", "/api/studies/",
                "/api/studies/audit/", "/api/studies/audit/export/"):
        assert r1.get(url).status_code == 403, url
    assert r1.get(f"/studies/{sid}/").status_code == 403
    assert r1.get("/studies/audit/").status_code == 403
    # The pathologist does not see readers' calls either.
    assert client_for("pathologist").get(f"/api/cases/{code}/reads/").json()["results"] == []
    assert len(client_for("study_admin").get(f"/api/cases/{code}/reads/").json()["results"]) == 1


def test_cases_of_a_study_are_hidden_from_readers_not_assigned(unaided, cases, client_for):
    outsider = client_for("reader3")
    study_code, free_code = cases[0].code, cases[2].code
    listed = {c["code"] for c in outsider.get("/api/cases/").json()["results"]}
    assert study_code not in listed and free_code in listed
    for url in (f"/api/cases/{study_code}/", f"/api/cases/{study_code}/volumes/ct/",
                f"/api/cases/{study_code}/reads/", f"/cases/{study_code}/", f"/studies/{unaided.pk}/worklist/",
                f"/api/studies/{unaided.pk}/worklist/"):
        assert outsider.get(url).status_code == 404, url
    assert outsider.post(f"/api/cases/{study_code}/reads/", call_body(), format="json").status_code == 404
    assert outsider.post(f"/api/cases/{study_code}/segmentations/", mask_body(cases[0]),
                         format="json").status_code == 404
    # A case in no study is read freely, with the model.
    config, _ = _config(outsider, free_code)
    assert config["canSeeModel"] is True and config["canCall"] is True
    assert config["readContext"]["studyId"] is None
    free = outsider.post(f"/api/cases/{free_code}/reads/", call_body(), format="json")
    assert free.status_code == 201 and free.json()["study_id"] is None and free.json()["aided"] is True


def test_aided_design_shows_the_model_and_pathologists_stay_blind_to_it(users, client_for):
    case = make_case()
    make_model_result(case)
    study_create(user=users["study_admin"], name="Aided", design=Study.Design.AIDED, case_codes=[case.code],
                 reader_usernames=["reader1"])
    assert client_for("reader").get(f"/api/cases/{case.code}/volumes/model_mask/").status_code == 200
    config, _ = _config(client_for("reader"), case.code)
    assert config["canSeeModel"] is True and config["readContext"]["aided"] is True
    pathologist = client_for("pathologist")
    assert pathologist.get(f"/api/cases/{case.code}/volumes/model_mask/").status_code == 403
    assert pathologist.get(f"/api/cases/{case.code}/").json()["margin"] is None
    assert client_for("study_admin").get(f"/api/cases/{case.code}/volumes/model_mask/").status_code == 200
