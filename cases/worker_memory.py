"""What this process stored for a case a moment ago, kept in memory for the next task on that case.

The run command's worker runs ingest, inference and the PACS delivery of a case one after the other in
one process; without this each task would read back (gunzip, parse) what the one before had just
written. Only the newest case is kept (a few MB), keyed by the case (its id and creation time: an id
alone may come back after a rollback) and the storage name of the file, so a miss, another process or a
replaced file simply reads the file. Arrays are kept read-only:
a task that wants to change one must copy it, as it would a freshly loaded one.
"""

from __future__ import annotations

import threading

import numpy as np

_lock = threading.Lock()
_case_key: tuple | None = None
_entries: dict[str, tuple[str, object]] = {}  # kind -> (storage name, value)


def _key(case) -> tuple:
    return (case.pk, case.created_at)


def remember(*, case, kind: str, name: str, value: object) -> None:
    """Keep ``value`` (stored under ``name``) for ``case``; remembering another case forgets the last."""
    global _case_key
    if isinstance(value, np.ndarray):
        value.flags.writeable = False
    with _lock:
        if _case_key != _key(case):
            _case_key = _key(case)
            _entries.clear()
        _entries[kind] = (name, value)


def recall(*, case, kind: str, name: str) -> object | None:
    """The value remembered for this case, kind and storage name, or None."""
    with _lock:
        if _case_key != _key(case):
            return None
        entry = _entries.get(kind)
    if entry is None or entry[0] != name:
        return None
    return entry[1]


def forget() -> None:
    global _case_key
    with _lock:
        _case_key = None
        _entries.clear()
