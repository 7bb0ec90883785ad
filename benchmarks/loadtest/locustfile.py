"""Locust load test: 100 readers with realistic pauses, one uploader, one administrator exporting.

Started by ``benchmarks/loadtest/run.sh`` (headless, loopback only). The plan file (``LOADTEST_PLAN``)
comes from ``manage.py loadtest_seed``: session cookies, the study, the upload archive. Every request's
time and size is collected here and summarised into ``LOADTEST_SUMMARY`` when the run stops.
No Django in this module: it runs in locust's own process.
"""

from __future__ import annotations

import itertools
import json
import os
import secrets
import time

import numpy as np
from locust import HttpUser, between, constant, events, task

PLAN = json.loads(open(os.environ["LOADTEST_PLAN"]).read())
AUTOSAVE_EVERY_S = 10
READ_DRAFTS = 3  # autosaves per case before the reader saves the mask and submits
_reader_cookies = itertools.cycle(PLAN["reader_cookies"])
_records: list[tuple[str, str, float, int, bool]] = []  # (kind, name, ms, bytes, ok)
_started = time.time()


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception, context, **kwargs):
    kind = "volume" if "/volumes/" in name else ("api" if name.startswith("/api/") or name.startswith("api ")
                                                  else "page")
    _records.append((kind, name, float(response_time), int(response_length or 0), exception is None))


@events.test_stop.add_listener
def _summarise(environment, **kwargs):
    def pct(values, q):
        return round(float(np.percentile(values, q)), 1) if values else None

    wall = time.time() - _started
    api = [ms for kind, _, ms, _, ok in _records if kind == "api" and ok]
    volumes = [(ms, size) for kind, _, ms, size, ok in _records if kind == "volume" and ok]
    by_name: dict[str, list[float]] = {}
    for _, name, ms, _, ok in _records:
        if ok:
            by_name.setdefault(name, []).append(ms)
    summary = {
        "wall_s": round(wall, 1),
        "requests": len(_records),
        "errors": sum(1 for r in _records if not r[4]),
        "api_p50_ms": pct(api, 50), "api_p95_ms": pct(api, 95), "api_n": len(api),
        "volume_n": len(volumes),
        "volume_mb": round(sum(size for _, size in volumes) / 1e6, 1),
        "volume_mb_per_s_wall": round(sum(size for _, size in volumes) / 1e6 / wall, 2) if wall else None,
        "volume_mb_per_s_per_download": round(sum(size for _, size in volumes) / 1e6
                                              / max(1e-9, sum(ms for ms, _ in volumes) / 1000), 1),
        "submits_ok": sum(1 for _, name, _, _, ok in _records if name == "api submit call" and ok),
        "per_name": {name: {"n": len(v), "p50_ms": pct(v, 50), "p95_ms": pct(v, 95)}
                     for name, v in sorted(by_name.items())},
    }
    with open(os.environ["LOADTEST_SUMMARY"], "w") as handle:
        json.dump(summary, handle, indent=2)


class _SessionUser(HttpUser):
    abstract = True

    def login_with(self, cookie: str) -> None:
        csrf = secrets.token_hex(16)  # Django accepts the unmasked 32-character secret as the token
        self.client.cookies.set("sessionid", cookie)
        self.client.cookies.set("csrftoken", csrf)
        self.client.headers.update({"X-CSRFToken": csrf, "Referer": self.host + "/"})


class Reader(_SessionUser):
    """A reader working through the worklist: pauses of 2-4 s between steps, a draft autosave every 10 s."""

    weight = 100
    wait_time = between(2, 4)

    def on_start(self) -> None:
        self.login_with(next(_reader_cookies))
        self.mask = PLAN["mask"]

    @task
    def read_next_case(self) -> None:
        study = PLAN["study_id"]
        worklist = self.client.get(f"/api/studies/{study}/worklist/", name="api worklist")
        code = worklist.json().get("next_case") if worklist.ok else None
        if code is None:
            time.sleep(5)
            return
        self.client.get(f"/studies/{study}/read/{code}/", name="page open case")
        time.sleep(1)
        self.client.get(f"/api/cases/{code}/", name="api case detail")
        for kind in ("ct", "pet", "specimen"):
            self.client.get(f"/api/cases/{code}/volumes/{kind}/", name=f"/api/cases/[code]/volumes/{kind}/",
                            headers={"Accept-Encoding": "gzip"})
        self.client.get(f"/api/cases/{code}/segmentations/draft/", name="api draft get (none yet)",
                        catch_response=True).success()
        for _ in range(READ_DRAFTS):
            time.sleep(AUTOSAVE_EVERY_S)
            self.client.put(f"/api/cases/{code}/segmentations/draft/", json=self.mask, name="api draft autosave")
        saved = self.client.post(f"/api/cases/{code}/segmentations/", json=self.mask, name="api save mask")
        time.sleep(3)
        call = {"status": "negative", "confidence": 3, "comment": "load test", "time_spent_s": 45.0,
                "segmentation_id": saved.json()["id"] if saved.status_code == 201 else None}
        self.client.post(f"/api/cases/{code}/reads/", json=call, name="api submit call")


class Uploader(_SessionUser):
    """A study administrator uploading a (small) specimen study about twice a minute."""

    fixed_count = 1
    wait_time = constant(30)

    def on_start(self) -> None:
        self.login_with(PLAN["admin_cookie"])

    @task
    def upload(self) -> None:
        with open(PLAN["upload_zip"], "rb") as handle:
            self.client.post("/api/cases/upload/", files={"files": ("study.zip", handle, "application/zip")},
                             name="api upload study")


class Exporter(_SessionUser):
    """The administrator following the study: results dashboard data and the reads CSV export."""

    fixed_count = 1
    wait_time = constant(15)

    def on_start(self) -> None:
        self.login_with(PLAN["admin_cookie"])

    @task
    def export(self) -> None:
        study = PLAN["study_id"]
        self.client.get(f"/api/studies/{study}/results/", name="api results")
        self.client.get(f"/api/studies/{study}/results/reads.csv", name="api export reads.csv")
