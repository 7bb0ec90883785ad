"""Resumable chunked uploads through the HTTP API: a dropped connection resumes from the server's offset,
complete queues the ingest, the state is visible at every step, and every bad request gets a clear 4xx."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

import cases.upload_ingest
import cases.upload_sessions
from cases.models import Case, UploadSession
from cases.upload_ingest import upload_session_ingest
from inference.models import InferenceRun, ModelVersion
from petctweb.roles import STUDY_ADMIN
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def upload_dir(settings, tmp_path) -> Path:
    settings.PETCTWEB_UPLOAD_DIR = tmp_path / "uploads"
    return settings.PETCTWEB_UPLOAD_DIR


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """Session ids handed to the (default-queue) ingest task; tests run the task's service themselves."""
    ids: list[int] = []
    monkeypatch.setattr(cases.upload_sessions, "_enqueue", ids.append)
    return ids


def study_files(folder: Path) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted(folder.glob("ct/*.dcm")) + sorted(folder.glob("pet/*.dcm"))]


def create(client, files: list[tuple[str, bytes]]):
    return client.post(reverse("api-upload-list"), {"files": [{"name": n, "size": len(b)} for n, b in files]},
                       format="json")


def send(client, url: str, offset, body: bytes, **extra):
    headers = {} if offset is None else {"HTTP_UPLOAD_OFFSET": str(offset)}
    return client.generic("PATCH", url, body, content_type="application/offset+octet-stream", **headers, **extra)


