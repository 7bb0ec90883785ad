"""bench_ingest mechanics on a tiny pair of series (the figures themselves are a benchmark, not a test)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from benchmarks.ingest import benchmark_ingest
from tests.imaging.dicom_factory import write_pair

CT = {"shape": (16, 16, 16), "spacing": (0.5, 0.5, 0.5), "origin": (-4.0, -4.0, 0.0)}
PET = {"shape": (4, 6, 6), "spacing": (2.0, 1.0, 1.0), "origin": (-2.0, -2.0, 1.0)}


def test_benchmark_reports_both_rates(tmp_path: Path) -> None:
    write_pair(tmp_path, ct_kwargs=CT, pet_kwargs=PET)
    result = benchmark_ingest(path=tmp_path)
    assert result["files"] == 20 and result["studies"] == 1
    assert result["raw_read_mb_per_s"] > 0 and result["ingest_mb_per_s"] > 0
    stages = result["stages_seconds"]
    assert {"read_headers", "ct_geometry", "deidentify", "pixels_and_resampling"} <= set(stages) and all(v >= 0 for v in stages.values())


def test_command_measures_a_given_folder(tmp_path: Path) -> None:
    write_pair(tmp_path, ct_kwargs=CT, pet_kwargs=PET)
    out = StringIO()
    call_command("bench_ingest", "--path", str(tmp_path), "--json", stdout=out)
    assert json.loads(out.getvalue())["files"] == 20
    out = StringIO()
    call_command("bench_ingest", "--path", str(tmp_path), stdout=out)
    assert "ingestion costs" in out.getvalue() and "ingest stages, ms" in out.getvalue()


def test_command_refuses_a_missing_path(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="does not exist"):
        call_command("bench_ingest", "--path", str(tmp_path / "nowhere"))
