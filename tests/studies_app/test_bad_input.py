"""Bad input gets a clear message and changes nothing."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from studies.models import Assignment, GroundTruth, Read, Study, StudyCase
from studies.services import study_create

from .conftest import call_body, make_case

pytestmark = pytest.mark.django_db


def _create(client, **overrides):
    body = {"name": "S", "design": "unaided", "cases": [], "readers": ["reader1"], **overrides}
    return client.post("/api/studies/", body, format="json")


@pytest.fixture
def study(users, cases):
    return study_create(user=users["study_admin"], name="Open study", design="crossover",
                        case_codes=[cases[0].code, cases[1].code], reader_usernames=["reader1", "reader2"], seed=3,
                        enforce_order=False)


def _unchanged(before: dict) -> None:
    assert before == _counts()


def _counts() -> dict:
    return {m.__name__: m.objects.count() for m in (Study, StudyCase, Assignment, Read, GroundTruth)}


@pytest.mark.parametrize(("overrides", "message"), [
    ({"cases": ["C1", "C1"]}, "listed twice"),
    ({"cases": ["PC-NOPE"]}, "no such case"),
    ({"readers": ["path1"]}, "does not have the reader role"),
    ({"readers": ["reader1", "reader1"]}, "listed twice"),
    ({"readers": ["ghost"]}, "no such active user"),
    ({"design": "sideways"}, "design"),
    ({"margin_threshold_mm": -1}, "margin_threshold_mm"),
    ({"positive_categories": ["close"]}, "'positive' must count as positive"),
    ({"positive_categories": ["positive", "negative"]}, "'negative' cannot"),
    ({"washout_days": -3}, "washout_days"),
    ({"name": ""}, "name"),
    ({"cases": []}, "cases"),
])
def test_invalid_study_definitions_are_refused(client_for, cases, overrides, message):
    codes = {"C1": cases[0].code}
    if "cases" in overrides:
        overrides["cases"] = [codes.get(c, c) for c in overrides["cases"]]
    else:
        overrides["cases"] = [cases[0].code]
    before = _counts()
    response = _create(client_for("study_admin"), **overrides)
    assert response.status_code == 400, response.content
    assert message in response.json()["detail"]
    _unchanged(before)


def test_readers_who_could_see_ground_truth_cannot_be_study_readers(client_for, users, cases):
    from django.contrib.auth.models import Group

    users["pathologist"].groups.add(Group.objects.get_or_create(name="reader")[0])
    response = _create(client_for("study_admin"), cases=[cases[0].code], readers=["path1"])
    assert response.status_code == 400 and "readers only" in response.json()["detail"]


def test_assigning_a_case_twice(study, client_for, cases):
    admin = client_for("study_admin")
    before = _counts()
    again = admin.post(f"/api/studies/{study.pk}/cases/", {"cases": [cases[0].code]}, format="json")
    assert again.status_code == 409 and "already in study" in again.json()["detail"]
    # The same case for the same reader in a second open study would make the reading context ambiguous.
    other = _create(admin, name="Second", cases=[cases[0].code], readers=["reader1"])
    assert other.status_code == 409 and "already assigned to reader1" in other.json()["detail"]
    twice_reader = admin.post(f"/api/studies/{study.pk}/readers/", {"readers": ["reader1"]}, format="json")
    assert twice_reader.status_code == 409
    duplicate_name = _create(admin, name="Open study", cases=[cases[2].code])
    assert duplicate_name.status_code == 409
    _unchanged(before)
    # Adding a new case before reading starts works, in every reader's sessions.
    added = admin.post(f"/api/studies/{study.pk}/cases/", {"cases": [cases[2].code]}, format="json")
    assert added.status_code == 201
    assert Assignment.objects.filter(session__study=study, case=cases[2]).count() == 4  # 2 readers x 2 sessions


def test_cases_cannot_be_added_once_reading_started(study, client_for, cases):
    reader = client_for("reader")
    assert reader.post(f"/api/cases/{cases[0].code}/reads/", call_body(), format="json").status_code == 201
    response = client_for("study_admin").post(f"/api/studies/{study.pk}/cases/", {"cases": [cases[2].code]},
                                              format="json")
    assert response.status_code == 409 and "reading has started" in response.json()["detail"]
    # A new reader may still join, with their own sessions.
    joined = client_for("study_admin").post(f"/api/studies/{study.pk}/readers/", {"readers": ["reader3"]},
                                            format="json")
    assert joined.status_code == 201
    assert client_for("reader3").get(f"/api/studies/{study.pk}/worklist/").json()["total"] == 4


@pytest.mark.parametrize(("body", "field"), [
    ({"status": "maybe"}, "status"),
    ({"confidence": 0}, "confidence"),
    ({"confidence": 6}, "confidence"),
    ({"confidence": 2.5}, "confidence"),
    ({"time_spent_s": -1}, "time_spent_s"),
    ({"face_calls": {"+w": "positive"}}, "face"),
    ({"face_calls": {"+x": "perhaps"}}, "face_calls"),
    ({"segmentation_id": 999999}, "segmentation"),
])
def test_malformed_calls_are_refused_with_a_message(study, client_for, cases, body, field):
    before = _counts()
    response = client_for("reader").post(f"/api/cases/{cases[0].code}/reads/", call_body(**body), format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["detail"] and response.json()["code"]
    _unchanged(before)


def test_missing_fields_are_named(study, client_for, cases):
    response = client_for("reader").post(f"/api/cases/{cases[0].code}/reads/", {}, format="json")
    assert response.status_code == 400
    for field in ("status", "confidence", "time_spent_s"):
        assert field in response.json()["detail"]


def test_reading_outside_the_assignment(study, client_for, cases):
    outsider = client_for("reader3")
    response = outsider.post(f"/api/cases/{cases[0].code}/reads/", call_body(), format="json")
    assert response.status_code == 404 and cases[0].code in response.json()["detail"]
    assert outsider.get(f"/studies/{study.pk}/read/{cases[0].code}/").status_code == 404
    # An assigned reader cannot open a case of the study's that is not theirs via the study URL of another study.
    assert client_for("reader").get(f"/studies/{study.pk}/read/{cases[2].code}/").status_code == 404
    # Only readers make calls.
    for role in ("pathologist", "study_admin", "superuser"):
        refused = client_for(role).post(f"/api/cases/{cases[0].code}/reads/", call_body(), format="json")
        assert refused.status_code == 403, role
    assert not Read.objects.exists()


def test_submitting_twice_and_stale_amendments(study, client_for, cases):
    reader = client_for("reader")
    url = f"/api/cases/{cases[0].code}/reads/"
    first = reader.post(url, call_body("negative"), format="json").json()
    twice = reader.post(url, call_body("positive"), format="json")
    assert twice.status_code == 409 and twice.json()["read_id"] == first["id"]
    assert "amend" in twice.json()["detail"]
    second = reader.post(f"{url}{first['id']}/amend/", call_body("close"), format="json")
    assert second.status_code == 201
    stale = reader.post(f"{url}{first['id']}/amend/", call_body("positive"), format="json")
    assert stale.status_code == 409 and str(second.json()["id"]) in stale.json()["detail"]
    assert Read.objects.filter(case=cases[0]).count() == 2
    mine = reader.get(url).json()["results"]
    assert [r["version"] for r in mine] == [2, 1]


def test_amendments_can_be_switched_off(users, client_for, cases):
    study = study_create(user=users["study_admin"], name="Locked calls", design="unaided",
                         case_codes=[cases[0].code], reader_usernames=["reader1"], allow_amendments=False)
    reader = client_for("reader")
    first = reader.post(f"/api/cases/{cases[0].code}/reads/", call_body(), format="json").json()
    refused = reader.post(f"/api/cases/{cases[0].code}/reads/{first['id']}/amend/", call_body("close"), format="json")
    assert refused.status_code == 409
    assert reader.get(f"/api/studies/{study.pk}/worklist/").json()["sessions"][0]["state"] == "done"


def test_submitting_after_the_study_is_closed(study, client_for, cases):
    admin, reader = client_for("study_admin"), client_for("reader")
    first = reader.post(f"/api/cases/{cases[0].code}/reads/", call_body(), format="json").json()
    assert admin.post(f"/api/studies/{study.pk}/close/").status_code == 200
    before = _counts()
    late = reader.post(f"/api/cases/{cases[1].code}/reads/", call_body(), format="json")
    assert late.status_code == 409 and "closed" in late.json()["detail"]
    amend = reader.post(f"/api/cases/{cases[0].code}/reads/{first['id']}/amend/", call_body("close"), format="json")
    assert amend.status_code == 409 and "closed" in amend.json()["detail"]
    assert admin.post(f"/api/studies/{study.pk}/close/").status_code == 409
    assert admin.post(f"/api/studies/{study.pk}/readers/", {"readers": ["reader3"]}, format="json").status_code == 409
    _unchanged(before)
    # After closing, the case is still visible to its readers, read-only.
    assert reader.get(f"/api/cases/{cases[1].code}/").status_code == 200


def test_ground_truth_rules(users, client_for):
    case = make_case()
    pathologist = client_for("pathologist")
    url = f"/api/studies/ground-truth/{case.code}/"
    assert pathologist.post(url, {"margin_status": "positive", "closest_distance_mm": 1.5},
                            format="json").status_code == 400  # positive means 0 mm
    assert pathologist.post(url, {"margin_status": "negative", "face_status": {"+x": "positive"}},
                            format="json").status_code == 400
    assert pathologist.post(url, {"margin_status": "close", "slice_index": 99}, format="json").status_code == 400
    assert pathologist.post(url, {"margin_status": "close", "segmentation_id": 12345}, format="json").status_code == 400
    assert client_for("study_admin").post(url, {"margin_status": "close"}, format="json").status_code == 403
    assert not GroundTruth.objects.exists()
    first = pathologist.post(url, {"margin_status": "close", "closest_distance_mm": 0.4}, format="json").json()
    draft_again = pathologist.post(url, {"margin_status": "negative"}, format="json")
    assert draft_again.status_code == 409 and "not signed off" in draft_again.json()["detail"]
    sign = f"{url}{first['id']}/sign-off/"
    assert pathologist.post(sign).status_code == 200
    assert pathologist.post(sign).status_code == 409
    changed = pathologist.put(f"{url}{first['id']}/", {"margin_status": "negative"}, format="json")
    assert changed.status_code == 409 and changed.json()["code"] == "signed_off"
    assert GroundTruth.objects.get().margin_status == "close"
    assert AuditEvent.objects.filter(action="ground_truth.sign_off").count() == 1


def test_a_reader_who_called_a_case_freely_cannot_read_it_blind(client_for, cases):
    free = client_for("reader").post(f"/api/cases/{cases[2].code}/reads/", call_body(), format="json")
    assert free.status_code == 201 and free.json()["study_id"] is None
    before = _counts()
    response = _create(client_for("study_admin"), cases=[cases[2].code], readers=["reader1"])
    assert response.status_code == 409 and "outside a study" in response.json()["detail"]
    _unchanged(before)
    assert _create(client_for("study_admin"), cases=[cases[2].code], readers=["reader2"]).status_code == 201


def test_calls_follow_each_readers_random_order(users, client_for, cases):
    study = study_create(user=users["study_admin"], name="Ordered", design="unaided",
                         case_codes=[c.code for c in cases], reader_usernames=["reader1"], seed=8)
    order = [a.case.code for a in study.sessions.get().assignments.order_by("position")]
    reader = client_for("reader")
    early = reader.post(f"/api/cases/{order[1]}/reads/", call_body(), format="json")
    assert early.status_code == 409 and early.json()["code"] == "out_of_order"
    assert order[0] in early.json()["detail"]
    context = reader.get(f"/api/cases/{order[1]}/")  # visible, but not callable yet
    assert context.status_code == 200
    rows = reader.get(f"/api/studies/{study.pk}/worklist/").json()["sessions"][0]["cases"]
    assert [r["url"] is not None for r in rows] == [True, False, False]
    assert reader.post(f"/api/cases/{order[0]}/reads/", call_body(), format="json").status_code == 201
    assert reader.post(f"/api/cases/{order[1]}/reads/", call_body(), format="json").status_code == 201
    assert not Read.objects.filter(case__code=order[2]).exists()
