"""End to end with a real Celery worker process: upload -> automatic inference -> result.

Runs against whatever DATABASE_URL / CELERY_BROKER_URL say (PostgreSQL + Redis in CI; SQLite and
the file-system broker by default), with a worker started as a separate process on both queues.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from inference.models import InferenceRun
from inference.registry import model_version_register

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPO = Path(__file__).resolve().parents[2]


def _database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    return f"postgres://{auth}{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


@pytest.fixture
def worker(settings, tmp_path):
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        for folder in ("data_folder_in", "processed_folder"):
            for leftover in Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS[folder]).glob("*"):
                leftover.unlink()
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PETCTWEB_MODEL_ROOT": str(settings.PETCTWEB_MODEL_ROOT),
        "PETCTWEB_DEID_SECRET": settings.PETCTWEB_DEID_SECRET,
    })
    log = open(tmp_path / "worker.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "petctweb", "worker", "-Q", "default,gpu", "--concurrency", "1",
         "--pool", "prefork", "--loglevel", "INFO", "-n", f"test-{os.getpid()}@%h"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


def _wait_for(predicate, timeout: float, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"timed out; worker log:\n{log.read_text()[-4000:]}")


def test_upload_runs_inference_automatically_on_a_real_worker(worker, tiny_bundle, one_case_dir, client_for,
                                                               settings, tmp_path):
    settings.PETCTWEB_AUTO_INFERENCE = True
    model_version_register(source_dir=tiny_bundle, name="tiny", version="worker", make_default=True)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(one_case_dir.rglob("*.dcm")):
            archive.write(path, path.relative_to(one_case_dir).as_posix())
    response = client_for("study_admin").post(
        "/api/cases/upload/", {"files": [SimpleUploadedFile("study.zip", buffer.getvalue())]}, format="multipart"
    )
    assert response.status_code == 201, response.content
    code = response.json()["cases"][0]["code"]

    run = InferenceRun.objects.get(case__code=code)
    finished = _wait_for(
        lambda: InferenceRun.objects.filter(pk=run.pk, status__in=["done", "failed"]).first(), 240, tmp_path / "worker.log"
    )
    assert finished.status == "done", finished.message
    assert finished.worker  # recorded which host ran it
    detail = client_for("reader").get(f"/api/cases/{code}/").json()
    assert detail["model"]["status"] == "done"
    assert detail["margin"]["status"] in {"positive", "negative", "no_tumour_detected"}
    assert detail["volumes"]["model_mask"]
    assert settings.CELERY_TASK_ACKS_LATE is True
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        # kombu's default control folder is ./control; ours lives with the rest of the broker's files
        assert not (REPO / "control").exists()
        assert Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["control_folder"]).is_dir()
