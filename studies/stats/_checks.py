"""Input validation shared by the statistics modules (private)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


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
