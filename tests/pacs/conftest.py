"""Fixtures for results-to-PACS: a case with a finished model run, tasks run in-process, a real Orthanc."""

from __future__ import annotations

import io
import shutil

import pytest
from django.core.management import call_command

from benchmarks.dicom_pacs import Orthanc, orthanc_binary

ORTHANC = orthanc_binary()
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


@pytest.fixture
def orthanc_factory(tmp_path):
    """Start Debian's Orthanc (a PACS) on a given local DICOM port; stopped after the test."""
    if ORTHANC is None:
        pytest.skip("Debian's orthanc is not installed (scripts/test.sh installs it as root)")
    started: list[Orthanc] = []

    def start(dicom_port: int | None = None) -> Orthanc:
        server = Orthanc(root=tmp_path / f"orthanc{len(started)}", ae_title="ORTHANCTEST", dicom_port=dicom_port)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
