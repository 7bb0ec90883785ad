"""Confidence intervals for a binomial proportion: Clopper-Pearson (exact) and Wilson (score).

- Clopper-Pearson (1934): inverts two one-sided binomial tests via beta quantiles; coverage is
  guaranteed to be at least nominal, so it is conservative. This is the usual "exact" CI in
  diagnostic-accuracy reports (STARD) and the package default.
- Wilson (1927): inverts the score test; coverage close to nominal on average and narrower than
  Clopper-Pearson. Recommended by Newcombe (1998) and Brown, Cai & DasGupta (2001).

Both match ``statsmodels.stats.proportion.proportion_confint(method="beta"/"wilson")``.
"""

from __future__ import annotations

import math
from typing import Literal

from scipy import stats

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


def clopper_pearson_ci(*, successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) two-sided CI for ``successes / total``."""
    _check(successes, total, confidence)
    alpha = 1.0 - confidence
    # The bounds are beta quantiles; at 0 or n successes the open side is fixed at 0 or 1.
    low = 0.0 if successes == 0 else float(stats.beta.ppf(alpha / 2, successes, total - successes + 1))
    high = (
        1.0 if successes == total else float(stats.beta.ppf(1 - alpha / 2, successes + 1, total - successes))
    )
    return low, high


def wilson_ci(*, successes: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score two-sided CI for ``successes / total``."""
    _check(successes, total, confidence)
    z = float(stats.norm.ppf(1 - (1 - confidence) / 2))
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    # Clip tiny floating-point excursions outside [0, 1] at the extremes.
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion_ci(
    *, successes: int, total: int, method: CiMethod = DEFAULT_CI_METHOD, confidence: float = 0.95
) -> tuple[float, float]:
    """Two-sided CI for a proportion with the chosen method ("exact" = Clopper-Pearson, or "wilson")."""
    if method == "exact":
        return clopper_pearson_ci(successes=successes, total=total, confidence=confidence)
    if method == "wilson":
        return wilson_ci(successes=successes, total=total, confidence=confidence)
    raise ValueError(f"unknown CI method {method!r}; use 'exact' or 'wilson'")
