"""The client side of ``bench_readers``: simulated readers over HTTP to 127.0.0.1 (no Django here).

Kept free of Django so the readers can run in separate processes and do not compete with the
server for its interpreter lock.
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import time

LOOPBACK = "127.0.0.1"


def reader_loop(*, port: int, cookie: str, study_id: int, mask: dict, max_cases: int, start_at: float,
                latencies: dict, errors: list, lock: threading.Lock) -> None:
    csrf = secrets.token_hex(16)  # 32 characters: Django accepts the unmasked secret as the token
    headers = {"Cookie": f"sessionid={cookie}; csrftoken={csrf}", "X-CSRFToken": csrf, "Host": LOOPBACK}

    def request(op: str, method: str, path: str, body: dict | None = None, expect=(200,)):
        payload = json.dumps(body).encode() if body is not None else None
        send = dict(headers, **({"Content-Type": "application/json"} if payload else {}))
        started = time.perf_counter()
        try:
            conn = http.client.HTTPConnection(LOOPBACK, port, timeout=300)
            conn.request(method, path, body=payload, headers=send)
            response = conn.getresponse()
            data = response.read()
            conn.close()
        except OSError as exc:
            with lock:
                errors.append(f"{op} {path}: {exc}")
            return None
        elapsed = (time.perf_counter() - started) * 1000
        with lock:
            if response.status in expect:
                latencies.setdefault(op, []).append(elapsed)
            else:
                errors.append(f"{op} {path}: HTTP {response.status} {data[:200]!r}")
                return None
        return data

    time.sleep(max(0.0, start_at - time.time()))
    for _ in range(max_cases + 1):  # bounded: one extra pass sees the empty worklist
        data = request("worklist", "GET", f"/api/studies/{study_id}/worklist/")
        if data is None:
            return
        code = json.loads(data)["next_case"]
        if code is None:
            return
        if request("open", "GET", f"/studies/{study_id}/read/{code}/", expect=(302,)) is None:
            return
        if request("case", "GET", f"/api/cases/{code}/") is None:
            return
        request("volume", "GET", f"/api/cases/{code}/volumes/ct/")
        saved = request("save_mask", "POST", f"/api/cases/{code}/segmentations/", mask, expect=(201,))
        call = {"status": "negative", "confidence": 3, "comment": "", "time_spent_s": 30.0,
                "segmentation_id": json.loads(saved)["id"] if saved else None}
        if request("submit", "POST", f"/api/cases/{code}/reads/", call, expect=(201,)) is None:
            return


def client_batch(job: dict) -> tuple[dict, list]:
    """One client process: a thread per reader cookie; returns (latencies by operation, errors)."""
    latencies: dict = {}
    errors: list = []
    lock = threading.Lock()
    threads = [threading.Thread(target=reader_loop, kwargs={
        "port": job["port"], "cookie": cookie, "study_id": job["study_id"], "mask": job["mask"],
        "max_cases": job["max_cases"], "start_at": job["start_at"], "latencies": latencies, "errors": errors,
        "lock": lock}, daemon=True) for cookie in job["cookies"]]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=job.get("timeout_s", 1800))
    return latencies, errors
