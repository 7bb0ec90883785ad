"""Executing training jobs: end to end on imported phantoms, re-delivery, readable failures, the page."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from audit.models import AuditEvent
from inference.models import ModelVersion
from studies.services import ground_truth_record, ground_truth_sign_off
from training.models import TrainingJob
from training.services import MAX_ATTEMPTS, training_job_request
from training.tasks import run_training_job

from .conftest import FAST_OPTIONS, TINY_NETWORK

pytestmark = pytest.mark.django_db


def _request(users, **overrides) -> TrainingJob:
    values = {"folds": 2, "epochs": 1, "seed": 0, "device": "cpu", "network": TINY_NETWORK, "options": FAST_OPTIONS}
    return training_job_request(user=users["study_admin"], **{**values, **overrides})


@pytest.mark.slow
def test_retraining_on_imported_phantoms_registers_a_model(users, phantom_truth, client_for, settings):
    job = _request(users, make_default=True)
    assert run_training_job.apply(args=[job.pk]).get() == "done"
    job.refresh_from_db()
    assert (job.status, job.progress, job.is_active, job.attempts) == ("done", 100.0, False, 1)
    assert (job.case_count, job.patient_count, job.device) == (2, 2, "cpu")
    # Only the outlined lamella of each case was trained on.
    assert sorted(item["slices"] for item in job.training_set) == sorted([[z] for _, z in phantom_truth])
    model = job.model_version
    assert model.name == "retrained" and model.version.endswith(f"job{job.pk}") and model.is_default
    assert model.folds.count() == 2 and model.config["network"]["channels"] == [4, 8]
    # The registry holds the bundle and its report; the attempt's working folder is gone.
    registered = Path(settings.PETCTWEB_MODEL_ROOT) / model.bundle_dir
    assert (registered / "report.json").is_file() and (registered / "report.png").is_file()
    assert not (Path(settings.VAR_DIR) / "training" / f"job-{job.pk}-attempt-1").exists()
    assert model.training_description["training_job"] == job.pk
    assert job.metrics["slices"] == 2 and len(job.metrics["folds"]) == 2
    assert job.metrics["cv_dice_mean"] is None or 0.0 <= job.metrics["cv_dice_mean"] <= 1.0
    assert set(job.metrics["cv_substantial_slices"]) == {"min_tumour_area_mm2", "dice_mean", "dice_sd", "images"}
    assert f"registered {model.label} as the default model" in job.message
    assert AuditEvent.objects.filter(action="training.done", object_id=str(job.pk)).exists()
    assert AuditEvent.objects.filter(action="model.register", actor=users["study_admin"]).exists()
    # Re-delivery of a finished job does nothing.
    assert run_training_job.apply(args=[job.pk]).get() == "nothing to do"
    assert ModelVersion.objects.filter(name="retrained").count() == 1
    # The API and the page show the result.
    payload = client_for("study_admin").get(f"/api/training-jobs/{job.pk}/").json()
    assert payload["status"] == "done" and payload["model_version"]["label"] == model.label
    page = client_for("study_admin").get("/training/").content.decode()
    assert model.label in page and 'data-testid="training-job-model"' in page


def test_ground_truth_withdrawn_while_queued_fails_readably(users, tiny_truth):
    job = _request(users)
    # A correction without an outline: that patient no longer counts, one patient is left.
    third = tiny_truth[2]
    correction = ground_truth_record(user=users["pathologist"], case=third, margin_status="negative",
                                     correction_reason="outline was on the wrong case")
    ground_truth_sign_off(user=users["pathologist"], ground_truth=correction)
    assert run_training_job.apply(args=[job.pk]).get() == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and not job.is_active and job.finished_at is not None
    assert job.message == "need signed-off ground truth with an outline for at least 2 patients (2 folds), found 1"
    assert not ModelVersion.objects.exists()
    # A failed job no longer blocks a new request.
    with pytest.raises(Exception, match="found 1"):
        _request(users)


def test_a_job_still_running_in_a_live_process_is_left_alone(users, tiny_truth):
    job = _request(users)
    alive = f"{socket.gethostname()}:{os.getppid()}"
    TrainingJob.objects.filter(pk=job.pk).update(status="running", attempts=1, worker=alive, progress=40.0)
    assert run_training_job.apply(args=[job.pk]).get() == "nothing to do"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.progress) == ("running", 1, 40.0)


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_redelivery_after_the_worker_died_retrains_once(users, tiny_truth):
    job = _request(users)
    dead = f"{socket.gethostname()}:{_dead_pid()}"
    TrainingJob.objects.filter(pk=job.pk).update(status="running", attempts=1, worker=dead, progress=40.0)
    assert run_training_job.apply(args=[job.pk]).get() == "done"
    job.refresh_from_db()
    assert (job.status, job.attempts) == ("done", 2)
    assert job.worker == f"{socket.gethostname()}:{os.getpid()}"
    assert job.training_set and all(len(item["slices"]) == 1 for item in job.training_set)
    assert ModelVersion.objects.filter(name="retrained").count() == 1


def test_a_job_that_keeps_killing_its_worker_gives_up(users, tiny_truth):
    job = _request(users)
    dead = f"{socket.gethostname()}:{_dead_pid()}"
    TrainingJob.objects.filter(pk=job.pk).update(status="running", attempts=MAX_ATTEMPTS, worker=dead)
    assert run_training_job.apply(args=[job.pk]).get() == "nothing to do"
    job.refresh_from_db()
    assert job.status == "failed" and not job.is_active
    assert job.message.startswith(f"gave up after {MAX_ATTEMPTS} attempts")


def test_an_unavailable_device_fails_readably(users, tiny_truth, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    job = _request(users, device="cuda")
    assert run_training_job.apply(args=[job.pk]).get() == "failed"
    job.refresh_from_db()
    assert job.status == "failed" and "no CUDA GPU is available" in job.message


def test_the_page_for_admins_shows_counts_form_and_jobs(client_for, users, tiny_truth):
    job = _request(users)
    response = client_for("study_admin").get("/training/")
    assert response.status_code == 200
    html = response.content.decode()
    for testid in ("training-form", "training-folds", "training-epochs", "training-seed", "training-make-default",
                   "training-submit", "training-jobs", "training-progress"):
        assert f'data-testid="{testid}"' in html
    assert 'data-testid="eligible-cases">3<' in html and 'data-testid="eligible-patients">2<' in html
    assert f'data-job-id="{job.pk}"' in html and "training/training.mjs" in html
    assert 'data-testid="training-submit" disabled' in html  # a job is active
    assert 'data-testid="nav-training"' in html
    for role in ("reader", "pathologist", "no_role"):
        assert client_for(role).get("/training/").status_code == 403
        assert 'data-testid="nav-training"' not in client_for(role).get("/").content.decode()
