"""Exact McNemar test against statsmodels.stats.contingency_tables.mcnemar(exact=True)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from studies.stats.mcnemar import compare_paired_accuracy, mcnemar_exact, mcnemar_exact_from_counts
from studies.stats.results import NotComputable, jsonable


def test_matches_statsmodels_on_all_small_tables() -> None:
    for b in range(0, 16):
        for c in range(0, 16):
            ref = sm_mcnemar([[5, b], [c, 7]], exact=True)
            got = mcnemar_exact_from_counts(b=b, c=c)
            assert got.statistic == ref.statistic
            assert got.p_value == pytest.approx(ref.pvalue, abs=1e-12)


def test_from_paired_vectors() -> None:
    rng = np.random.default_rng(5)
    a = rng.random(50) < 0.6
    b = rng.random(50) < 0.4
    got = mcnemar_exact(a=a.tolist(), b=b.tolist())
    table = [[int((a & b).sum()), int((a & ~b).sum())], [int((~a & b).sum()), int((~a & ~b).sum())]]
    ref = sm_mcnemar(table, exact=True)
    assert (got.b, got.c, got.n_pairs) == (table[0][1], table[1][0], 50)
    assert got.p_value == pytest.approx(ref.pvalue, abs=1e-12)


def test_textbook_value_and_no_discordance() -> None:
    # b = 1, c = 9: two-sided exact p = 2 * P(X <= 1 | n = 10, 1/2) = 22 / 1024.
    assert mcnemar_exact_from_counts(b=1, c=9).p_value == pytest.approx(22 / 1024)
    assert mcnemar_exact(a=[True, False], b=[True, False]).p_value == 1.0


def test_compare_paired_accuracy() -> None:
    truth = [True] * 4 + [False] * 4
    model = [True, True, True, False, False, False, False, True]
    reader = [True, False, False, False, False, True, True, True]
    res = compare_paired_accuracy(truth=truth, calls_a=model, calls_b=reader)
    assert not isinstance(res.sensitivity, NotComputable)
    assert (res.sensitivity.b, res.sensitivity.c) == (2, 0)  # model right, reader wrong on 2 positives
    assert not isinstance(res.specificity, NotComputable)
    assert (res.specificity.b, res.specificity.c) == (2, 0)
    assert not isinstance(res.accuracy, NotComputable)
    assert (res.accuracy.b, res.accuracy.c) == (4, 0)
    only_neg = compare_paired_accuracy(truth=[False, False], calls_a=[True, False], calls_b=[False, False])
    assert isinstance(only_neg.sensitivity, NotComputable)
    json.dumps(jsonable(only_neg))
    with pytest.raises(ValueError, match="same length"):
        compare_paired_accuracy(truth=[True], calls_a=[True, False], calls_b=[True])
