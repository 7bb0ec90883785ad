"""Figures of a locust run from its request records (no Django, no locust: the locust process calls it).

A record is ``(kind, name, ms, wire_bytes, ok, status)``; kind is ``api`` (a reader's API call), ``volume``
(a volume download or revalidation), ``page`` (an HTML page) or ``admin`` (upload, results, exports: also
under /api/, reported with and without). Percentiles are numpy's linear interpolation.
"""

from __future__ import annotations

import numpy as np


def _stats(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "max_ms": None}
    array = np.asarray(values, dtype=float)
    p50, p95, p99 = (round(float(v), 1) for v in np.percentile(array, [50, 95, 99]))
    return {"n": int(array.size), "p50_ms": p50, "p95_ms": p95, "p99_ms": p99, "max_ms": round(float(array.max()), 1)}


def summarise(*, records: list[tuple], wall_s: float, readers: int, readers_submitted: int) -> dict:
    ok = [r for r in records if r[4]]
    by_name: dict[str, list[float]] = {}
    for _, name, ms, *_ in ok:
        by_name.setdefault(name, []).append(ms)
    downloads = [r for r in ok if r[0] == "volume" and r[5] == 200]
    wire_bytes = sum(r[3] for r in downloads)
    download_s = sum(r[2] for r in downloads) / 1000
    return {
        "wall_s": round(wall_s, 1),
        "requests": len(records),
        "errors": len(records) - len(ok),
        "errors_by_name": {name: sum(1 for r in records if r[1] == name and not r[4])
                           for name in sorted({r[1] for r in records if not r[4]})},
        "api": _stats([r[2] for r in ok if r[0] == "api"]),
        "api_with_admin": _stats([r[2] for r in ok if r[0] in ("api", "admin")]),
        "pages": _stats([r[2] for r in ok if r[0] == "page"]),
        "volumes": {
            **_stats([r[2] for r in downloads]),
            "not_modified": sum(1 for r in ok if r[0] == "volume" and r[5] == 304),
            "mb": round(wire_bytes / 1e6, 1),
            "mb_per_s_over_run": round(wire_bytes / 1e6 / wall_s, 2) if wall_s else None,
            "mb_per_s_per_download": round(wire_bytes / 1e6 / download_s, 1) if download_s else None,
        },
        "calls_submitted": sum(1 for r in ok if r[1] == "api submit call" and r[5] == 201),
        "readers": readers,
        "readers_with_a_call": readers_submitted,
        "per_name": {name: _stats(values) for name, values in sorted(by_name.items())},
    }
