"""The web process's memory during a large chunked upload: stream N GB in chunks to gunicorn, sample RSS.

    .venv/bin/python -m benchmarks.dicom_upload_memory --gigabytes 1 [--chunk-mb 8]

Runs in a scratch folder (own SQLite database and upload folder), starts gunicorn as production does
(one gthread worker so the figure is that worker's), authenticates with an API token, declares one file
of N GB, sends it chunk by chunk (PATCH with Upload-Offset) and samples the worker's RSS every 0.1 s.
The upload is cancelled at the end (its file removed); nothing is ingested.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _request(port: int, method: str, path: str, token: str, body=None, headers=None) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    all_headers = {"Authorization": f"Token {token}", **(headers or {})}
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        all_headers["Content-Type"] = "application/json"
    connection.request(method, path, body=body, headers=all_headers)
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return response.status, (json.loads(raw) if raw else {})


def _rss_mb(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / 1e6


def _worker_pid(master: int) -> int:
    import psutil

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        children = psutil.Process(master).children()
        if children:
            return children[0].pid
        time.sleep(0.2)
    raise RuntimeError("gunicorn started no worker")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gigabytes", type=float, default=1.0)
    parser.add_argument("--chunk-mb", type=float, default=8.0)
    args = parser.parse_args()
    total = int(args.gigabytes * 1024**3)
    chunk = int(args.chunk_mb * 1024**2)
    scratch = Path(tempfile.mkdtemp(prefix="petctweb-upload-rss-"))
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "petctweb.settings", "DATABASE_URL": f"sqlite:///{scratch / 'db.sqlite3'}",
        "MEDIA_ROOT": str(scratch / "media"), "PETCTWEB_UPLOAD_DIR": str(scratch / "uploads"),
        "PETCTWEB_BROKER_DIR": str(scratch / "broker"), "DEBUG": "0",
        "PETCTWEB_MAX_UPLOAD_BYTES": str(max(total, 2 * 1024**3)),
    })
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from portal.tokens import api_token_create

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_superuser("rss", password="rss-bench-1")
    _, token = api_token_create(user=user)
    port = int(subprocess.check_output([sys.executable, "-c", "import socket; s=socket.socket(); "
                                        "s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"]))
    log = (scratch / "gunicorn.log").open("w")
    server = subprocess.Popen([sys.executable, "-m", "gunicorn", "petctweb.wsgi", "-w", "1", "-k", "gthread",
                               "--threads", "4", "-b", f"127.0.0.1:{port}", "--timeout", "120"],
                              cwd=REPO, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    samples: list[float] = []
    stop = threading.Event()
    try:
        pid = _worker_pid(server.pid)
        deadline = time.monotonic() + 60
        while True:
            try:
                _request(port, "GET", "/api/uploads/", token)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        before = _rss_mb(pid)

        def sample() -> None:
            while not stop.wait(0.1):
                samples.append(_rss_mb(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        status, session = _request(port, "POST", "/api/uploads/", token,
                                   {"files": [{"name": "big.bin", "size": total}]})
        if status != 201:
            raise RuntimeError(f"could not open an upload session: {status} {session}")
        payload = os.urandom(chunk)
        offset, start = 0, time.monotonic()
        while offset < total:
            piece = payload[: min(chunk, total - offset)]
            status, body = _request(port, "PATCH", session["url"], token, piece,
                                    {"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
            if status != 200:
                raise RuntimeError(f"chunk at {offset} refused: {status} {body}")
            offset = body["offset"]
        seconds = time.monotonic() - start
        stop.set()
        sampler.join()
        after = _rss_mb(pid)
        _request(port, "DELETE", session["url"], token)
        print(json.dumps({
            "uploaded_bytes": total, "chunk_bytes": chunk, "seconds": round(seconds, 2),
            "mb_per_s": round(total / 1e6 / seconds, 1),
            "worker_rss_mb_before": round(before, 1), "worker_rss_mb_max_during": round(max(samples or [after]), 1),
            "worker_rss_mb_after": round(after, 1), "samples": len(samples),
        }, indent=2))
    finally:
        stop.set()
        server.terminate()
        server.wait(timeout=30)
        log.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
