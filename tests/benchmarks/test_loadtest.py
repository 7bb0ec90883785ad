"""The load test's pieces: the figures computed from locust's records, and the seeding command's plan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.loadtest.summary import summarise
from cases.volume_store import encode_array


def _record(kind, name, ms, size=100, ok=True, status=200):
    return (kind, name, ms, size, ok, status, 0.0)


def test_summary_separates_api_volumes_and_admin_and_counts_errors():
    records = ([_record("api", "api worklist", ms) for ms in range(1, 101)]  # 1..100 ms
               + [_record("api", "api submit call", 50, status=201)] * 3
               + [_record("api", "api submit call", 900, ok=False, status=500)]
               + [_record("volume", "volume ct", 1000, size=2_000_000)] * 2
               + [_record("volume", "volume ct revisit", 5, size=0, status=304)]
               + [_record("admin", "upload study", 5000, status=201)])
    summary = summarise(records=records, wall_s=10.0, readers=4, readers_submitted=3)
    assert summary["requests"] == len(records) and summary["errors"] == 1
    assert summary["errors_by_name"] == {"api submit call": 1}
    assert summary["api"]["n"] == 103  # failed calls and volumes, uploads and exports left out
    assert summary["api"]["p50_ms"] == 50.0  # 1..100 ms and three 50s
    assert summary["api_with_admin"]["max_ms"] == 5000
    assert summary["calls_submitted"] == 3 and summary["readers_with_a_call"] == 3
    volumes = summary["volumes"]
    assert volumes["n"] == 2 and volumes["not_modified"] == 1  # a 304 is no download
    assert volumes["mb"] == 4.0 and volumes["mb_per_s_over_run"] == 0.4 and volumes["mb_per_s_per_download"] == 2.0
    assert summary["per_name"]["volume ct revisit"]["n"] == 1


def test_summary_of_an_empty_run_has_no_percentiles():
    summary = summarise(records=[], wall_s=0.0, readers=0, readers_submitted=0)
    assert summary["api"]["p95_ms"] is None and summary["volumes"]["mb_per_s_over_run"] is None


@pytest.mark.slow
@pytest.mark.django_db
def test_seed_command_imports_real_specimens_and_writes_a_usable_plan(tmp_path, settings):
    from django.core.management import call_command
    from django.test import Client

    from cases.models import Case, CaseVolume
    from studies.models import Study

    settings.SESSION_COOKIE_SECURE = False
    plan_path = tmp_path / "plan.json"
    call_command("loadtest_seed", str(plan_path), "--readers", "2", "--cases", "1", "--uploads", "1", "--size", "small")
    plan = json.loads(plan_path.read_text())
    study = Study.objects.get(pk=plan["study_id"])
    case = Case.objects.get()
    assert study.study_cases.get().case == case
    assert plan["masks"][case.code]["shape"] == list(case.grid.shape) == plan["grids"][case.code]
    # Stored through the import path: a specimen scan (air around smooth tissue) compresses clearly better
    # than the random voxels the load test used to serve (gzip keeps 75% of those).
    ct = CaseVolume.objects.get(case=case, kind="ct")
    random_like = np.random.default_rng(1).normal(-300, 200, case.grid.shape).astype(np.int16)
    assert ct.size_bytes < 0.8 * len(encode_array(random_like))
    assert len(plan["upload_zips"]) == 1 and plan["upload_bytes"][0] > 0
    client = Client()
    client.cookies["sessionid"] = plan["reader_cookies"][0]
    worklist = client.get(f"/api/studies/{study.pk}/worklist/")
    assert worklist.status_code == 200 and worklist.json()["next_case"] == case.code
