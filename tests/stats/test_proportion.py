"""Proportion CIs against statsmodels and Newcombe (1998, Stat Med 17:857-872, Table I)."""

from __future__ import annotations

import pytest
from statsmodels.stats.proportion import proportion_confint

from studies.stats.proportion import clopper_pearson_ci, proportion_ci, wilson_ci

# (successes, total) -> (Wilson, Clopper-Pearson), 4 decimals as published by Newcombe (1998).
NEWCOMBE = {
    (81, 263): ((0.2553, 0.3662), (0.2527, 0.3676)),
    (15, 148): ((0.0624, 0.1605), (0.0578, 0.1617)),
    (0, 20): ((0.0, 0.1611), (0.0, 0.1684)),
    (1, 29): ((0.0061, 0.1718), (0.0009, 0.1776)),
    (29, 29): ((0.8830, 1.0), (0.8806, 1.0)),
}


@pytest.mark.parametrize(("x", "n"), list(NEWCOMBE))
def test_newcombe_textbook_values(x: int, n: int) -> None:
    wilson, exact = NEWCOMBE[(x, n)]
    assert wilson_ci(successes=x, total=n) == pytest.approx(wilson, abs=5e-5)
    assert clopper_pearson_ci(successes=x, total=n) == pytest.approx(exact, abs=5e-5)


def test_agrees_with_statsmodels_over_a_grid() -> None:
    for n in (1, 2, 5, 9, 22, 31, 100):
        for x in range(n + 1):
            for conf in (0.9, 0.95, 0.99):
                sm_beta = proportion_confint(x, n, alpha=1 - conf, method="beta")
                sm_wilson = proportion_confint(x, n, alpha=1 - conf, method="wilson")
                assert clopper_pearson_ci(successes=x, total=n, confidence=conf) == pytest.approx(
                    sm_beta, abs=1e-12
                )
                assert wilson_ci(successes=x, total=n, confidence=conf) == pytest.approx(sm_wilson, abs=1e-12)


def test_dispatch_and_errors() -> None:
    assert proportion_ci(successes=3, total=9) == clopper_pearson_ci(successes=3, total=9)
    assert proportion_ci(successes=3, total=9, method="wilson") == wilson_ci(successes=3, total=9)
    with pytest.raises(ValueError, match="unknown CI method"):
        proportion_ci(successes=3, total=9, method="wald")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="positive denominator"):
        wilson_ci(successes=0, total=0)
    with pytest.raises(ValueError, match="successes"):
        clopper_pearson_ci(successes=10, total=9)
