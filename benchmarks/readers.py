"""Concurrent simulated readers against a live WSGI server on the loopback interface.

Used by ``manage.py bench_readers``. Each simulated reader works through its worklist: fetch the
worklist, open the next case (as the worklist link does), load the case and its CT volume, save a
mask, submit a call; the loop is bounded by the number of cases. Only 127.0.0.1 is ever contacted.
"""

from __future__ import annotations

import multiprocessing
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from importlib import import_module

import numpy as np
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth.models import Group
from django.core.handlers.wsgi import WSGIHandler
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.db import connection

from benchmarks.readers_client import LOOPBACK, client_batch
from cases.imaging.volume import Grid
from cases.models import Case, CaseVolume
from cases.volume_store import store_array
from inference.maskcodec import encode_rle
from petctweb.roles import ALL_ROLES, READER, STUDY_ADMIN
from studies.models import Read, Study
from studies.services import study_create

OPERATIONS = ("worklist", "open", "case", "volume", "save_mask", "submit")


class _Server(ThreadedWSGIServer):
    request_queue_size = 512  # many readers connect at once


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):  # no access log per request
        pass


@dataclass
class BenchResult:
    readers: int
    cases: int
    database: str
    wall_s: float
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    reads_stored: int = 0

    def summary(self) -> dict:
        def stats(values: list[float]) -> dict:
            if not values:
                return {"n": 0}
            array = np.asarray(values)
            return {"n": int(array.size), "p50_ms": round(float(np.percentile(array, 50)), 1),
                    "p95_ms": round(float(np.percentile(array, 95)), 1), "max_ms": round(float(array.max()), 1)}

        everything = [v for op in OPERATIONS for v in self.latencies_ms.get(op, [])]
        total = len(everything) + len(self.errors)
        return {
            "database": self.database, "readers": self.readers, "cases_per_reader": self.cases,
            "wall_s": round(self.wall_s, 2), "requests": total,
            "throughput_rps": round(total / self.wall_s, 1) if self.wall_s else None,
            "errors": len(self.errors), "reads_stored": self.reads_stored,
            "all": stats(everything), **{op: stats(self.latencies_ms.get(op, [])) for op in OPERATIONS},
        }


def _synthetic_case(code: str, shape: tuple[int, int, int]) -> Case:
    grid = Grid(shape=shape, spacing=(0.5, 0.5, 0.5), origin=(0.0, 0.0, 0.0))
    case = Case.objects.create(code=code, patient_key=f"bench-{code}", study_key=f"bench-{code}",
                               source=Case.Source.IMPORT, ct_acquired=grid.to_dict(), pet_acquired=grid.to_dict(),
                               working_grid=grid.to_dict(), pet_units="BQML", suv_unavailable_reason="benchmark")
    rng = np.random.default_rng(abs(hash(code)) % 2**32)
    arrays = {"ct": rng.normal(-300, 200, shape).astype(np.int16), "pet": rng.random(shape).astype(np.float32),
              "specimen": np.ones(shape, np.uint8)}
    for kind, array in arrays.items():
        name, sha, size = store_array(array=array, name=f"volumes/{code}/{kind}.raw.gz")
        CaseVolume.objects.create(case=case, kind=kind, file=name, dtype=str(array.dtype), shape=list(shape),
                                  sha256=sha, size_bytes=size)
    return case


def _login_cookie(user) -> str:
    engine = import_module(settings.SESSION_ENGINE)
    session = engine.SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return session.session_key


def bench_users(*, readers: int, prefix: str) -> tuple:
    """A study administrator ``<prefix>-admin`` and readers ``<prefix>-reader000``..., role groups ensured."""
    for role in ALL_ROLES:
        Group.objects.get_or_create(name=role)
    User = get_user_model()
    admin = User.objects.create_user(username=f"{prefix}-admin")
    admin.groups.add(Group.objects.get(name=STUDY_ADMIN))
    people = []
    for i in range(readers):
        user = User.objects.create_user(username=f"{prefix}-reader{i:03d}")
        user.groups.add(Group.objects.get(name=READER))
        people.append(user)
    return admin, people


def prepare(*, readers: int, cases: int, shape: tuple[int, int, int], tag: str = "") -> tuple[Study, list]:
    """Users, synthetic cases and an unaided study with every reader on every case."""
    tag = tag or secrets.token_hex(3)
    admin, people = bench_users(readers=readers, prefix=f"bench-{tag}")
    codes = [_synthetic_case(f"BENCH-{tag}-{i:03d}", shape).code for i in range(cases)]
    study = study_create(user=admin, name=f"bench {tag}", design="unaided", case_codes=codes,
                         reader_usernames=[u.get_username() for u in people], seed=1)
    return study, people


def run(*, study: Study, people: list, shape: tuple[int, int, int], client_processes: int = 4) -> BenchResult:
    """Serve the application on 127.0.0.1 (a free port) and let every reader work through the worklist."""
    cases = study.study_cases.count()
    result = BenchResult(readers=len(people), cases=cases, database=connection.vendor, wall_s=0.0)
    mask = np.zeros(shape, np.uint8)
    k, j, i = (s // 2 for s in shape)
    mask[k - 2:k + 2, j - 5:j + 5, i - 5:i + 5] = 1
    mask_body = {"parent_id": None, "shape": list(shape), "encoding": "rle-u8-v1", "data": encode_rle(mask)}
    cookies = [_login_cookie(user) for user in people]
    server = _Server((LOOPBACK, 0), _QuietHandler)
    server.set_app(WSGIHandler())
    port = server.server_address[1]
    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    serving.start()
    processes = max(1, min(client_processes, len(cookies)))
    start_at = time.time() + 2.0 + 0.3 * processes  # every reader starts together
    jobs = [{"port": port, "cookies": cookies[i::processes], "study_id": study.pk, "mask": mask_body,
             "max_cases": cases, "start_at": start_at} for i in range(processes)]
    try:
        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            outcomes = pool.map(client_batch, jobs)
        result.wall_s = time.time() - start_at
    finally:
        server.shutdown()
        server.server_close()
    for latencies, errors in outcomes:
        for op, values in latencies.items():
            result.latencies_ms[op].extend(values)
        result.errors.extend(errors)
    result.reads_stored = Read.objects.filter(study=study).count()
    expected = len(people) * cases
    if result.reads_stored != expected:
        result.errors.append(f"{result.reads_stored} calls stored, expected {expected}")
    return result