def test_a_dropped_chunk_resumes_from_the_servers_offset_and_the_upload_becomes_a_case(
        client_for, one_case_dir, enqueued, django_capture_on_commit_callbacks, monkeypatch, upload_dir):
    admin = client_for("study_admin")
    files = study_files(one_case_dir)
    stream = b"".join(body for _, body in files)
    created = create(admin, files)
    assert created.status_code == 201, created.content
    session = created.json()
    url = session["url"]
    assert session["offset"] == 0 and session["total_bytes"] == len(stream) and session["state"] == "uploading"

    third = len(stream) // 3
    first = send(admin, url, 0, stream[:third])
    assert first.status_code == 200, first.content
    assert first.json()["offset"] == third

    # The connection drops half-way through the next chunk: the server keeps what arrived and says so.
    planned = stream[third:2 * third]
    # (a body shorter than its Content-Length: what gunicorn's input gives when the client goes away)
    dropped = send(admin, url, third, b"", CONTENT_LENGTH=str(len(planned)),
                   **{"wsgi.input": io.BytesIO(planned[: len(planned) // 2])})
    assert dropped.status_code == 400
    assert dropped.json()["code"] == "incomplete_chunk"
    resume_at = third + len(planned) // 2
    assert dropped.json()["offset"] == resume_at

    head = admin.head(url)
    assert head.status_code == 200 and int(head["Upload-Offset"]) == resume_at
    assert admin.get(url).json()["state"] == "uploading"

    # Resuming from the start instead is refused with the offset to use.
    restart = send(admin, url, 0, stream[:third])
    assert restart.status_code == 409 and restart.json()["code"] == "offset_mismatch"
    assert restart.json()["offset"] == resume_at

    offset = resume_at
    while offset < len(stream):
        chunk = stream[offset: offset + 20_000]  # chunks cross file boundaries
        response = send(admin, url, offset, chunk)
        assert response.status_code == 200, response.content
        offset = response.json()["offset"]
    with django_capture_on_commit_callbacks(execute=True):
        completed = admin.post(session["complete_url"])
    assert completed.status_code == 202, completed.content
    assert completed.json()["state"] == "received"
    assert enqueued == [UploadSession.objects.get().pk]

    # The worker's ingest: every stage is visible through the API while it runs.
    seen = []
    original = cases.upload_ingest._set_state

    def observed(session, state):
        original(session, state)
        seen.append(admin.get(url).json()["state"])

    monkeypatch.setattr(cases.upload_ingest, "_set_state", observed)
    assert upload_session_ingest(session_id=enqueued[0]) == "done"
    assert seen == ["checking", "de-identifying", "resampling"]
    final = admin.get(url).json()
    case = Case.objects.get()
    assert final["cases"] == [case.code] and final["case"] == case.code and final["state"] == "imported"
    assert case.source == "upload"
    assert not any(upload_dir.iterdir())  # the uploaded bytes are gone once ingested
    # Delivered twice (the broker re-delivers after a lost worker): nothing happens the second time.
    assert upload_session_ingest(session_id=enqueued[0]) == "nothing to do"
    assert Case.objects.count() == 1


def test_the_case_state_follows_its_inference_run(client_for, one_case_dir, enqueued,
                                                   django_capture_on_commit_callbacks):
    admin = client_for("study_admin")
    files = study_files(one_case_dir)
    session = create(admin, files).json()
    assert send(admin, session["url"], 0, b"".join(body for _, body in files)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(session["complete_url"])
    upload_session_ingest(session_id=enqueued[0])
    case = Case.objects.get()
    model = ModelVersion.objects.create(name="fake", version="1", architecture="none", config={}, bundle_dir="fake")
    run = InferenceRun.objects.create(case=case, model_version=model, status="queued", threshold_mm=1.0)
    detail_url = reverse("api-case-detail", kwargs={"code": case.code})
    states = []
    for status, progress, message in (("queued", 0, ""), ("running", 40, ""), ("failed", 0, "worker lost twice")):
        InferenceRun.objects.filter(pk=run.pk).update(status=status, progress=progress, message=message)
        states.append((admin.get(session["url"]).json()["state"], admin.get(detail_url).json()["state"]["state"],
                       admin.get(reverse("api-case-list")).json()["results"][0]["state"]["state"]))
    assert states == [("queued",) * 3, ("segmenting",) * 3, ("failed",) * 3]
    assert admin.get(detail_url).json()["state"]["message"] == "worker lost twice"
    InferenceRun.objects.filter(pk=run.pk).update(status="done", progress=100)
    assert admin.get(detail_url).json()["state"]["state"] == "done"


def test_a_failed_ingest_says_why_and_leaves_nothing(client_for, enqueued, django_capture_on_commit_callbacks,
                                                     settings, upload_dir):
    admin = client_for("study_admin")
    files = [("a.dcm", b"not dicom at all" * 100), ("b.dcm", b"\x00" * 300)]
    session = create(admin, files).json()
    assert send(admin, session["url"], 0, b"".join(body for _, body in files)).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(session["complete_url"])
    assert upload_session_ingest(session_id=enqueued[0]) == "failed"
    body = admin.get(session["url"]).json()
    assert body["state"] == "failed" and body["message"].strip() and body["case"] is None
    assert not Case.objects.exists()
    assert not any(upload_dir.iterdir())
    media = Path(settings.MEDIA_ROOT)
    assert not media.exists() or not [p for p in media.rglob("*") if p.is_file()]
    listed = admin.get(reverse("api-ingest-list")).json()["results"]
    assert [(item["kind"], item["state"]) for item in listed] == [("upload", "failed")]


def test_bad_requests_get_clear_errors(client_for, settings, enqueued, upload_dir, django_user_model):
    admin = client_for("study_admin")
    files = [("a.dcm", b"x" * 1000), ("b.dcm", b"y" * 500)]

    for manifest in ([], [{"name": "", "size": 3}], [{"name": "a", "size": -1}], "nope"):
        response = admin.post(reverse("api-upload-list"), {"files": manifest}, format="json")
        assert response.status_code == 400 and response.json()["detail"], manifest

    settings.PETCTWEB_MAX_UPLOAD_BYTES = 1200
    too_big = create(admin, files)
    assert too_big.status_code == 413 and too_big.json()["code"] == "upload_too_large"
    settings.PETCTWEB_MAX_UPLOAD_BYTES = 10_000

    session = create(admin, files).json()
    url = session["url"]
    past_end = send(admin, url, 0, b"z" * 1501)
    assert past_end.status_code == 413 and past_end.json()["code"] == "upload_too_large"
    no_offset = send(admin, url, None, b"z" * 10)
    assert no_offset.status_code == 400 and no_offset.json()["code"] == "offset_required"
    assert send(admin, url, 0, b"x" * 700).status_code == 200
    wrong = send(admin, url, 100, b"x" * 10)
    assert wrong.status_code == 409 and wrong.json() == {**wrong.json(), "code": "offset_mismatch", "offset": 700}
    early = admin.post(session["complete_url"])
    assert early.status_code == 409 and early.json()["code"] == "incomplete_upload"
    assert enqueued == []

    unknown = "0" * 32
    for response in (admin.get(f"/api/uploads/{unknown}/"), admin.head(f"/api/uploads/{unknown}/"),
                     send(admin, f"/api/uploads/{unknown}/", 0, b"x"), admin.post(f"/api/uploads/{unknown}/complete/"),
                     admin.get("/api/uploads/not-a-token/")):
        assert response.status_code == 404
    # Another administrator's upload is not found either.
    assert client_for("superuser").get(url).status_code == 200
    other = APIClient()
    other.force_login(make_user(django_user_model, "admin2", STUDY_ADMIN))
    assert other.get(url).status_code == 404 and send(other, url, 700, b"y" * 10).status_code == 404
    for role in ("reader", "pathologist", "no_role"):
        assert send(client_for(role), url, 700, b"y" * 10).status_code == 403
    assert client_for(None).head(url).status_code in (401, 403)

    # Abandoned: the session expires and its files go.
    folder = Path(UploadSession.objects.get().folder)
    assert folder.exists()
    UploadSession.objects.update(updated_at=timezone.now() - timedelta(hours=settings.PETCTWEB_UPLOAD_SESSION_HOURS + 1))
    expired = send(admin, url, 700, b"x" * 300)
    assert expired.status_code == 410 and expired.json()["code"] == "expired"
    assert not folder.exists()
    assert UploadSession.objects.get().state == "expired"


def test_a_cancelled_upload_takes_no_more_data(client_for, upload_dir):
    admin = client_for("study_admin")
    session = create(admin, [("a.dcm", b"x" * 100)]).json()
    assert admin.delete(session["url"]).status_code == 204
    assert not any(upload_dir.iterdir())
    assert send(admin, session["url"], 0, b"x" * 100).status_code == 410


def test_a_one_request_upload_can_be_ingested_by_the_worker(client_for, one_case_dir, enqueued, upload_dir,
                                                            django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    admin = client_for("study_admin")
    files = [SimpleUploadedFile(name, body) for name, body in study_files(one_case_dir)]
    with django_capture_on_commit_callbacks(execute=True):
        response = admin.post(reverse("api-case-upload") + "?async=1", {"files": files}, format="multipart")
    assert response.status_code == 202, response.content
    assert response.json()["state"] == "received" and not Case.objects.exists()
    assert upload_session_ingest(session_id=enqueued[0]) == "done"
    assert admin.get(response.json()["url"]).json()["case"] == Case.objects.get().code
    assert not any(upload_dir.iterdir())
    empty = admin.post(reverse("api-case-upload") + "?async=1", {}, format="multipart")
    assert empty.status_code == 400 and empty.json()["code"] == "empty"


def test_received_dicom_studies_show_their_state_until_they_are_cases(client_for):
    from cases.models import ReceivedStudy

    now = timezone.now()
    rows = [("receiving", "", ""), ("ingesting", "resampling", "ingesting"), ("queued", "", "queued for ingest"),
            ("incomplete", "", "no PET series was received"), ("failed", "failed", "ingest refused: no CT")]
    for index, (status, stage, message) in enumerate(rows):
        ReceivedStudy.objects.create(study_key=f"k{index}", folder=f"/tmp/none{index}", status=status, stage=stage,
                                     message=message, calling_ae="SCANNER", instances=3, last_received_at=now,
                                     finished_at=now if status == "failed" else None)
    admin = client_for("study_admin")
    listed = {item["id"]: item for item in admin.get(reverse("api-ingest-list")).json()["results"]}
    states = {ReceivedStudy.objects.get(pk=pk).status: (item["kind"], item["state"], item["message"])
              for pk, item in listed.items()}
    assert states == {
        "receiving": ("dicom", "receiving", ""),
        "ingesting": ("dicom", "resampling", "ingesting"),
        "queued": ("dicom", "received", "queued for ingest"),
        "incomplete": ("dicom", "incomplete", "no PET series was received"),
        "failed": ("dicom", "failed", "ingest refused: no CT"),
    }
    assert client_for("reader").get(reverse("api-ingest-list")).status_code == 403
