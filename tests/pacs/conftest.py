"""Fixtures for results-to-PACS: a case with a finished model run, tasks run in-process, a real Orthanc."""

from __future__ import annotations

import io
import json
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command

ORTHANC = shutil.which("Orthanc")
DCIODVFY = shutil.which("dciodvfy")


@pytest.fixture
def pacs_settings(settings):
    settings.PETCTWEB_PACS_MAX_ATTEMPTS = 3
    settings.PETCTWEB_PACS_RETRY_BASE_S = 5
    settings.PETCTWEB_PACS_TIMEOUT_S = 10
    settings.PETCTWEB_REIDENTIFY = True
    settings.PETCTWEB_SEND_RESULTS_AFTER_RUN = True
    return settings


@pytest.fixture
def tiny_model(tiny_bundle, db):
    from inference.registry import model_version_register, predictor_cache_clear

    predictor_cache_clear()
    return model_version_register(source_dir=tiny_bundle, name="tiny", version="test", make_default=True)


@pytest.fixture
def imported_case(one_case_dir, pacs_settings, db):
    from cases.models import Case

    call_command("import_dicom", str(one_case_dir), stdout=io.StringIO())
    return Case.objects.get()


@pytest.fixture
def sent_tasks(monkeypatch):
    """Celery messages, recorded; result deliveries run at once in this process (retries included)."""
    from inference.pacs.delivery import DELIVER_TASK
    from inference.tasks import deliver_results
    from petctweb.celery import app as celery_app

    sent: list[tuple[str, list, dict]] = []

    def send_task(name, args=(), **options):
        sent.append((name, list(args), options))
        if name == DELIVER_TASK:
            deliver_results.apply(args=list(args))

    monkeypatch.setattr(celery_app, "send_task", send_task)
    return sent


@pytest.fixture
def finished_case(imported_case, tiny_model, sent_tasks, django_capture_on_commit_callbacks):
    """The imported case after one model run, its after-run hook executed (sends where nodes exist)."""
    from inference.services import inference_run_request
    from inference.tasks import run_inference

    run = inference_run_request(case=imported_case, model_version=tiny_model)
    with django_capture_on_commit_callbacks(execute=True):
        assert run_inference.apply(args=[run.pk]).get() == "done"
    return imported_case


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OrthancServer:
    def __init__(self, *, root: Path, dicom_port: int) -> None:
        self.dicom_port, self.http_port, self.ae_title = dicom_port, free_port(), "ORTHANCTEST"
        storage = root / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = {
            "Name": "petctweb-test", "StorageDirectory": str(storage), "IndexDirectory": str(storage),
            "DicomAet": self.ae_title, "DicomPort": dicom_port, "HttpPort": self.http_port,
            "RemoteAccessAllowed": False, "AuthenticationEnabled": False, "DicomModalities": {},
            "DicomAlwaysAllowStore": True, "DicomCheckCalledAet": True, "Plugins": [], "HttpsVerifyPeers": False,
        }
        (root / "orthanc.json").write_text(json.dumps(config))
        self.log = (root / "orthanc.log").open("w")
        self.process = subprocess.Popen([ORTHANC, str(root / "orthanc.json")], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.get("/system")
                return
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"Orthanc did not start; see {root / 'orthanc.log'}") from None
                time.sleep(0.2)

    def get(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{path}", timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


@pytest.fixture
def orthanc_factory(tmp_path):
    """Start Debian's Orthanc (a PACS) on a given local DICOM port; stopped after the test."""
    if ORTHANC is None:
        pytest.skip("Debian's orthanc is not installed (scripts/test.sh installs it as root)")
    started: list[OrthancServer] = []

    def start(dicom_port: int | None = None) -> OrthancServer:
        server = OrthancServer(root=tmp_path / f"orthanc{len(started)}", dicom_port=dicom_port or free_port())
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
