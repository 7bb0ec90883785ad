"""Scanner to result: send a full-size generated case with storescu and time every step from the last
instance received to the margin result stored, and to SEG + SR stored in Orthanc.

Runs inside a scratch environment (its own SQLite database, media, broker, incoming folder), set up by
``bench_dicom``: the listener and one worker are started here as processes, as in production.
The worker is warmed up first with a small case (model loaded), as a running worker would be.
Times come from the rows the processes write: the receipt's last instance and completion, the case,
the inference run's end and the PACS delivery's ``sent_at``; Orthanc's REST API confirms SEG and SR.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from benchmarks.processes import REPO, start_process, start_worker, stop_process, wait_for
from cases.imaging.timing import parse_stage_lines


def scratch_environment(scratch: Path) -> dict[str, str]:
    """Environment variables that point every process of the benchmark at ``scratch``."""
    return {
        "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
        "MEDIA_ROOT": str(scratch / "media"),
        "PETCTWEB_MODEL_ROOT": str(scratch / "media" / "models"),
        "PETCTWEB_BROKER_DIR": str(scratch / "broker"),
        "PETCTWEB_DICOM_INCOMING_DIR": str(scratch / "incoming"),
        "PETCTWEB_UPLOAD_DIR": str(scratch / "uploads"),
        "PETCTWEB_DICOM_ALLOWED_AES": "STORESCU",
        "PETCTWEB_AUTO_INFERENCE": "1",
        "PETCTWEB_SEND_RESULTS_AFTER_RUN": "1",
        "PETCTWEB_PACS_RETRY_BASE_S": "1",
        "PETCTWEB_WATCHDOG_SECONDS": "0",
    }


def _wait(predicate: Callable, *, timeout: float, what: str, logs: list[Path], interval: float = 0.05):
    try:
        return wait_for(predicate, timeout=timeout, what=what, logs=logs, interval=interval)
    except TimeoutError as exc:
        raise RuntimeError(str(exc)) from None


def echo(port: int) -> bool:
    return subprocess.run(["echoscu", "-aet", "STORESCU", "-aec", settings.PETCTWEB_DICOM_AE_TITLE, "127.0.0.1",
                           str(port)], capture_output=True, timeout=30).returncode == 0


def storescu(port: int, *paths: Path) -> float:
    """Send with dcmtk's storescu; returns its wall time."""
    start = time.monotonic()
    sent = subprocess.run(["storescu", "-aet", "STORESCU", "-aec", settings.PETCTWEB_DICOM_AE_TITLE, "+sd", "+r",
                           "127.0.0.1", str(port), *map(str, paths)], capture_output=True, text=True, timeout=600)
    if sent.returncode != 0:
        raise RuntimeError(f"storescu failed: {sent.stderr[-2000:]}")
    return time.monotonic() - start


def _seconds(later, earlier) -> float | None:
    return None if later is None or earlier is None else round((later - earlier).total_seconds(), 3)


def _outcome(*, study_key_excluded: set[int], logs: list[Path], pacs: bool, timeout: float) -> dict:
    """Wait for the newest receipt's case, its run and (with PACS) its deliveries; return the rows' times."""
    from cases.models import ReceivedStudy
    from inference.models import InferenceRun
    from inference.pacs.models import ResultDelivery

    received = _wait(lambda: ReceivedStudy.objects.exclude(pk__in=study_key_excluded).filter(
        status__in=["done", "failed", "duplicate", "incomplete"]).first(), timeout=timeout, what="the ingest", logs=logs)
    if received.status != "done":
        raise RuntimeError(f"the study was not ingested: {received.status}: {received.message}")
    run = _wait(lambda: InferenceRun.objects.filter(case=received.case, status__in=["done", "failed"]).first(),
                timeout=timeout, what="the margin result", logs=logs)
    if run.status != "done":
        raise RuntimeError(f"the model run failed: {run.message}")
    times = {
        "received_id": received.pk,
        "instances": received.instances,
        "last_instance_at": received.last_received_at,
        "completed_at": received.completed_at,
        "case_at": received.case.created_at,
        "result_at": run.finished_at,
        "case": received.case.code,
        "run_id": run.pk,
        "run_created_at": run.created_at,
        "deliveries": [],
    }
    if pacs:
        deliveries = _wait(lambda: list(ResultDelivery.objects.filter(run=run, status__in=["sent", "failed"])) or None,
                           timeout=timeout, what="the PACS delivery", logs=logs)
        failed = [d for d in deliveries if d.status != "sent"]
        if failed:
            raise RuntimeError(f"the PACS delivery failed: {failed[0].last_error}")
        times["in_pacs_at"] = max(d.sent_at for d in deliveries)
        times["deliveries"] = [(d.pk, d.created_at) for d in deliveries]
    return times


