"""The upload page sends a study in chunks with a progress bar to the end, resumes after a dropped
connection from the server's offset, and shows the ingest's state until the case appears."""

from __future__ import annotations

import threading

import pytest
from django.contrib.auth.models import Group
from django.db import connection

import cases.upload_sessions
from cases.models import Case, UploadSession
from cases.upload_ingest import upload_session_ingest
from petctweb.roles import STUDY_ADMIN
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _ingest_in_background(session_id: int) -> None:
    # Stands in for the default-queue worker (tests/app/test_worker.py covers the real one).
    def run():
        try:
            upload_session_ingest(session_id=session_id)
        finally:
            connection.close()

    threading.Thread(target=run, daemon=True).start()


def test_a_chunked_upload_resumes_after_a_dropped_connection_and_the_case_appears(
        page, live_server, django_user_model, settings, tmp_path, one_case_dir, monkeypatch, shot):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PETCTWEB_UPLOAD_DIR = tmp_path / "uploads"
    files = sorted(one_case_dir.glob("ct/*.dcm")) + sorted(one_case_dir.glob("pet/*.dcm"))
    total = sum(path.stat().st_size for path in files)
    settings.PETCTWEB_UPLOAD_CHUNK_BYTES = total // 6 + 1  # about six chunks
    monkeypatch.setattr(cases.upload_sessions, "_enqueue", _ingest_in_background)
    admin = django_user_model.objects.create_user(username="up_admin", password="up_admin-pass-1")
    admin.groups.add(Group.objects.get_or_create(name=STUDY_ADMIN)[0])

    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    chunks: list[str] = []
    dropped: list[str] = []

    def drop_the_third_chunk(route, request):
        if request.method == "PATCH":
            chunks.append(request.headers.get("upload-offset"))
            if len(chunks) == 3 and not dropped:
                dropped.append(request.headers.get("upload-offset"))
                route.abort("connectionreset")
                return
        route.continue_()

    page.route("**/api/uploads/*/", drop_the_third_chunk)
    login(page, live_server, "up_admin", "up_admin-pass-1")
    page.goto(f"{live_server.url}/upload/")
    page.set_input_files("#file-input", [str(path) for path in files])

    link = page.get_by_test_id("uploaded-case")
    link.wait_for(timeout=120_000)
    assert page.get_by_test_id("upload-progress").evaluate("bar => bar.value") == 100
    assert "Imported 1 case(s)" in page.get_by_test_id("upload-status").inner_text()
    assert page.get_by_test_id("upload-state").get_attribute("data-state") == "imported"
    # The dropped chunk was sent again from the server's offset, not from the start.
    assert dropped and chunks.count(dropped[0]) == 2, chunks
    assert chunks[0] == "0" and chunks.count("0") == 1, chunks
    assert len(chunks) >= 6
    session = UploadSession.objects.get()
    assert session.received_bytes == session.total_bytes == total
    code = Case.objects.get().code
    assert link.inner_text() == code
    shot(page, "upload-chunked-done")

    # The case list shows the case with its state, and the upload among what arrived.
    page.goto(f"{live_server.url}/")
    assert page.locator(f"a[href='/cases/{code}/']").first.is_visible()
    page.get_by_test_id("ingests").locator("li").first.wait_for()
    assert code in page.get_by_test_id("ingests").inner_text()
    assert page.get_by_test_id("case-state").first.inner_text() == "imported"
    assert not problems, problems
