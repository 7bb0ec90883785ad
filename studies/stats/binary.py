"""Binary diagnostic accuracy: confusion counts and sensitivity, specificity, PPV, NPV, accuracy, F1.

Margin calls are positive / close / negative. :func:`to_binary` maps them to booleans with the
study's set of positive categories (default: positive and close count as positive, as in the
reference reader study). Truth and calls are then paired per case.

Confidence intervals (95%):

- proportions (sensitivity, specificity, PPV, NPV, accuracy): Clopper-Pearson exact by default
  (``ci_method="exact"``; conservative, the usual choice in diagnostic-accuracy reports) or
  Wilson score (``ci_method="wilson"``), see :mod:`studies.stats.proportion`;
- F1 is not a binomial proportion, so its CI is a seeded percentile bootstrap over cases
  (cases resampled with replacement = multinomial resampling of the four confusion cells;
  default 2000 resamples, seed 0; resamples in which F1 is undefined are dropped and counted).

A metric whose denominator is zero (e.g. sensitivity with no margin-positive cases) is a
:class:`~studies.stats.results.NotComputable` with the reason, never NaN.

:func:`reader_mean_sd` summarises per-reader metrics as mean +/- sample SD (ddof = 1).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._checks import as_bools
from .proportion import CI_METHOD_LABELS, DEFAULT_CI_METHOD, CiMethod, proportion_ci
from .results import Estimate, NotComputable

Metric = Estimate | NotComputable

MARGIN_CATEGORIES = ("positive", "close", "negative")
METRIC_NAMES = ("sensitivity", "specificity", "ppv", "npv", "accuracy", "f1")


def to_binary(
    *,
    categories: Sequence[str],
    positive: Collection[str] = ("positive", "close"),
    negative: Collection[str] | None = None,
) -> list[bool]:
    """Map category labels to booleans (True = positive).

    ``negative`` defaults to the margin categories (positive/close/negative) not in ``positive``,
    so with ``positive=("positive",)`` a "close" call counts as negative. Labels are compared
    case-insensitively after stripping; a label in neither set raises ValueError (a typo must not
    silently become "negative").
    """
    pos = {p.strip().lower() for p in positive}
    neg = (
        {c for c in MARGIN_CATEGORIES if c not in pos}
        if negative is None
        else {n.strip().lower() for n in negative}
    )
    if pos & neg:
        raise ValueError(f"categories both positive and negative: {sorted(pos & neg)}")
    out: list[bool] = []
    for i, label in enumerate(categories):
        key = label.strip().lower() if isinstance(label, str) else None
        if key in pos:
            out.append(True)
        elif key in neg:
            out.append(False)
        else:
            raise ValueError(f"item {i}: unknown category {label!r}; expected one of {sorted(pos | neg)}")
    return out


@dataclass(frozen=True)
class ConfusionCounts:
    """2x2 counts of calls against truth."""

    tp: int
    fp: int
    tn: int
    fn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    def to_dict(self) -> dict[str, int]:
        return {"tp": self.tp, "fp": self.fp, "tn": self.tn, "fn": self.fn, "n": self.n}


def confusion_counts(*, truth: Sequence[bool], calls: Sequence[bool]) -> ConfusionCounts:
    """Count TP, FP, TN, FN from paired truth and calls (True = positive)."""
    t = as_bools(truth, "truth")
    c = as_bools(calls, "calls")
    if len(t) != len(c):
        raise ValueError(f"truth has {len(t)} cases but calls has {len(c)}")
    tp = sum(1 for a, b in zip(t, c, strict=True) if a and b)
    fp = sum(1 for a, b in zip(t, c, strict=True) if not a and b)
    tn = sum(1 for a, b in zip(t, c, strict=True) if not a and not b)
    return ConfusionCounts(tp=tp, fp=fp, tn=tn, fn=len(t) - tp - fp - tn)


@dataclass(frozen=True)
class BinaryMetrics:
    """Accuracy metrics for one rater, each an Estimate (value + 95% CI) or NotComputable."""

    counts: ConfusionCounts
    sensitivity: Metric
    specificity: Metric
    ppv: Metric
    npv: Metric
    accuracy: Metric
    f1: Metric
    ci_method: str
    f1_bootstrap: dict[str, int] = field(default_factory=dict)

    def metric(self, name: str) -> Metric:
        if name not in METRIC_NAMES:
            raise KeyError(name)
        return getattr(self, name)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"counts": self.counts.to_dict(), "ci_method": self.ci_method}
        for name in METRIC_NAMES:
            out[name] = self.metric(name).to_dict()
        out["f1_bootstrap"] = dict(self.f1_bootstrap)
        return out


def _proportion(num: int, den: int, method: CiMethod, undefined: str) -> Metric:
    if den == 0:
        return NotComputable(reason=undefined)
    low, high = proportion_ci(successes=num, total=den, method=method)
    return Estimate(
        value=num / den,
        ci_low=low,
        ci_high=high,
        method=CI_METHOD_LABELS[method],
        numerator=num,
        denominator=den,
    )


def _f1(counts: ConfusionCounts, n_bootstrap: int, seed: int) -> tuple[Metric, dict[str, int]]:
    # Our own resampling, not scipy.stats.bootstrap: F1 is undefined in resamples with no positive
    # case and no positive call, and scipy then returns a NaN interval; it cannot drop and count
    # those resamples (``n_used``), which small studies need. Resampling the four cells is also O(B).
    den = 2 * counts.tp + counts.fp + counts.fn
    info = {"n_bootstrap": n_bootstrap, "seed": seed, "n_used": 0}
    if den == 0:
        return NotComputable(reason="no positive cases and no positive calls: F1 is undefined"), info
    value = 2 * counts.tp / den
    rng = np.random.default_rng(seed)
    cells = np.array([counts.tp, counts.fp, counts.tn, counts.fn], dtype=float)
    draws = rng.multinomial(counts.n, cells / counts.n, size=n_bootstrap)
    b_den = 2 * draws[:, 0] + draws[:, 1] + draws[:, 3]
    ok = b_den > 0
    info["n_used"] = int(ok.sum())
    if info["n_used"] < 2:
        return NotComputable(reason="F1 is undefined in (almost) every bootstrap resample"), info
    f1s = 2 * draws[ok, 0] / b_den[ok]
    low, high = (float(q) for q in np.quantile(f1s, [0.025, 0.975]))
    estimate = Estimate(
        value=value,
        ci_low=low,
        ci_high=high,
        method=f"percentile bootstrap ({n_bootstrap} resamples, seed {seed})",
        numerator=2 * counts.tp,
        denominator=den,
    )
    return estimate, info


def metrics_from_counts(
    *,
    counts: ConfusionCounts,
    ci_method: CiMethod = DEFAULT_CI_METHOD,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> BinaryMetrics:
    """All binary metrics with 95% CIs from confusion counts."""
    if n_bootstrap < 1:
        raise ValueError("n_bootstrap must be positive")
    c = counts
    f1, info = _f1(c, n_bootstrap, seed)
    return BinaryMetrics(
        counts=c,
        sensitivity=_proportion(
            c.tp, c.tp + c.fn, ci_method, "no truth-positive cases: sensitivity is undefined"
        ),
        specificity=_proportion(
            c.tn, c.tn + c.fp, ci_method, "no truth-negative cases: specificity is undefined"
        ),
        ppv=_proportion(c.tp, c.tp + c.fp, ci_method, "no positive calls: PPV is undefined"),
        npv=_proportion(c.tn, c.tn + c.fn, ci_method, "no negative calls: NPV is undefined"),
        accuracy=_proportion(c.tp + c.tn, c.n, ci_method, "no cases: accuracy is undefined"),
        f1=f1,
        ci_method=CI_METHOD_LABELS[ci_method],
        f1_bootstrap=info,
    )


def binary_metrics(
    *,
    truth: Sequence[bool],
    calls: Sequence[bool],
    ci_method: CiMethod = DEFAULT_CI_METHOD,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> BinaryMetrics:
    """Confusion counts and all binary metrics with 95% CIs for one rater's calls."""
    counts = confusion_counts(truth=truth, calls=calls)
    return metrics_from_counts(counts=counts, ci_method=ci_method, n_bootstrap=n_bootstrap, seed=seed)


