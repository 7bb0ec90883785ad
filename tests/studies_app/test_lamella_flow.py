"""Lamella studies through the HTTP API: creation (from ground truth or given units), bad input,
per-unit crossover with blinding and order, and the viewer's read context."""

from __future__ import annotations

import pytest

from studies.models import Read, ReadingSession, ReadingUnit
from studies.services import ground_truth_record
from tests.studies_app.conftest import call_body


def _create(client, cases, **extra):
    body = {"name": "lamellae", "design": "crossover", "cases": [c.code for c in cases], "readers": ["reader1"],
            "reading_unit": "lamella", "washout_days": 0, **extra}
    return client.post("/api/studies/", body, format="json")


@pytest.mark.parametrize("extra, code", [
    ({"units": [{"case": "X", "slice_index": 1}]}, "unknown_case"),
    ({"units": "not a list"}, None),
    ({"reading_unit": "slab"}, None),
])
def test_bad_unit_input_is_a_clear_400(cases, client_for, extra, code):
    response = _create(client_for("study_admin"), cases[:1], **extra)
    assert response.status_code == 400
    if code:
        assert response.json()["code"] == code


def test_slice_out_of_range_and_missing_slice_indices_are_refused(cases, client_for, users):
    admin = client_for("study_admin")
    out = _create(admin, cases[:1], units=[{"case": cases[0].code, "slice_index": 4}])
    assert out.status_code == 400 and out.json()["code"] == "slice_out_of_range"
    assert "0 to 3" in out.json()["detail"]
    lacking = _create(admin, cases[:2])
    assert lacking.status_code == 400 and lacking.json()["code"] == "no_slice_index"
    assert cases[0].code in lacking.json()["detail"]
    twice = _create(admin, cases[:1], units=[{"case": cases[0].code, "slice_index": 1},
                                             {"case": cases[0].code, "slice_index": 1, "label": "other"}])
    assert twice.status_code == 400
    uncovered = _create(admin, cases[:2], units=[{"case": cases[0].code, "slice_index": 1}])
    assert uncovered.status_code == 400 and cases[1].code in uncovered.json()["detail"]
    specimen_units = _create(admin, cases[:1], reading_unit="specimen",
                             units=[{"case": cases[0].code, "slice_index": 1}])
    assert specimen_units.status_code == 400
    assert not ReadingUnit.objects.exists()
    bad_section = client_for("pathologist").post(f"/api/studies/ground-truth/{cases[0].code}/", {
        "margin_status": "negative", "section_status": {"9": "positive"}}, format="json")
    assert bad_section.status_code == 400 and bad_section.json()["code"] == "slice_out_of_range"


def test_units_from_ground_truth_and_a_crossover_per_unit(cases, client_for, users):
    for case, k in zip(cases[:2], (1, 2), strict=True):
        ground_truth_record(user=users["pathologist"], case=case, margin_status="negative", slice_index=k)
    admin = client_for("study_admin")
    created = _create(admin, cases[:2], allow_context=False)
    assert created.status_code == 201, created.json()
    study = created.json()
    assert study["reading_unit"] == "lamella" and study["allow_context"] is False
    assert {(u["case"], u["slice_index"], u["source"]) for u in study["units"]} == {
        (cases[0].code, 1, "ground_truth"), (cases[1].code, 2, "ground_truth")}
    reader = client_for("reader")
    worklist = reader.get(f"/api/studies/{study['id']}/worklist/").json()
    first = worklist["sessions"][0]["cases"]
    assert [row["slice_index"] is not None for row in first] == [True, True]
    order = [(row["code"], row["unit"]) for row in first]

    # A call in a lamella study names its unit; a unit of another case is not found.
    no_unit = reader.post(f"/api/cases/{order[0][0]}/reads/", call_body(), format="json")
    assert no_unit.status_code == 400 and no_unit.json()["code"] == "unit_required"
    wrong = reader.post(f"/api/cases/{order[0][0]}/reads/", call_body(unit=order[1][1]), format="json")
    assert wrong.status_code == 404
    # Order: the second unit is queued until the first is called.
    queued = reader.post(f"/api/cases/{order[1][0]}/reads/", call_body(unit=order[1][1]), format="json")
    assert queued.status_code == 409 and queued.json()["code"] == "out_of_order"

    # The viewer's context: the unit's slice, no scrolling, model hidden while unaided.
    page = reader.get(f"/cases/{order[0][0]}/?unit={order[0][1]}")
    config = page.context["viewer_config"]
    assert config["readContext"]["sliceIndex"] in (1, 2) and config["readContext"]["allowContext"] is False
    assert config["canSeeModel"] is False
    assert reader.get(f"/cases/{order[0][0]}/?unit=999999").status_code == 404

    for code, unit in order:
        assert reader.post(f"/api/cases/{code}/reads/", call_body("negative", unit=unit),
                           format="json").status_code == 201
    second = ReadingSession.objects.get(study_id=study["id"], number=2)
    assert second.opens_at is not None  # washout 0: the aided session is open
    page = reader.get(f"/cases/{order[0][0]}/?unit={order[0][1]}")
    assert page.context["viewer_config"]["canSeeModel"] is True
    # The aided session has its own random order (the study's seed is random: follow the worklist).
    aided = reader.get(f"/api/studies/{study['id']}/worklist/").json()["sessions"][1]["cases"]
    for code, unit in [(row["code"], row["unit"]) for row in aided]:
        response = reader.post(f"/api/cases/{code}/reads/", call_body("positive", unit=unit), format="json")
        assert response.status_code == 201 and response.json()["unit"] == unit
    keys = set(Read.objects.filter(study_id=study["id"]).values_list("context_key", flat=True))
    assert len(keys) == 4 and all(":unit:" in key for key in keys)
    again = reader.post(f"/api/cases/{order[0][0]}/reads/", call_body(unit=order[0][1]), format="json")
    assert again.status_code == 409


def test_whole_specimen_calls_refuse_a_unit(cases, client_for):
    admin = client_for("study_admin")
    created = admin.post("/api/studies/", {"name": "whole", "design": "unaided", "cases": [cases[0].code],
                                            "readers": ["reader1"]}, format="json")
    assert created.status_code == 201 and created.json()["reading_unit"] == "specimen"
    response = client_for("reader").post(f"/api/cases/{cases[0].code}/reads/", call_body(unit=1), format="json")
    assert response.status_code in (400, 404)
