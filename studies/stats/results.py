"""Shared result types: an estimate with its confidence interval, and "not computable".

Every statistic in this package is either a number or a :class:`NotComputable` carrying a
human-readable reason (for example "no margin-positive cases: sensitivity is undefined").
Nothing returns a silent NaN. :func:`jsonable` turns results into plain JSON-ready Python
(floats, ints, str, lists, dicts, None) and refuses NaN so that a bug cannot hide in a report.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class NotComputable:
    """A statistic that is undefined for these data, with the reason why."""

    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"not_computable": True, "reason": self.reason}


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided 95% confidence interval.

    ``method`` names the interval method. ``numerator``/``denominator`` are the counts a
    proportion was computed from (None where the estimate is not a simple proportion).
    """

    value: float
    ci_low: float
    ci_high: float
    method: str
    numerator: int | None = None
    denominator: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": float(self.value),
            "ci95": [float(self.ci_low), float(self.ci_high)],
            "method": self.method,
        }
        if self.numerator is not None:
            out["numerator"] = int(self.numerator)
        if self.denominator is not None:
            out["denominator"] = int(self.denominator)
        return out


def jsonable(value: Any) -> Any:
    """Convert results (dataclasses with ``to_dict``, numpy scalars, tuples) to plain JSON types.

    Infinite floats become None (used only where documented, e.g. infinite degrees of freedom);
    NaN raises ValueError because every undefined quantity must be a NotComputable instead.
    """
    if value is None or isinstance(value, bool | str):
        return value
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        f = float(value)
        if math.isnan(f):
            raise ValueError("NaN in a statistics result: undefined values must be NotComputable")
        return None if math.isinf(f) else f
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    raise TypeError(f"cannot convert {type(value).__name__} to JSON")
