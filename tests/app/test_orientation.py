"""Specimen orientation through the API: versions, validation, suture conventions, who may record it, and
faces renamed at display time (case detail, ground-truth form, reads export) from the newest version."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from cases.models import SpecimenOrientation

from .specimen_world import make_case_with_result

pytestmark = pytest.mark.django_db


def _url(case) -> str:
    return f"/api/cases/{case.code}/orientation/"


def test_directions_give_both_faces_of_each_axis_and_versions_count_up(client_for):
    case = make_case_with_result(with_result=False)
    admin = client_for("study_admin")
    empty = admin.get(_url(case)).json()
    assert empty["latest"] is None and empty["face_names"]["+x"] == "+x"
    assert any(c["id"] == "short-superior-long-lateral" for c in empty["conventions"])

    first = admin.post(_url(case), {"directions": {"superior": "+z", "lateral": "-x", "anterior": "-y"}}, format="json")
    assert first.status_code == 201, first.content
    assert first.json()["mapping"] == {"+x": "medial", "-x": "lateral", "+y": "posterior", "-y": "anterior",
                                       "+z": "superior", "-z": "inferior"}
    second = admin.post(_url(case), {"mapping": {"+x": "superior", "-x": "inferior"}}, format="json")
    assert second.status_code == 201, second.content
    got = admin.get(_url(case)).json()
    assert [v["version"] for v in got["versions"]] == [2, 1]
    assert got["face_names"] == {"+x": "superior", "-x": "inferior", "+y": "+y", "-y": "-y", "+z": "+z", "-z": "-z"}
    assert AuditEvent.objects.filter(action="specimen_orientation.record", case_code=case.code).count() == 2


def test_a_suture_convention_names_the_faces(client_for):
    case = make_case_with_result(with_result=False)
    body = {"convention": "short-superior-long-lateral", "markers": {"short suture": "-z", "long suture": "+x"}}
    reply = client_for("pathologist").post(_url(case), body, format="json")
    assert reply.status_code == 201, reply.content
    row = SpecimenOrientation.objects.get(case=case)
    assert row.mapping == {"+x": "lateral", "-x": "medial", "+z": "inferior", "-z": "superior"}
    assert row.convention == "short-superior-long-lateral" and row.markers == body["markers"]


@pytest.mark.parametrize("body, fragment", [
    ({"directions": {"superior": "+z", "inferior": "+x"}}, "same anatomical axis"),
    ({"directions": {"superior": "+z", "lateral": "-z"}}, "opposite faces"),
    ({"directions": {"anterior": "+y", "deep": "+x"}}, "same anatomical axis"),
    ({"directions": {"upwards": "+z"}}, "unknown anatomical direction"),
    ({"directions": {"superior": "+w"}}, "unknown scanner face"),
    ({"mapping": {"+x": "superior", "-x": "lateral"}}, "opposite faces must be"),
    ({"mapping": {"+x": "superior", "+y": "superior"}}, "one face only"),
    ({"convention": "no-such", "markers": {"short suture": "+z"}}, "unknown orientation convention"),
    ({"convention": "short-superior-long-lateral", "markers": {"blue clip": "+z"}}, "has no marker"),
    ({}, "exactly one of"),
    ({"directions": {"superior": "+z"}, "mapping": {"+z": "superior"}}, "exactly one of"),
])
def test_bad_orientations_are_refused_with_a_reason_and_nothing_stored(client_for, body, fragment):
    case = make_case_with_result(with_result=False)
    reply = client_for("study_admin").post(_url(case), body, format="json")
    assert reply.status_code == 400
    assert fragment in str(reply.json())
    assert not SpecimenOrientation.objects.filter(case=case).exists()


def test_readers_may_look_but_not_record(client_for):
    case = make_case_with_result(with_result=False)
    reader = client_for("reader")
    assert reader.post(_url(case), {"directions": {"superior": "+z"}}, format="json").status_code == 403
    assert not SpecimenOrientation.objects.filter(case=case).exists()
    assert client_for(None).get(_url(case)).status_code == 403


def test_old_results_follow_a_new_orientation_on_the_case_detail(client_for):
    case = make_case_with_result()
    admin = client_for("study_admin")
    before = admin.get(f"/api/cases/{case.code}/").json()
    assert before["face_names"]["-x"] == "-x" and before["orientation_version"] is None
    admin.post(_url(case), {"directions": {"lateral": "-x"}}, format="json")
    after = admin.get(f"/api/cases/{case.code}/").json()
    assert after["face_names"]["-x"] == "lateral" and after["face_names"]["+x"] == "medial"
    assert after["orientation_version"] == 1
    assert "-x" in after["margin"]["faces"]  # the stored result keeps scanner labels


def test_the_ground_truth_form_shows_anatomical_face_names(client_for):
    case = make_case_with_result(with_result=False)
    client_for("study_admin").post(_url(case), {"directions": {"superior": "+z"}}, format="json")
    page = client_for("pathologist").get(f"/studies/ground-truth/{case.code}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Superior (+z)" in html and "Inferior (-z)" in html
    assert 'data-testid="gt-face-+z"' in html  # the form still posts scanner labels
