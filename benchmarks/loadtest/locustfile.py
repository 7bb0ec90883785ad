"""Locust load test: readers working like people, one uploader, one administrator following the results.

Started by ``benchmarks/loadtest/run.sh`` (headless, loopback only, bounded by ``-t``). The plan file
(``LOADTEST_PLAN``) comes from ``manage.py loadtest_seed``: session cookies, the study, a mask per case,
the upload archives. Every request's time and wire size is recorded here and summarised into
``LOADTEST_SUMMARY`` (``benchmarks.loadtest.summary``) when the run stops. No Django in this process.

A reader, per case: worklist, open the case (page), case detail, CT + PET + specimen volumes (kept with
their ETags, as a browser cache would), draft check, then reads for ``READ_S`` seconds with a draft
autosave every 10 s (as the viewer does while the mask changes), saves the mask, fills in the call form
and submits it. A quarter of the calls are followed by a second look at the case (the browser revalidates
the volumes with If-None-Match: 304, no body).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time

from locust import HttpUser, between, constant, events, task

from benchmarks.loadtest.summary import summarise

PLAN = json.loads(open(os.environ["LOADTEST_PLAN"]).read())
AUTOSAVE_EVERY_S = 10
READ_S = (40, 80)  # time on one case before saving the mask (a quick intraoperative read)
REVISIT_SHARE = 0.25
VOLUME_KINDS = ("ct", "pet", "specimen")
_reader_cookies = iter(PLAN["reader_cookies"])
_upload_zips = iter(PLAN["upload_zips"])
_reader_numbers = itertools.count()
_records: list[tuple] = []  # (kind, name, ms, wire bytes, ok, status, started s into the run)
_submitted_by: set[int] = set()
_started = time.time()


@events.request.add_listener
def _record(request_type, name, response_time, response_length, exception, response=None, start_time=None,
            **kwargs):
    kind = next((k for k in ("api", "volume", "page") if name.startswith(k)), "admin")  # admin: upload, export
    status = getattr(response, "status_code", 0) or 0
    wire = response_length
    if response is not None and response.headers.get("Content-Length"):
        wire = int(response.headers["Content-Length"])  # gzip bytes on the wire, not the decoded size
    _records.append((kind, name, float(response_time), int(wire or 0), exception is None, status,
                     round((start_time or time.time()) - _started, 2)))


@events.test_stop.add_listener
def _write_summary(environment, **kwargs):
    summary = summarise(records=_records, wall_s=time.time() - _started, readers_submitted=len(_submitted_by),
                        readers=len(PLAN["reader_cookies"]))
    summary["plan"] = {key: PLAN[key] for key in ("size", "volume_bytes", "grids") if key in PLAN}
    with open(os.environ["LOADTEST_SUMMARY"], "w") as handle:
        json.dump(summary, handle, indent=2)
    with open(os.environ["LOADTEST_SUMMARY"].replace(".json", "-requests.json"), "w") as handle:
        json.dump(_records, handle)  # every request, for a timeline


class _SessionUser(HttpUser):
    abstract = True

    def login_with(self, cookie: str) -> None:
        csrf = "loadtest" * 4  # Django accepts the unmasked 32-character secret as the token
        self.client.cookies.set("sessionid", cookie)
        self.client.cookies.set("csrftoken", csrf)
        self.client.headers.update({"X-CSRFToken": csrf, "Referer": self.host + "/",
                                    "Accept-Encoding": "gzip, deflate, br"})


class Reader(_SessionUser):
    """One reader of the study (each simulated reader is a different account)."""

    weight = 100
    wait_time = between(2, 4)  # back on the worklist between cases

    def on_start(self) -> None:
        self.number = next(_reader_numbers)
        self.login_with(next(_reader_cookies))
        self.etags: dict[str, str] = {}

    def think(self, low: float, high: float) -> None:
        time.sleep(random.uniform(low, high))

    def load_volumes(self, code: str, *, label: str) -> None:
        for kind in VOLUME_KINDS:
            url = f"/api/cases/{code}/volumes/{kind}/"
            headers = {"If-None-Match": self.etags[url]} if url in self.etags else {}
            response = self.client.get(url, name=f"volume {kind}{label}", headers=headers)
            if response.status_code == 200 and response.headers.get("ETag"):
                self.etags[url] = response.headers["ETag"]

    @task
    def read_next_case(self) -> None:
        study = PLAN["study_id"]
        worklist = self.client.get(f"/api/studies/{study}/worklist/", name="api worklist")
        code = worklist.json().get("next_case") if worklist.ok else None
        if code is None:
            time.sleep(60)  # every case read: the reader has left
            return
        self.think(1, 3)
        self.client.get(f"/studies/{study}/read/{code}/", name="page open case")  # redirects to the viewer
        self.client.get(f"/api/cases/{code}/", name="api case detail")
        self.load_volumes(code, label="")
        with self.client.get(f"/api/cases/{code}/segmentations/draft/", name="api draft get",
                             catch_response=True) as draft:
            if draft.status_code in (200, 204):
                draft.success()
        mask = PLAN["masks"][code]
        for _ in range(int(random.uniform(*READ_S) // AUTOSAVE_EVERY_S)):
            time.sleep(AUTOSAVE_EVERY_S)
            self.client.put(f"/api/cases/{code}/segmentations/draft/", json=mask, name="api draft autosave")
        self.think(2, 5)
        saved = self.client.post(f"/api/cases/{code}/segmentations/", json=mask, name="api save mask")
        self.think(3, 8)  # status, confidence, faces, comment
        call = {"status": random.choice(["negative", "close", "positive"]), "confidence": random.randint(1, 5),
                "comment": "load test", "time_spent_s": round(random.uniform(40, 120), 1),
                "segmentation_id": saved.json()["id"] if saved.status_code == 201 else None}
        submitted = self.client.post(f"/api/cases/{code}/reads/", json=call, name="api submit call")
        if submitted.status_code == 201:
            _submitted_by.add(self.number)
        if random.random() < REVISIT_SHARE:
            self.think(2, 5)
            self.client.get(f"/api/cases/{code}/", name="api case detail")
            self.load_volumes(code, label=" revisit")


ADMINS = int(os.environ.get("LOADTEST_ADMINS", "1"))  # 0: readers only (to see what the admins' work costs)


class Uploader(_SessionUser):
    """A study administrator uploading a new specimen study (zip, as the browser sends it) now and then."""

    abstract = ADMINS == 0  # fixed_count 0 would make it a weighted user instead
    fixed_count = ADMINS
    wait_time = constant(60)  # idle under the server's 75 s keep-alive

    def on_start(self) -> None:
        self.login_with(PLAN["admin_cookie"])
        time.sleep(20)

    @task
    def upload(self) -> None:
        path = next(_upload_zips, None)
        if path is None:
            return  # every prepared study uploaded (each study can be imported once)
        with open(path, "rb") as handle:  # stored now (202), ingested by the Celery worker as deployed
            self.client.post("/api/cases/upload/?async=1", files={"files": ("study.zip", handle, "application/zip")},
                             name="upload study")


class Exporter(_SessionUser):
    """The administrator following the study: results dashboard data and the calls CSV export."""

    abstract = ADMINS == 0
    fixed_count = ADMINS
    wait_time = constant(60)

    def on_start(self) -> None:
        self.login_with(PLAN["admin_cookie"])
        time.sleep(30)

    @task
    def export(self) -> None:
        study = PLAN["study_id"]
        self.client.get(f"/api/studies/{study}/results/", name="export results")
        self.client.get(f"/api/studies/{study}/results/reads.csv", name="export reads.csv")
