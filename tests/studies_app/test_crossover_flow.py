"""A complete crossover study through HTTP: create, read unaided, washout, read aided, ground truth, audit."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from studies.models import Read, ReadingSession
from studies.services import reading_session_schedule

from .conftest import call_body, mask_body

pytestmark = pytest.mark.django_db


def viewer_config(client, code: str) -> dict:
    page = client.get(f"/cases/{code}/")
    assert page.status_code == 200
    match = re.search(r'<script id="viewer-config" type="application/json">(.*?)</script>', page.content.decode(), re.S)
    return json.loads(match.group(1))


def next_case(client, study_id: int) -> str | None:
    return client.get(f"/api/studies/{study_id}/worklist/").json()["next_case"]


def open_from_worklist(client, study_id: int) -> str:
    """Follow the worklist's 'next case' like the browser: it records the opening and lands on the viewer."""
    response = client.get(f"/studies/{study_id}/next/")
    assert response.status_code == 302
    read_url = response["Location"]
    code = read_url.rstrip("/").rsplit("/", 1)[-1]
    landed = client.get(read_url)
    assert landed.status_code == 302 and landed["Location"].startswith(f"/cases/{code}/")
    return code


def read_case(client, code: str, status: str) -> dict:
    saved = client.post(f"/api/cases/{code}/segmentations/", mask_body(_case(code)), format="json")
    assert saved.status_code == 201, saved.content
    response = client.post(f"/api/cases/{code}/reads/", call_body(status, segmentation_id=saved.json()["id"],
                                                                   face_calls={"+x": status}), format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _case(code):
    from cases.models import Case

    return Case.objects.get(code=code)


def test_crossover_study_end_to_end(client_for, users, cases):
    admin, r1, r2, path = (client_for("study_admin"), client_for("reader"), client_for("reader2"),
                           client_for("pathologist"))
    codes = sorted(c.code for c in cases)

    # --- the administrator creates the study
    created = admin.post("/api/studies/", {
        "name": "Crossover 1", "design": "crossover", "cases": codes, "readers": ["reader1", "reader2"],
        "margin_threshold_mm": 1.0, "washout_days": 28, "seed": 7}, format="json")
    assert created.status_code == 201, created.content
    study = created.json()
    assert study["positive_categories"] == ["positive", "close"]  # close counts as positive by default
    sid = study["id"]

    # Orders: one per reader and session, reproducible from the seed.
    orders = {(s.reader.username, s.number): [a.case.code for a in s.assignments.order_by("position")]
              for s in ReadingSession.objects.filter(study_id=sid).select_related("reader")}
    assert all(sorted(order) == codes for order in orders.values())
    assert len({tuple(o) for o in orders.values()}) > 1  # not one shared order

    # --- session 1 (unaided) for reader 1: model hidden in the page and the API
    for _ in codes:
        code = open_from_worklist(r1, sid)
        config = viewer_config(r1, code)
        assert config["canSeeModel"] is False and config["canSeeGroundTruth"] is False
        assert config["readContext"]["studyId"] == sid and config["readContext"]["session"] == 1
        assert config["readContext"]["aided"] is False and config["readContext"]["canCall"] is True
        assert r1.get(f"/api/cases/{code}/volumes/model_mask/").status_code == 403
        assert r1.get(f"/api/cases/{code}/").json()["margin"] is None
        read = read_case(r1, code, "negative")
        assert read["aided"] is False and read["session"] == 1 and read["opened_at"] is not None
    assert next_case(r1, sid) is None

    # Session 2 waits for the washout; the unaided call can still be amended meanwhile.
    session2 = ReadingSession.objects.get(study_id=sid, reader=users["reader"], number=2)
    assert session2.opens_at > timezone.now() + timedelta(days=27)
    worklist = r1.get(f"/api/studies/{sid}/worklist/").json()
    assert [s["state"] for s in worklist["sessions"]] == ["done", "waiting"]
    first = codes[0]
    config = viewer_config(r1, first)
    assert config["canSeeModel"] is False and config["readContext"]["session"] == 1
    assert r1.get(f"/api/cases/{first}/volumes/model_mask/").status_code == 403
    again = r1.post(f"/api/cases/{first}/reads/", call_body("positive"), format="json")
    assert again.status_code == 409 and again.json()["read_id"] == config["readContext"]["readId"]
    assert "opens on" in again.json()["detail"]
    amended = r1.post(f"/api/cases/{first}/reads/{config['readContext']['readId']}/amend/", call_body("close"),
                      format="json")
    assert amended.status_code == 201 and amended.json()["version"] == 2
    assert amended.json()["amends"] == config["readContext"]["readId"]

    # --- reader 2's aided session is opened early by the administrator, before any unaided read:
    # each case still comes unaided first.
    r2_session2 = ReadingSession.objects.get(study_id=sid, reader=users["reader2"], number=2)
    opened = admin.post(f"/api/studies/{sid}/sessions/{r2_session2.pk}/schedule/", {"opens_at": "now"}, format="json")
    assert opened.status_code == 200
    code = code_r2_first = open_from_worklist(r2, sid)
    assert viewer_config(r2, code)["canSeeModel"] is False
    read = read_case(r2, code, "positive")
    assert read["session"] == 1 and read["aided"] is False
    config = viewer_config(r2, code)  # its aided read is open now
    assert config["canSeeModel"] is True and config["readContext"]["session"] == 2
    assert r2.get(f"/api/cases/{code}/volumes/model_mask/").status_code == 200
    aided = r2.post(f"/api/cases/{code}/reads/", call_body("positive"), format="json")
    assert aided.status_code == 201 and aided.json()["session"] == 2 and aided.json()["aided"] is True
    seen = []
    while next_case(r2, sid) is not None:
        code = open_from_worklist(r2, sid)
        seen.append((code, viewer_config(r2, code)["readContext"]["session"]))
        read_case(r2, code, "negative")
    # The rest of session 1, then session 2 in its own order.
    assert seen == [(c, 1) for c in orders[("reader2", 1)] if c != code_r2_first] + [
        (c, 2) for c in orders[("reader2", 2)] if c != code_r2_first]

    # --- the washout ends for reader 1 (time moved through the service, not by mocking)
    reading_session_schedule(session=session2, user=users["study_admin"], opens_at=timezone.now() - timedelta(seconds=1))
    worklist = r1.get(f"/api/studies/{sid}/worklist/").json()
    assert [s["state"] for s in worklist["sessions"]] == ["done", "open"]
    aided_order = [c["code"] for c in worklist["sessions"][1]["cases"]]
    assert aided_order == orders[("reader1", 2)]
    for expected in aided_order:
        code = open_from_worklist(r1, sid)
        assert code == expected  # resumes in the session's own order
        config = viewer_config(r1, code)
        assert config["canSeeModel"] is True and config["readContext"]["aided"] is True
        assert r1.get(f"/api/cases/{code}/volumes/model_mask/").status_code == 200
        assert r1.get(f"/api/cases/{code}/").json()["margin"]["status"] == "positive"
        read_case(r1, code, "positive")
    assert next_case(r1, sid) is None
    # An unaided call cannot be amended once the aided session has started.
    stale = r1.post(f"/api/cases/{first}/reads/{amended.json()['id']}/amend/", call_body("negative"), format="json")
    assert stale.status_code == 409

    # --- the pathologist records ground truth with an outline drawn in the viewer
    gt_case = _case(first)
    outline = path.post(f"/api/cases/{first}/segmentations/", mask_body(gt_case), format="json")
    assert outline.status_code == 201 and outline.json()["source"] == "ground_truth"
    gt = path.post(f"/api/studies/ground-truth/{first}/", {
        "margin_status": "close", "closest_distance_mm": 0.6, "face_status": {"+x": "close", "-y": "negative"},
        "tumour_type": "invasive carcinoma NST", "segmentation_id": outline.json()["id"], "slice_index": 2},
        format="json")
    assert gt.status_code == 201, gt.content
    gt_id = gt.json()["id"]
    edited = path.put(f"/api/studies/ground-truth/{first}/{gt_id}/", {
        "margin_status": "close", "closest_distance_mm": 0.5, "segmentation_id": outline.json()["id"],
        "slice_index": 2}, format="json")
    assert edited.status_code == 200 and edited.json()["closest_distance_mm"] == 0.5
    assert path.post(f"/api/studies/ground-truth/{first}/{gt_id}/sign-off/").status_code == 200
    locked = path.put(f"/api/studies/ground-truth/{first}/{gt_id}/", {"margin_status": "negative"}, format="json")
    assert locked.status_code == 409 and "new version" in locked.json()["detail"]
    no_reason = path.post(f"/api/studies/ground-truth/{first}/", {"margin_status": "negative",
                                                                  "closest_distance_mm": 2.5}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["detail"]
    corrected = path.post(f"/api/studies/ground-truth/{first}/", {
        "margin_status": "negative", "closest_distance_mm": 2.5, "correction_reason": "re-cut of the block"},
        format="json")
    assert corrected.status_code == 201 and corrected.json()["version"] == 2
    assert corrected.json()["supersedes"] == gt_id and corrected.json()["signed_off"] is False
    assert path.post(f"/api/studies/ground-truth/{first}/{corrected.json()['id']}/sign-off/").status_code == 200
    versions = admin.get(f"/api/studies/ground-truth/{first}/").json()["results"]
    assert [v["version"] for v in versions] == [2, 1] and all(v["signed_off"] for v in versions)
    assert versions[1]["margin_status"] == "close"  # the signed-off first version is kept unchanged

    # --- progress, export, closing
    detail = admin.get(f"/api/studies/{sid}/").json()
    assert {p["reader"]: (p["done"], p["total"]) for p in detail["progress"]} == {
        "reader1": (6, 6), "reader2": (6, 6)}
    export = admin.get(f"/api/studies/{sid}/reads/export/")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert len(rows) == Read.objects.filter(study_id=sid).count() == 13  # 12 calls + 1 amendment
    assert {r["positive"] for r in rows if r["status"] == "close"} == {"1"}
    assert admin.post(f"/api/studies/{sid}/close/").status_code == 200
    late = r1.post(f"/api/cases/{codes[1]}/reads/", call_body("positive"), format="json")
    assert late.status_code == 409
    config = viewer_config(r1, codes[1])
    assert config["canCall"] is False and config["readContext"]["canCall"] is False

    # --- the audit trail holds the whole study
    trail = admin.get("/api/studies/audit/", {"study": sid, "limit": 1000}).json()
    actions = [e["action"] for e in trail["results"]]
    for action in ("study.create", "read.open", "read.submit", "read.amend", "session.schedule", "reads.export",
                   "study.close"):
        assert action in actions, action
    assert actions.count("read.submit") == 12
    gt_trail = [e["action"] for e in admin.get("/api/studies/audit/", {"case": first, "action": "ground_truth"}).json()["results"]]
    for action in ("ground_truth.create", "ground_truth.update", "ground_truth.sign_off", "ground_truth.correct",
                   "ground_truth.view"):
        assert action in gt_trail, action
    exported = admin.get("/api/studies/audit/export/", {"study": sid})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    assert exported.content.decode().count("read.submit") == 12
    assert AuditEvent.objects.filter(action="audit.export", actor=users["study_admin"]).exists()


def test_final_reads_and_ground_truth_for_statistics(users, client_for, cases):
    from studies.selectors import ground_truth_final, study_final_reads
    from studies.services import ground_truth_record, ground_truth_sign_off, study_create

    study = study_create(user=users["study_admin"], name="Stats", design="unaided", case_codes=[cases[0].code],
                         reader_usernames=["reader1"])
    reader = client_for("reader")
    first = reader.post(f"/api/cases/{cases[0].code}/reads/", call_body("negative"), format="json").json()
    reader.post(f"/api/cases/{cases[0].code}/reads/{first['id']}/amend/", call_body("close"), format="json")
    assert [(r.status, r.version) for r in study_final_reads(study=study)] == [("close", 2)]
    gt = ground_truth_record(user=users["pathologist"], case=cases[0], margin_status="positive")
    assert ground_truth_final(cases=[cases[0]]) == {}  # not signed off yet
    ground_truth_sign_off(user=users["pathologist"], ground_truth=gt)
    ground_truth_record(user=users["pathologist"], case=cases[0], margin_status="negative", correction_reason="x")
    assert ground_truth_final(cases=[cases[0]])[cases[0].pk].pk == gt.pk  # the unsigned correction does not count