@dataclass(frozen=True)
class MeanSd:
    """Mean and sample SD (ddof = 1) of one metric across raters."""

    mean: float
    sd: float | NotComputable
    n: int
    values: dict[str, float]
    excluded: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": float(self.mean),
            "sd": self.sd.to_dict() if isinstance(self.sd, NotComputable) else float(self.sd),
            "n": self.n,
            "values": {k: float(v) for k, v in self.values.items()},
            "excluded": dict(self.excluded),
        }


def mean_sd(*, values: Mapping[str, float | Estimate | NotComputable]) -> MeanSd | NotComputable:
    """Mean +/- sample SD over raters; NotComputable values are excluded and listed with reasons."""
    kept: dict[str, float] = {}
    excluded: dict[str, str] = {}
    for name, v in values.items():
        if isinstance(v, NotComputable):
            excluded[name] = v.reason
        else:
            x = float(v.value) if isinstance(v, Estimate) else float(v)
            if not math.isfinite(x):
                raise ValueError(f"{name}: non-finite value {x}")
            kept[name] = x
    if not kept:
        return NotComputable(reason="no rater has a computable value")
    xs = list(kept.values())
    sd: float | NotComputable = (
        statistics.stdev(xs) if len(xs) > 1 else NotComputable(reason="one rater: SD is undefined")
    )
    return MeanSd(mean=statistics.fmean(xs), sd=sd, n=len(xs), values=kept, excluded=excluded)


def reader_mean_sd(*, per_reader: Mapping[str, BinaryMetrics]) -> dict[str, MeanSd | NotComputable]:
    """Mean +/- SD across readers of every binary metric (keys: sensitivity ... f1)."""
    return {
        name: mean_sd(values={reader: m.metric(name) for reader, m in per_reader.items()})
        for name in METRIC_NAMES
    }
