"""Confidence intervals for a binomial proportion: Clopper-Pearson (exact) and Wilson (score).

- Clopper-Pearson (1934): inverts two one-sided binomial tests via beta quantiles; coverage is
  guaranteed to be at least nominal, so it is conservative. This is the usual "exact" CI in
  diagnostic-accuracy reports (STARD) and the package default.
- Wilson (1927): inverts the score test; coverage close to nominal on average and narrower than
  Clopper-Pearson. Recommended by Newcombe (1998) and Brown, Cai & DasGupta (2001).

Both delegate to ``statsmodels.stats.proportion.proportion_confint`` (method "beta" / "wilson");
this module adds our argument checks and the exact 0 / 1 bounds at the extremes.
"""

from __future__ import annotations

from typing import Literal

from statsmodels.stats.proportion import proportion_confint

CiMethod = Literal["exact", "wilson"]
DEFAULT_CI_METHOD: CiMethod = "exact"

CI_METHOD_LABELS: dict[str, str] = {"exact": "Clopper-Pearson exact", "wilson": "Wilson score"}


def _check(successes: int, total: int, confidence: float) -> None:
    if total <= 0:
        raise ValueError("a proportion needs a positive denominator")
    if not 0 <= successes <= total:
        raise ValueError(f"successes must lie in [0, {total}], got {successes}")
    if not 0 < confidence < 1:
        raise ValueError("confidence must lie strictly between 0 and 1")


def _confint(successes: int, total: int, confidence: float, method: str) -> tuple[float, float]:
    low, high = proportion_confint(successes, total, alpha=1.0 - confidence, method=method)
    # At 0 or n successes the open side is exactly 0 or 1; clip floating-point excursions too.
    low = 0.0 if successes == 0 else max(0.0, float(low))
    high = 1.0 if successes == total else min(1.0, float(high))
    return low, high


def clopper_pearson_ci(*, successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided CI for ``successes / total``."""
    _check(successes, total, confidence)
    return _confint(successes, total, confidence, "beta")


def wilson_ci(*, successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score two-sided CI for ``successes / total``."""
    _check(successes, total, confidence)
    return _confint(successes, total, confidence, "wilson")


def proportion_ci(
    *, successes: int, total: int, method: CiMethod = DEFAULT_CI_METHOD, confidence: float = 0.95
) -> tuple[float, float]:
    """Two-sided CI for a proportion with the chosen method ("exact" = Clopper-Pearson, or "wilson")."""
    if method == "exact":
        return clopper_pearson_ci(successes=successes, total=total, confidence=confidence)
    if method == "wilson":
        return wilson_ci(successes=successes, total=total, confidence=confidence)
    raise ValueError(f"unknown CI method {method!r}; use 'exact' or 'wilson'")