def benchmark_dicom(*, scratch: Path, case_dir: Path, warmup_dir: Path, quiet_seconds: float,
                    with_pacs: bool, port: int, say: Callable[[str], None]) -> dict:
    """Run the whole path once (after a warm-up case) in the scratch environment; returns the figures."""
    from benchmarks.dicom_pacs import Orthanc
    from cases.models import ReceivedStudy
    from inference.pacs.models import DicomNode
    from inference.registry import model_version_register

    model_version_register(source_dir=REPO / "demo_model", name="demo", version="bench", make_default=True)
    orthanc = None
    if with_pacs:
        orthanc = Orthanc(root=scratch / "orthanc")
        DicomNode.objects.create(name="bench-pacs", ae_title=orthanc.ae_title, host="127.0.0.1",
                                 port=orthanc.dicom_port, send_after_run=True)
    logs = [scratch / "listener.log", scratch / "worker.log"]
    listener = start_process([sys.executable, "manage.py", "dicom_listener", "--port", str(port),
                              "--quiet-seconds", str(quiet_seconds)], log=logs[0])
    worker = start_worker(log=logs[1], name="bench")
    try:
        _wait(lambda: echo(port), timeout=120, what="the listener", logs=logs, interval=0.5)
        say("listener up; warming the worker up with a small case (loads the model)")
        storescu(port, warmup_dir / "ct", warmup_dir / "pet")
        warm = _outcome(study_key_excluded=set(), logs=logs, pacs=with_pacs, timeout=600)
        say(f"warm-up case {warm['case']} done; sending the measured case")
        warm_series = set(orthanc.get("/series")) if orthanc else set()
        send_seconds = storescu(port, case_dir / "ct", case_dir / "pet")
        result = _outcome(study_key_excluded={warm["received_id"]}, logs=logs, pacs=with_pacs, timeout=600)
        pacs_modalities = sorted(orthanc.modalities(exclude=warm_series)) if orthanc else []
    finally:
        stop_process(listener)
        stop_process(worker)
        if orthanc is not None:
            orthanc.stop()
    last = result["last_instance_at"]
    figures = {
        "instances": result["instances"],
        "megabytes": round(sum(p.stat().st_size for p in case_dir.glob("*/*.dcm")
                               if p.parent.name in ("ct", "pet")) / 1e6, 1),
        "storescu_seconds": round(send_seconds, 3),
        "quiet_seconds": _seconds(result["completed_at"], last),
        "case_after_last_instance_s": _seconds(result["case_at"], last),
        "result_after_last_instance_s": _seconds(result["result_at"], last),
        "in_pacs_after_last_instance_s": _seconds(result.get("in_pacs_at"), last),
        "pacs_modalities": pacs_modalities,
        "receipts": ReceivedStudy.objects.count(),
    }
    for key in ("case", "result", "in_pacs"):
        total = figures[f"{key}_after_last_instance_s"]
        figures[f"{key}_after_completion_s"] = None if total is None else round(total - figures["quiet_seconds"], 3)
    figures["stages"] = stage_breakdown(result, parse_stage_lines(logs[1].read_text().splitlines()))
    return figures


def stage_breakdown(result: dict, records: list[dict]) -> list[dict]:
    """Every step from the last instance to SEG + SR stored, in order: the waits between tasks (from the
    rows' times and the tasks' first stage starts) and each task's own stages (from the worker's
    stage-timings lines). ``at`` is seconds after the last instance where a step starts (when known)."""
    origin = result["last_instance_at"].timestamp()
    found = {(r["task"], r["id"]): r["stages"] for r in records}
    steps: list[dict] = []

    def add(step: str, seconds: float | None, at: float | None = None) -> None:
        if seconds is not None:
            steps.append({"step": step, "seconds": round(seconds, 3),
                          "at": None if at is None else round(at - origin, 3)})

    def task(name: str, key: int, queued_at: float | None, label: str) -> float | None:
        stages = found.get((name, key))
        if not stages:
            return None
        begin = stages[0]["start"]
        add(f"{label}: wait for the worker (broker hop)", None if queued_at is None else begin - queued_at, queued_at)
        end = begin
        for stage in stages:
            add(f"{label}: {stage['name']}", stage["seconds"], stage["start"])
            if stage["start"] is not None:
                end = max(end, stage["start"] + stage["seconds"])
        return end

    completed = result["completed_at"].timestamp()
    add("quiet time and completion check (listener)", completed - origin, origin)
    ingest_end = task("ingest_received_study", result["received_id"], completed, "ingest")
    run_queued = result["run_created_at"].timestamp()
    run_end = task("run_inference", result["run_id"], run_queued, "inference")
    if ingest_end is not None:
        add("ingest: run requested after the ingest task's end", run_queued - ingest_end, ingest_end)
    for delivery_id, created_at in result["deliveries"]:
        task("deliver_results", delivery_id, created_at.timestamp(), f"PACS delivery {delivery_id}")
    if run_end is not None and result["deliveries"]:
        add("inference: delivery queued after the run's end", result["deliveries"][0][1].timestamp() - run_end, run_end)
    return sorted(steps, key=lambda step: (step["at"] is None, step["at"] or 0.0))


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
