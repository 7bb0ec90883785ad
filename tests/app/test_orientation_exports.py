"""Anatomical face names in what leaves the product: the model's margin CSV/JSON, the study reads CSV,
and who the orientation API says may record an orientation (the access policy decides, pages mirror it)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from studies.services import study_create

from .specimen_world import make_case_with_result

pytestmark = pytest.mark.django_db


def _orient(client, case, directions) -> None:
    reply = client.post(f"/api/cases/{case.code}/orientation/", {"directions": directions}, format="json")
    assert reply.status_code == 201, reply.content


def _plain(cell: str) -> str:
    return cell.removeprefix("'")  # petctweb.csv_safety quotes cells that start like a formula ("+x", "-x")


def _face_rows(client, case) -> dict[str, dict]:
    response = client.get(f"/api/cases/{case.code}/results/csv/")
    assert response.status_code == 200, response.content
    rows = csv.DictReader(io.StringIO(response.content.decode()))
    return {_plain(r["name"]): r for r in rows if r["scope"] == "face"}


def test_margin_csv_names_each_face_from_the_newest_orientation(client_for):
    case = make_case_with_result()
    admin = client_for("study_admin")
    before = _face_rows(admin, case)
    assert "-x" in before and all(r["anatomical_name"] == "" for r in before.values())

    _orient(admin, case, {"lateral": "-x", "superior": "+z"})
    rows = _face_rows(admin, case)
    assert rows["-x"]["anatomical_name"] == "lateral"
    assert rows.get("+x", {}).get("anatomical_name", "medial") == "medial"
    assert all(r["anatomical_name"] == "" for face, r in rows.items() if face in ("+y", "-y"))
    assert rows["-x"]["closest_mm"] == before["-x"]["closest_mm"]  # the stored distance is unchanged

    _orient(admin, case, {"lateral": "+x"})  # a new version renames the same stored result
    assert _face_rows(admin, case)["-x"]["anatomical_name"] == "medial"


def test_margin_json_carries_the_face_names_next_to_scanner_labels(client_for):
    case = make_case_with_result()
    admin = client_for("study_admin")
    assert json.loads(admin.get(f"/api/cases/{case.code}/results/json/").content)["face_names"] == {}
    _orient(admin, case, {"anterior": "-y"})
    exported = json.loads(admin.get(f"/api/cases/{case.code}/results/json/").content)
    assert exported["face_names"] == {"+y": "posterior", "-y": "anterior"}
    assert "-x" in exported["margin"]["faces"]  # results keep the scanner labels


def test_reads_csv_renders_per_face_calls_with_anatomical_names(users, client_for):
    case = make_case_with_result(with_result=False)
    study = study_create(user=users["study_admin"], name="Faces", design="unaided", case_codes=[case.code],
                         reader_usernames=["reader1"], enforce_order=False)
    body = {"status": "positive", "confidence": 4, "comment": "", "time_spent_s": 5.0, "segmentation_id": None,
            "face_calls": {"-x": "positive", "+y": "close"}}
    assert client_for("reader").post(f"/api/cases/{case.code}/reads/", body, format="json").status_code == 201
    admin = client_for("study_admin")

    def exported_row() -> dict:
        response = admin.get(f"/api/studies/{study.pk}/results/reads.csv")
        assert response.status_code == 200, response.content
        return next(csv.DictReader(io.StringIO(response.content.decode())))

    row = exported_row()
    assert _plain(row["face_calls"]) == "-x=positive;+y=close" and row["face_names"] == ""
    _orient(admin, case, {"lateral": "-x"})
    row = exported_row()
    assert row["face_calls"] == "lateral=positive;+y=close"
    assert row["face_-x"] == "positive"  # the per-label columns stay as they are, for scripts
    assert "-x=lateral" in _plain(row["face_names"])


@pytest.mark.parametrize("role, may_record", [("study_admin", True), ("pathologist", True), ("reader", False),
                                              ("superuser", True)])
def test_the_orientation_api_tells_the_page_who_may_record(client_for, role, may_record):
    case = make_case_with_result(with_result=False)
    client = client_for(role)
    assert client.get(f"/api/cases/{case.code}/orientation/").json()["can_record"] is may_record
    reply = client.post(f"/api/cases/{case.code}/orientation/", {"directions": {"superior": "+z"}}, format="json")
    assert reply.status_code == (201 if may_record else 403)
    if not may_record:
        assert reply.json()["code"] == "forbidden" and "pathologists" in reply.json()["detail"]
