"""The scanner-to-result benchmark: its stage breakdown (stage lines written by the tasks, read back and put in
order with the waits between the tasks), its report, and the worker's memory of what it just stored."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.dicom import stage_breakdown
from cases import worker_memory
from cases.imaging.timing import STAGE_LOG_PREFIX, StageClock, parse_stage_lines

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def _at(seconds: float) -> float:
    return (T0 + timedelta(seconds=seconds)).timestamp()


def test_a_clock_logs_one_line_that_parses_back(caplog):
    clock = StageClock(task="ingest_received_study", object_id=7)
    clock.mark("read_headers")
    clock.mark("deidentify")
    with clock.stage("resample"):
        pass
    with caplog.at_level(logging.INFO, logger="cases.imaging.timing"):
        clock.log()
    records = parse_stage_lines(["noise", *(record.getMessage() for record in caplog.records), "stage-timings {bad"])
    assert len(records) == 1 and caplog.records[0].getMessage().startswith(STAGE_LOG_PREFIX)
    assert records[0]["task"] == "ingest_received_study" and records[0]["id"] == 7
    assert [stage["name"] for stage in records[0]["stages"]] == ["read_headers", "resample", "deidentify"]
    assert set(clock.seconds()) == {"read_headers", "deidentify", "resample"}


def test_the_breakdown_orders_every_step_and_measures_the_waits_between_tasks():
    result = {
        "last_instance_at": T0, "completed_at": T0 + timedelta(seconds=1.0), "received_id": 3, "run_id": 5,
        "run_created_at": T0 + timedelta(seconds=2.0), "deliveries": [(9, T0 + timedelta(seconds=4.5))],
    }
    records = [
        {"task": "ingest_received_study", "id": 3, "stages": [
            {"name": "claim", "start": _at(1.1), "seconds": 0.1}, {"name": "read_headers", "start": _at(1.2), "seconds": 0.7}]},
        {"task": "run_inference", "id": 5, "stages": [{"name": "predict", "start": _at(2.25), "seconds": 2.0}]},
        {"task": "deliver_results", "id": 9, "stages": [{"name": "seg_build", "start": _at(4.6), "seconds": 0.3}]},
        {"task": "run_inference", "id": 99, "stages": [{"name": "predict", "start": _at(0.5), "seconds": 9.0}]},  # another run
    ]
    steps = {step["step"]: step for step in stage_breakdown(result, records)}
    assert steps["quiet time and completion check (listener)"]["seconds"] == pytest.approx(1.0)
    assert steps["ingest: wait for the worker (broker hop)"]["seconds"] == pytest.approx(0.1)
    assert steps["ingest: run requested after the ingest task's end"]["seconds"] == pytest.approx(0.1)
    assert steps["inference: wait for the worker (broker hop)"]["seconds"] == pytest.approx(0.25)
    assert steps["inference: delivery queued after the run's end"]["seconds"] == pytest.approx(0.25)
    assert steps["PACS delivery 9: wait for the worker (broker hop)"]["seconds"] == pytest.approx(0.1)
    ordered = [step["at"] for step in stage_breakdown(result, records)]
    assert ordered == sorted(ordered) and ordered[0] == 0.0
    assert all(step["seconds"] != 9.0 for step in steps.values())  # only the measured case's tasks


def test_the_worker_remembers_only_the_newest_case_and_only_under_the_stored_name():
    first = SimpleNamespace(pk=1, created_at=T0)
    same_id_other_case = SimpleNamespace(pk=1, created_at=T0 + timedelta(seconds=1))
    array = np.zeros(3, dtype=np.int16)
    worker_memory.remember(case=first, kind="ct", name="volumes/A/ct.raw.gz", value=array)
    try:
        assert worker_memory.recall(case=first, kind="ct", name="volumes/A/ct.raw.gz") is array
        with pytest.raises(ValueError):
            array[0] = 1  # kept read-only: a task must copy before changing it
        assert worker_memory.recall(case=first, kind="ct", name="volumes/A/ct_2.raw.gz") is None
        assert worker_memory.recall(case=first, kind="pet", name="volumes/A/ct.raw.gz") is None
        assert worker_memory.recall(case=same_id_other_case, kind="ct", name="volumes/A/ct.raw.gz") is None
        worker_memory.remember(case=same_id_other_case, kind="pet", name="volumes/B/pet.raw.gz", value=[1])
        assert worker_memory.recall(case=first, kind="ct", name="volumes/A/ct.raw.gz") is None
    finally:
        worker_memory.forget()


def test_arrays_stored_side_by_side_are_all_known_when_one_fails(monkeypatch):
    import cases.services as services

    def fake_store(*, array, name):
        if "pet" in name:
            raise OSError("disk full")
        return name, "sha", array.nbytes

    monkeypatch.setattr(services, "store_array", fake_store)
    written: list[str] = []
    arrays = {kind: (np.zeros(4, dtype=np.uint8), f"volumes/X/{kind}.raw.gz") for kind in ("ct", "pet", "specimen")}
    with pytest.raises(OSError, match="disk full"):
        services.store_arrays(arrays=arrays, written=written)
    assert sorted(written) == ["volumes/X/ct.raw.gz", "volumes/X/specimen.raw.gz"]
    del arrays["pet"]
    saved = services.store_arrays(arrays=arrays, written=[])
    assert saved == {"ct": ("volumes/X/ct.raw.gz", "sha", 4), "specimen": ("volumes/X/specimen.raw.gz", "sha", 4)}


def test_report_judges_targets_on_the_seconds_after_the_quiet_time_and_prints_the_totals():
    from benchmarks.management.commands.bench_dicom import Command

    figures = {
        "instances": 323, "megabytes": 20.5, "storescu_seconds": 2.0, "cpu_count": 2, "quiet_seconds": 1.05,
        "case_after_completion_s": 0.9, "case_after_last_instance_s": 1.95,
        "result_after_completion_s": 2.5, "result_after_last_instance_s": 3.55,
        "in_pacs_after_completion_s": 5.2, "in_pacs_after_last_instance_s": 6.25, "pacs_modalities": ["SEG", "SR"],
        "ingest_seconds": 0.2, "raw_read_seconds": 0.18, "ingest_vs_raw": 1.11, "stages": [],
    }
    report = Command._report(figures)
    assert "margin result:     2.50 s after the quiet time (target <= 3: met); 3.55 s with it" in report
    assert "5.20 s after the quiet time (target <= 5: missed); 6.25 s with it; in Orthanc: SEG, SR" in report
    assert "1.11x (target <= 1.3: met)" in report
