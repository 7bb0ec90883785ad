"""Orientation recorded at upload: the page offers the site's suture conventions and the scanner directions
(optional, no inline script), refuses an impossible choice before sending a byte, and records the chosen
orientation on the imported case through the orientation API."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection

import cases.upload_sessions
from cases.models import Case, SpecimenOrientation, UploadSession
from cases.upload_ingest import upload_session_ingest
from petctweb.roles import STUDY_ADMIN

SITE_CONVENTIONS = (
    {"id": "clips", "label": "One clip = superior, two clips = lateral",
     "markers": {"one clip": "superior", "two clips": "lateral"}},
)


@pytest.mark.django_db
def test_the_upload_page_offers_directions_and_the_sites_conventions(client_for, settings):
    settings.PETCTWEB_ORIENTATION_CONVENTIONS = SITE_CONVENTIONS
    html = client_for("study_admin").get("/upload/").content.decode()
    assert 'data-testid="upload-orientation"' in html
    assert '<option value="clips">One clip = superior, two clips = lateral</option>' in html
    assert 'data-testid="upload-orient-clips-two-clips"' in html and 'data-key="two clips"' in html
    for direction in ("superior", "lateral", "anterior"):
        assert f'data-testid="upload-orient-{direction}"' in html
    assert html.count('<option value="-z">-z</option>') == 3 + 2  # every select offers every scanner face
    assert "<script>" not in html and "frontend/upload.mjs" in html  # strict CSP: module scripts only
    assert client_for("pathologist").get("/upload/").status_code == 403


def _ingest_in_background(session_id: int) -> None:
    # Stands in for the default-queue worker (tests/app/test_worker.py covers the real one).
    def run():
        try:
            upload_session_ingest(session_id=session_id)
        finally:
            connection.close()

    threading.Thread(target=run, daemon=True).start()


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_an_orientation_chosen_at_upload_is_recorded_on_the_new_case(
        page, live_server, django_user_model, settings, tmp_path, one_case_dir, monkeypatch, shot):
    from tests.browser.conftest import login

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PETCTWEB_UPLOAD_DIR = tmp_path / "uploads"
    settings.PETCTWEB_ORIENTATION_CONVENTIONS = SITE_CONVENTIONS
    monkeypatch.setattr(cases.upload_sessions, "_enqueue", _ingest_in_background)
    admin = django_user_model.objects.create_user(username="or_admin", password="or_admin-pass-1")
    admin.groups.add(Group.objects.get_or_create(name=STUDY_ADMIN)[0])
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    files = [str(p) for p in sorted(one_case_dir.glob("ct/*.dcm")) + sorted(one_case_dir.glob("pet/*.dcm"))]
    login(page, live_server, "or_admin", "or_admin-pass-1")
    page.goto(f"{live_server.url}/upload/")
    page.get_by_test_id("upload-orientation").locator("summary").click()

    # Two sutures along one scanner axis: refused at once, nothing uploaded.
    page.get_by_test_id("upload-orientation-convention").select_option("clips")
    page.get_by_test_id("upload-orient-clips-one-clip").select_option("+z")
    page.get_by_test_id("upload-orient-clips-two-clips").select_option("-z")
    page.set_input_files("#file-input", files)
    assert "z axis" in page.get_by_test_id("upload-status").inner_text()
    assert not UploadSession.objects.exists()

    page.get_by_test_id("upload-orient-clips-two-clips").select_option("-x")
    page.set_input_files("#file-input", [])
    page.set_input_files("#file-input", files)
    state = page.get_by_test_id("upload-orientation-state")
    state.wait_for(timeout=120_000)
    page.wait_for_function("document.querySelector('[data-testid=upload-orientation-state]').dataset.kind")
    assert state.get_attribute("data-kind") == "ok", state.inner_text()
    case = Case.objects.get()
    row = SpecimenOrientation.objects.get(case=case)
    assert row.convention == "clips" and row.markers == {"one clip": "+z", "two clips": "-x"}
    assert row.mapping["+z"] == "superior" and row.mapping["-x"] == "lateral" and row.author == admin
    assert f"recorded on {case.code}" in state.inner_text()
    shot(page, "upload-orientation-recorded")
    assert problems == []
