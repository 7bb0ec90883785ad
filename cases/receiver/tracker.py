"""In-memory receipt bookkeeping for the listener process, so the C-STORE handler never waits on the
database: the timer thread writes the counts and times out every tick (files are already on disk)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cases.receiver.store import StoredInstance


@dataclass
class Pending:
    first: StoredInstance
    instances: int = 0
    last_received_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class ReceiptTracker:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}
        self._sending: dict[int, set[str]] = {}  # open association -> studies it has stored into

    def record(self, stored: StoredInstance, association: int | None = None) -> None:
        with self._lock:
            pending = self._pending.setdefault(stored.study_key, Pending(first=stored))
            pending.instances += 1
            pending.last_received_at = datetime.now(UTC)
            if association is not None:
                self._sending.setdefault(association, set()).add(stored.study_key)

    def association_closed(self, association: int) -> None:
        with self._lock:
            self._sending.pop(association, None)

    def busy_studies(self) -> set[str]:
        """Studies not to close yet: still being sent on an open association, or with unrecorded instances.

        A sender may pause longer than the quiet time mid-study (a loaded scanner or disk); closing then
        would ingest half a study and open a second receipt for the rest in the same folder.
        """
        with self._lock:
            busy = set(self._pending)
            for keys in self._sending.values():
                busy |= keys
        return busy

    def take(self) -> list[Pending]:
        """Everything recorded since the last call (and forget it)."""
        with self._lock:
            pending, self._pending = list(self._pending.values()), {}
        return pending

    def restore(self, items: list[Pending]) -> None:
        """Put back what could not be written (e.g. the database was busy), merged with newer arrivals."""
        with self._lock:
            for item in items:
                newer = self._pending.get(item.first.study_key)
                if newer is None:
                    self._pending[item.first.study_key] = item
                else:
                    newer.instances += item.instances
                    newer.first = item.first
