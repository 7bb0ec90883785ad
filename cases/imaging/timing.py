"""Stage timings of one task, logged as one line that the scanner-to-result benchmark reads back.

Django-free. Each stage keeps its wall-clock start (so stages of different processes line up with the
rows' timestamps) and its duration (``perf_counter``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

logger = logging.getLogger(__name__)

STAGE_LOG_PREFIX = "stage-timings "


class StageClock:
    """Named stages of one task (``task`` names it, ``object_id`` is the row it works on)."""

    def __init__(self, *, task: str, object_id: int | None = None) -> None:
        self.task, self.object_id = task, object_id
        self.stages: list[dict] = []
        self._open: tuple[str, float, float] | None = None

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        wall, started = time.time(), time.perf_counter()
        try:
            yield
        finally:
            self.add(name, wall, time.perf_counter() - started)

    def mark(self, name: str) -> None:
        """End the stage begun by the previous ``mark`` (if any) and begin ``name``."""
        self.close()
        self._open = (name, time.time(), time.perf_counter())

    def close(self) -> None:
        if self._open is not None:
            name, wall, started = self._open
            self._open = None
            self.add(name, wall, time.perf_counter() - started)

    def add(self, name: str, wall: float, seconds: float) -> None:
        """A stage timed elsewhere (``wall``: its wall-clock start)."""
        self.stages.append({"name": name, "start": round(wall, 4), "seconds": round(seconds, 4)})

    def seconds(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for stage in self.stages:
            totals[stage["name"]] = round(totals.get(stage["name"], 0.0) + stage["seconds"], 4)
        return totals

    def log(self) -> None:
        self.close()
        logger.info("%s%s", STAGE_LOG_PREFIX,
                    json.dumps({"task": self.task, "id": self.object_id, "stages": self.stages}))


@contextmanager
def logged_stages(*, task: str, object_id: int | None = None) -> Iterator[StageClock]:
    """A task's StageClock, logged when the block ends however it ends (bench_dicom reads the line back)."""
    clock = StageClock(task=task, object_id=object_id)
    try:
        yield clock
    finally:
        clock.log()


def parse_stage_lines(lines: list[str]) -> list[dict]:
    """The records of every stage-timings line in a log (other lines are ignored)."""
    records = []
    for line in lines:
        at = line.find(STAGE_LOG_PREFIX)
        if at < 0:
            continue
        try:
            records.append(json.loads(line[at + len(STAGE_LOG_PREFIX):]))
        except ValueError:
            continue
    return records
