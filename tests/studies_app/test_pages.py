"""The study pages: create a study, follow it, read from the worklist, record ground truth, audit log."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from studies.models import GroundTruth, ReadingSession, Study
from studies.services import study_close, study_create

from .conftest import call_body, mask_body

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_admin_creates_and_manages_a_study_in_the_browser(client_for, cases):
    admin = client_for("study_admin")
    form = _html(admin.get("/studies/new/"))
    assert 'data-testid="study-form"' in form and "reader-option-reader1" in form
    assert "reader-option-path1" not in form  # only pure readers are offered
    bad = admin.post("/studies/new/", {"name": "Browser study", "design": "crossover", "cases": [],
                                       "readers": ["reader1"]})
    assert "choose at least one case" in _html(bad) and not Study.objects.exists()
    created = admin.post("/studies/new/", {
        "name": "Browser study", "design": "crossover", "cases": [c.code for c in cases[:2]],
        "readers": ["reader1", "reader2"], "margin_threshold_mm": "2", "washout_days": "14", "seed": "99",
        "positive_categories": ["close"], "allow_amendments": "on"})
    study = Study.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/studies/{study.pk}/"
    assert (study.margin_threshold_mm, study.washout_days, study.seed) == (2.0, 14, 99)
    assert study.positive_categories == ["positive", "close"]
    detail = _html(admin.get(f"/studies/{study.pk}/"))
    for testid in ("study-summary", "progress-table", "session-reader1-1", "add-cases-form", "gt-import-form",
                   "close-study", "export-reads"):
        assert f'data-testid="{testid}"' in detail, testid
    listing = _html(admin.get("/studies/"))
    assert "Browser study" in listing and 'data-testid="nav-studies"' in listing
    # Actions post back with messages.
    session = ReadingSession.objects.get(study=study, reader__username="reader1", number=2)
    done = admin.post(f"/studies/{study.pk}/action/", {"action": "schedule", "session_id": session.pk,
                                                       "opens_at": "now"}, follow=True)
    assert "opens" in _html(done)
    session.refresh_from_db()
    assert session.opens_at is not None
    twice = admin.post(f"/studies/{study.pk}/action/", {"action": "add_cases", "cases": [cases[0].code]}, follow=True)
    assert "already in study" in _html(twice)
    csv_file = SimpleUploadedFile("gt.csv", f"case_code,margin_status\n{cases[0].code},bogus\n".encode())
    imported = admin.post(f"/studies/{study.pk}/action/", {"action": "import_ground_truth", "file": csv_file,
                                                           "sign_off": "on"}, follow=True)
    assert "row 2" in _html(imported) and not GroundTruth.objects.exists()
    closed = admin.post(f"/studies/{study.pk}/action/", {"action": "close"}, follow=True)
    assert "is closed" in _html(closed)
    study.refresh_from_db()
    assert study.status == "closed"


def test_reader_worklist_progress_next_and_resume(users, client_for, cases):
    study = study_create(user=users["study_admin"], name="Worklist", design="unaided",
                         case_codes=[c.code for c in cases], reader_usernames=["reader1"], seed=4)
    reader = client_for("reader")
    home = _html(reader.get("/studies/"))
    assert 'data-testid="my-studies"' in home and 'data-testid="resume"' in home
    assert 'data-testid="nav-studies"' in home
    page = _html(reader.get(f"/studies/{study.pk}/worklist/"))
    assert "0 of 3 reads done" in page and 'data-testid="next-case"' in page
    order = [a.case.code for a in study.sessions.get().assignments.order_by("position")]
    first = reader.get(f"/studies/{study.pk}/next/")
    assert first["Location"] == f"/studies/{study.pk}/read/{order[0]}/"
    assert reader.get(first["Location"])["Location"] == f"/cases/{order[0]}/?study={study.pk}"
    saved = reader.post(f"/api/cases/{order[0]}/segmentations/", mask_body(cases[0]), format="json")
    assert saved.status_code == 201
    reader.post(f"/api/cases/{order[0]}/reads/", call_body(), format="json")
    page = _html(reader.get(f"/studies/{study.pk}/worklist/"))
    assert "1 of 3 reads done (33%)" in page
    # Resume where the reader left off: the next case in this reader's order.
    assert reader.get(f"/studies/{study.pk}/next/")["Location"] == f"/studies/{study.pk}/read/{order[1]}/"
    study_close(study=study, user=users["study_admin"])
    page = _html(reader.get(f"/studies/{study.pk}/worklist/"))
    assert 'data-testid="next-case"' not in page and "The study is closed." in page
    assert reader.get(f"/studies/{study.pk}/next/")["Location"] == f"/studies/{study.pk}/worklist/"


def test_orders_are_random_per_reader_and_reproducible_from_the_seed(users, cases):
    codes = [c.code for c in cases]

    def orders(name):
        study = study_create(user=users["study_admin"], name=name, design="crossover", case_codes=codes,
                             reader_usernames=["reader1", "reader2"], seed=12345)
        result = {(s.reader.username, s.number): [a.case.code for a in s.assignments.order_by("position")]
                  for s in study.sessions.select_related("reader")}
        study_close(study=study, user=users["study_admin"])
        return result

    first, second = orders("A"), orders("B")
    assert first == second
    assert len(first) == 4 and all(sorted(o) == sorted(codes) for o in first.values())


def test_pathologist_records_ground_truth_in_the_browser(users, client_for, cases):
    study_create(user=users["study_admin"], name="GT", design="unaided", case_codes=[cases[0].code],
                 reader_usernames=["reader1"])
    pathologist = client_for("pathologist")
    assert pathologist.get("/studies/")["Location"] == "/studies/ground-truth/"
    listing = _html(pathologist.get("/studies/ground-truth/"))
    assert 'data-testid="gt-table"' in listing and cases[0].code in listing
    url = f"/studies/ground-truth/{cases[0].code}/"
    page = _html(pathologist.get(url))
    assert 'data-testid="gt-form"' in page and f'href="/cases/{cases[0].code}/"' in page
    outline = pathologist.post(f"/api/cases/{cases[0].code}/segmentations/", mask_body(cases[0]), format="json")
    assert f"#{outline.json()['id']} v1" in _html(pathologist.get(url))
    wrong = pathologist.post(url, {"action": "save", "margin_status": "positive", "closest_distance_mm": "2"})
    assert "tumour at ink" in _html(wrong) and not GroundTruth.objects.exists()
    saved = pathologist.post(url, {"action": "save", "margin_status": "close", "closest_distance_mm": "0.3",
                                   "face_+x": "close", "segmentation_id": str(outline.json()["id"]),
                                   "slice_index": "1", "tumour_type": "NST"})
    assert saved.status_code == 302
    gt = GroundTruth.objects.get()
    assert gt.face_status == {"+x": "close"} and gt.segmentation_id == outline.json()["id"] and gt.slice_index == 1
    pathologist.post(url, {"action": "save", "margin_status": "close", "closest_distance_mm": "0.4"})
    gt.refresh_from_db()
    assert gt.closest_distance_mm == 0.4 and GroundTruth.objects.count() == 1
    pathologist.post(url, {"action": "sign_off", "ground_truth_id": gt.pk})
    page = _html(pathologist.get(url))
    assert "signed off" in page and 'data-testid="gt-reason"' in page
    no_reason = pathologist.post(url, {"action": "correct", "margin_status": "negative",
                                       "closest_distance_mm": "2"})
    assert "needs a reason" in _html(no_reason)
    pathologist.post(url, {"action": "correct", "margin_status": "negative", "closest_distance_mm": "2",
                           "correction_reason": "second opinion"})
    assert list(GroundTruth.objects.order_by("version").values_list("version", "margin_status")) == [
        (1, "close"), (2, "negative")]
    # Administrators see it, read-only.
    admin_page = _html(client_for("study_admin").get(url))
    assert 'data-testid="gt-versions"' in admin_page and 'data-testid="gt-form"' not in admin_page
    assert client_for("study_admin").post(url, {"action": "save", "margin_status": "close"}).status_code == 403


def test_audit_page_filters_and_export(users, client_for, cases):
    study = study_create(user=users["study_admin"], name="Audited", design="unaided", case_codes=[cases[0].code],
                         reader_usernames=["reader1"])
    client_for("reader").post(f"/api/cases/{cases[0].code}/reads/", call_body(), format="json")
    admin = client_for("study_admin")
    page = _html(admin.get("/studies/audit/", {"study": study.pk}))
    assert "study.create" in page and "read.submit" in page
    only_reads = _html(admin.get("/studies/audit/", {"action": "read.", "actor": "reader1"}))
    assert "read.submit" in only_reads and "study.create" not in only_reads.split("audit-table", 1)[1]
    empty = _html(admin.get("/studies/audit/", {"until": "2000-01-01"}))
    assert "0 event(s)" in empty
    assert "must be a date" in _html(admin.get("/studies/audit/", {"since": "yesterday"}))
    api = admin.get("/api/studies/audit/", {"case": cases[0].code, "since": "2000-01-01"}).json()
    assert api["count"] >= 1 and all(e["case_code"] == cases[0].code for e in api["results"])
    assert admin.get("/api/studies/audit/", {"since": "soon"}).status_code == 400
    export = admin.get("/api/studies/audit/export/", {"action": "read."})
    lines = export.content.decode().strip().splitlines()
    assert lines[0].startswith("id,at,actor,action") and len(lines) == 2


def test_the_audit_log_has_no_write_path(client_for):
    admin = client_for("superuser")
    for method in ("post", "put", "patch", "delete"):
        assert getattr(admin, method)("/api/studies/audit/").status_code == 405
    assert admin.get("/admin/audit/auditevent/add/").status_code == 403
