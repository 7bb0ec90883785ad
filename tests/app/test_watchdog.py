"""Nothing stuck: a worker killed (SIGKILL) mid-run leaves a run that another worker completes exactly once,
with nobody running a command: the heartbeat goes stale and the new worker's watchdog re-enqueues it."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path

import pytest

from benchmarks import processes
from cases.services import case_import
from inference.models import InferenceRun, Segmentation
from inference.registry import model_version_register
from inference.services import inference_run_request
from tests.app.test_worker import _database_url

pytestmark = [pytest.mark.worker, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

__all__ = ["_database_url", "start_worker", "stop", "wait_for"]  # the DICOM tests use these too


def start_worker(settings, log: Path, name: str, extra_env: dict | None = None) -> subprocess.Popen:
    """A real worker (the benchmarks' helper) on this test's database, media and model root."""
    env = dict(os.environ)
    env.update({
        "DATABASE_URL": _database_url(),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "PETCTWEB_MODEL_ROOT": str(settings.PETCTWEB_MODEL_ROOT),
        "PETCTWEB_DEID_SECRET": settings.PETCTWEB_DEID_SECRET,
        "PETCTWEB_AUTO_INFERENCE": "0",
        "PETCTWEB_RUN_HEARTBEAT_SECONDS": "0.5",
        "PETCTWEB_RUN_STALE_SECONDS": "4",
        "PETCTWEB_WATCHDOG_SECONDS": "1",
        **(extra_env or {}),
    })
    return processes.start_worker(log=log, name=name, env=env)


def stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    processes.stop_process(process, sig=sig, timeout=20)


def wait_for(predicate, timeout: float, interval: float, logs: list[Path]):
    try:
        return processes.wait_for(predicate, timeout=timeout, what="the worker", logs=logs, interval=interval)
    except TimeoutError as exc:
        pytest.fail(str(exc))


def test_a_run_whose_worker_is_killed_completes_exactly_once_on_another(settings, tiny_bundle, one_case_dir,
                                                                        tmp_path):
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        for folder in ("data_folder_in", "processed_folder"):
            for leftover in Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS[folder]).glob("*"):
                leftover.unlink()
    model = model_version_register(source_dir=tiny_bundle, name="tiny", version="watchdog", make_default=True)
    case = case_import(path=one_case_dir, source="import")[0].case
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    first = start_worker(settings, logs[0], "first")
    try:
        run = inference_run_request(case=case, model_version=model)
        wait_for(lambda: InferenceRun.objects.filter(pk=run.pk, status="running").exists(), 120, 0.02, logs)
    finally:
        stop(first, signal.SIGKILL)  # the whole worker, pool children included, mid-run
    killed = InferenceRun.objects.get(pk=run.pk)
    assert killed.status == "running" and killed.attempts == 1, "the run must have been cut off mid-run"

    second = start_worker(settings, logs[1], "second")
    try:
        finished = wait_for(lambda: InferenceRun.objects.filter(pk=run.pk, status__in=["done", "failed"]).first(),
                            180, 0.5, logs)
    finally:
        stop(second)
    assert finished.status == "done", finished.message
    assert finished.attempts == 2
    assert Segmentation.objects.filter(inference_run=run).count() == 1
    assert "watchdog re-enqueued" in logs[1].read_text()
