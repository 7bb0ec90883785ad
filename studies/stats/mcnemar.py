"""Exact McNemar test for paired binary outcomes (model vs reader, aided vs unaided).

Only the discordant pairs carry information: b = A yes / B no, c = A no / B yes. Under H0 (equal
marginal rates) b ~ Binomial(b + c, 1/2); the two-sided exact p comes from
``scipy.stats.binomtest`` (for p = 1/2 it equals min(1, 2 * P(X <= min(b, c)))) and matches
``statsmodels.stats.contingency_tables.mcnemar(table, exact=True)``. With no discordant pairs
p = 1 (the data cannot show a difference).

:func:`compare_paired_accuracy` applies the test to correctness against truth (overall), and to
the calls within truth-positive (sensitivity) and truth-negative (specificity) cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from scipy import stats

from ._checks import as_bools
from .results import NotComputable


@dataclass(frozen=True)
class McNemarResult:
    """Exact McNemar test: discordant counts, statistic min(b, c) and two-sided p."""

    b: int
    c: int
    n_pairs: int
    statistic: int
    p_value: float

    @property
    def n_discordant(self) -> int:
        return self.b + self.c

    def to_dict(self) -> dict[str, Any]:
        return {
            "b_a_only": self.b,
            "c_b_only": self.c,
            "n_discordant": self.n_discordant,
            "n_pairs": self.n_pairs,
            "statistic": self.statistic,
            "p": self.p_value,
            "method": "exact McNemar (binomial on discordant pairs, two-sided)",
        }


def mcnemar_exact_from_counts(*, b: int, c: int, n_pairs: int | None = None) -> McNemarResult:
    """Exact McNemar test from the two discordant counts."""
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be non-negative")
    n = b + c
    k = min(b, c)
    p = 1.0 if n == 0 else min(1.0, float(stats.binomtest(k, n, 0.5, alternative="two-sided").pvalue))
    return McNemarResult(b=b, c=c, n_pairs=n if n_pairs is None else n_pairs, statistic=k, p_value=p)


def mcnemar_exact(*, a: Sequence[bool], b: Sequence[bool]) -> McNemarResult:
    """Exact McNemar test on two paired boolean vectors (same cases, same order)."""
    xa, xb = as_bools(a, "a"), as_bools(b, "b")
    if len(xa) != len(xb):
        raise ValueError(f"a has {len(xa)} items but b has {len(xb)}")
    only_a = sum(1 for u, v in zip(xa, xb, strict=True) if u and not v)
    only_b = sum(1 for u, v in zip(xa, xb, strict=True) if v and not u)
    return mcnemar_exact_from_counts(b=only_a, c=only_b, n_pairs=len(xa))


@dataclass(frozen=True)
class PairedAccuracyComparison:
    """McNemar tests of two raters' calls against the same truth."""

    accuracy: McNemarResult | NotComputable
    sensitivity: McNemarResult | NotComputable
    specificity: McNemarResult | NotComputable

    def to_dict(self) -> dict[str, Any]:
        return {
            "accuracy": self.accuracy.to_dict(),
            "sensitivity": self.sensitivity.to_dict(),
            "specificity": self.specificity.to_dict(),
        }


def compare_paired_accuracy(
    *, truth: Sequence[bool], calls_a: Sequence[bool], calls_b: Sequence[bool]
) -> PairedAccuracyComparison:
    """McNemar on correctness (all cases), on positive calls among truth-positive cases
    (sensitivity) and on negative calls among truth-negative cases (specificity)."""
    t = as_bools(truth, "truth")
    ca, cb = as_bools(calls_a, "calls_a"), as_bools(calls_b, "calls_b")
    if not len(t) == len(ca) == len(cb):
        raise ValueError("truth, calls_a and calls_b must have the same length")

    def subset(keep: bool | None, what: str) -> McNemarResult | NotComputable:
        idx = [i for i, x in enumerate(t) if keep is None or x == keep]
        if not idx:
            return NotComputable(reason=f"no {what} cases")
        return mcnemar_exact(a=[ca[i] == t[i] for i in idx], b=[cb[i] == t[i] for i in idx])

    return PairedAccuracyComparison(
        accuracy=subset(None, "rated"),
        sensitivity=subset(True, "truth-positive"),
        specificity=subset(False, "truth-negative"),
    )
