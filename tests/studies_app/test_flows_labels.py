"""Honest labels: blinded cases, calls outside studies, the empty draft, the favicon."""

from __future__ import annotations

import pytest
from django.contrib.staticfiles import finders

from studies.services import study_create

from .conftest import call_body, make_case

pytestmark = pytest.mark.django_db


def test_blinded_cases_say_hidden_in_this_session_not_none(users, client_for, cases):
    study_create(user=users["study_admin"], name="Blind", design="unaided", case_codes=[cases[0].code],
                 reader_usernames=["reader1"])
    never_run = make_case()
    reader = client_for("reader")
    page = reader.get("/").content.decode()
    assert page.count('data-testid="model-hidden"') == 1 and "hidden in this session" in page
    assert "0.000" not in page  # the blinded model distance is not on the page
    listing = {c["code"]: c for c in reader.get("/api/cases/").json()["results"]}
    assert listing[cases[0].code]["model_hidden"] is True and listing[cases[0].code]["inference"] is None
    assert listing[cases[1].code]["model_hidden"] is False and listing[cases[1].code]["inference"]["status"] == "done"
    # A case the model never ran on says so plainly, for those who may see model output.
    admin_page = client_for("study_admin").get("/").content.decode()
    assert 'data-testid="model-hidden"' not in admin_page and 'data-testid="model-none"' in admin_page
    assert never_run.code in admin_page


def test_calls_outside_studies_are_labelled_and_kept_apart(users, client_for, cases):
    study = study_create(user=users["study_admin"], name="Kept apart", design="unaided",
                         case_codes=[cases[0].code], reader_usernames=["reader1"])
    reader = client_for("reader")
    free = reader.post(f"/api/cases/{cases[1].code}/reads/", call_body("negative"), format="json")
    assert free.status_code == 201, free.content
    assert free.json()["context"] == "outside_studies" and free.json()["context_label"] == "outside studies"
    in_study = reader.post(f"/api/cases/{cases[0].code}/reads/", call_body("positive"), format="json")
    assert in_study.status_code == 201, in_study.content
    assert in_study.json()["context"] == "study"
    assert in_study.json()["context_label"] == "study Kept apart, session 1"

    listing = reader.get(f"/api/cases/{cases[1].code}/reads/").json()
    assert listing["counts"] == {"study": 0, "outside_studies": 1}
    assert [r["context_label"] for r in listing["results"]] == ["outside studies"]
    # The study's exports hold its own calls only.
    admin = client_for("study_admin")
    exported = admin.get(f"/api/studies/{study.pk}/reads/export/").content.decode()
    assert cases[0].code in exported and cases[1].code not in exported
    results_csv = admin.get(f"/api/studies/{study.pk}/results/reads.csv")
    assert results_csv.status_code == 200 and cases[1].code not in results_csv.content.decode()


def test_reads_list_puts_study_calls_first_then_outside_studies(users, client_for, cases):
    # reader2's free call comes first in time, reader1's study call second; the list starts with the study call.
    assert client_for("reader2").post(f"/api/cases/{cases[0].code}/reads/", call_body("negative"),
                                      format="json").status_code == 201
    study_create(user=users["study_admin"], name="Later", design="unaided", case_codes=[cases[0].code],
                 reader_usernames=["reader1"])
    made = client_for("reader").post(f"/api/cases/{cases[0].code}/reads/", call_body("positive"), format="json")
    assert made.status_code == 201, made.content
    listing = client_for("study_admin").get(f"/api/cases/{cases[0].code}/reads/").json()
    assert [r["context"] for r in listing["results"]] == ["study", "outside_studies"]
    assert listing["counts"] == {"study": 1, "outside_studies": 1}


def test_no_draft_answers_204_with_an_empty_body(users, client_for, cases):
    reader = client_for("reader")
    response = reader.get(f"/api/cases/{cases[0].code}/segmentations/draft/")
    assert response.status_code == 204 and response.content == b""
    # A case the user may not see is still not found (nothing about it leaks through the draft URL).
    study_create(user=users["study_admin"], name="Other", design="unaided", case_codes=[cases[2].code],
                 reader_usernames=["reader2"])
    assert reader.get(f"/api/cases/{cases[2].code}/segmentations/draft/").status_code == 404


def test_favicon_is_linked_and_served(client_for):
    page = client_for("reader").get("/").content.decode()
    assert 'rel="icon" type="image/svg+xml" href="/static/frontend/favicon.svg"' in page
    path = finders.find("frontend/favicon.svg")
    assert path is not None
    with open(path, encoding="utf-8") as handle:
        assert handle.read().lstrip().startswith("<svg")
    login_page = client_for(None).get("/accounts/login/").content.decode()
    assert 'rel="icon"' in login_page
