"""The worker's pool processes freeze what survives each task; every so many tasks they collect everything,
so garbage that formed among frozen objects is freed after all."""

from __future__ import annotations

import gc
import weakref

from petctweb import celery as worker_app


class _Node:
    pass


def test_frozen_cycles_are_collected_every_so_many_tasks(monkeypatch):
    monkeypatch.setattr(worker_app, "FULL_COLLECTION_EVERY", 3)
    monkeypatch.setattr(worker_app, "_tasks_since_full_collection", 0)
    node = _Node()
    node.itself = node  # a reference cycle: only the cyclic collector frees it
    alive = weakref.ref(node)
    try:
        worker_app._freeze_survivors()  # task 1 ends: the node survives and is frozen
        del node  # unreachable now, but frozen
        worker_app._freeze_survivors()  # task 2: frozen objects are out of the collector's reach
        assert alive() is not None
        worker_app._freeze_survivors()  # task 3: everything is collected once
        assert alive() is None
    finally:
        gc.unfreeze()
