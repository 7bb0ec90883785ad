"""Input validation shared by the statistics modules (private)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .results import NotComputable


def as_bools(values: Sequence[Any], name: str) -> list[bool]:
    """Booleans from bool / numpy bool / 0-1 integers; anything else is a caller error."""
    out: list[bool] = []
    for i, v in enumerate(values):
        if isinstance(v, bool | np.bool_):
            out.append(bool(v))
        elif isinstance(v, int | np.integer) and int(v) in (0, 1):
            out.append(bool(v))
        else:
            raise ValueError(f"{name}[{i}] = {v!r} is not a boolean; map categories with to_binary()")
    return out


def roc_arrays(truth: Sequence[bool], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(as_bools(truth, "truth"), dtype=bool)
    s = np.asarray(scores, dtype=float)
    if s.shape != t.shape:
        raise ValueError(f"truth has {t.size} cases but scores has {s.size}")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite numbers")
    return t, s


def class_shortfall(t: np.ndarray, need: int) -> NotComputable | None:
    n1, n0 = int(t.sum()), int((~t).sum())
    if n1 < need or n0 < need:
        return NotComputable(
            reason=f"needs at least {need} diseased and {need} non-diseased case(s); got {n1} and {n0}"
        )
    return None
