"""Start, wait for and stop the product's own processes (Celery worker, DICOM listener) from a benchmark or a
test: each in its own process group with its output in a log file, so a stop ends its pool children too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from django.conf import settings

REPO = Path(settings.BASE_DIR)


def start_process(command: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen:
    """``command`` in the repository, in a new session (process group), stdout and stderr into ``log``."""
    return subprocess.Popen(list(command), cwd=REPO, env=dict(os.environ if env is None else env),
                            stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True)


def worker_command(*, name: str, queues: str = "default,gpu") -> list[str]:
    """One prefork Celery worker process with one pool child, as the run command starts it."""
    return [sys.executable, "-m", "celery", "-A", "petctweb", "worker", "-Q", queues, "--concurrency", "1",
            "--pool", "prefork", "--loglevel", "INFO", "-n", f"{name}-{os.getpid()}@%h"]


def start_worker(*, log: Path, name: str, env: Mapping[str, str] | None = None,
                 queues: str = "default,gpu") -> subprocess.Popen:
    return start_process(worker_command(name=name, queues=queues), log=log, env=env)


def stop_process(process: subprocess.Popen, *, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
    """Send ``sig`` to the whole process group; SIGKILL it when it has not ended within ``timeout``."""
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        process.wait(timeout=timeout)
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)


def log_tails(logs: Sequence[Path], chars: int = 3000) -> str:
    return "\n---\n".join(log.read_text()[-chars:] for log in logs if log.exists())


def wait_for(predicate: Callable, *, timeout: float, what: str, logs: Sequence[Path] = (), interval: float = 0.05):
    """The first truthy value of ``predicate()``; TimeoutError (with the logs' tails) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}\n{log_tails(logs)}")
