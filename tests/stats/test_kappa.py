"""Cohen's and Fleiss' kappa against statsmodels, SAS and R (irr) published output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from statsmodels.stats.inter_rater import aggregate_raters
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from studies.stats.kappa import (
    CohenKappa,
    FleissKappa,
    cohens_kappa,
    cohens_kappa_from_table,
    fleiss_kappa,
    fleiss_kappa_from_table,
    kappa_matrix,
)
from studies.stats.results import NotComputable, jsonable

# SAS PROC FREQ example (also in statsmodels' tests): kappa, ASE, 95% CI, ASE under H0, Z, p.
SAS_TABLE = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]
SAS_RESULT = (0.4842, 0.1380, 0.2137, 0.7547, 0.1484, 3.2626, 0.0011)

# Fleiss (1971): 30 patients, 6 psychiatrists, 5 diagnoses (as in R irr's `diagnoses`).
DIAGNOSES = np.array(
    [
        [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
        [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
        [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
        [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
        [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
        [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
        [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
        [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
    ]
)  # fmt: skip


def test_cohen_sas_published_example() -> None:
    k = cohens_kappa_from_table(table=SAS_TABLE)
    assert isinstance(k, CohenKappa)
    got = (k.kappa, k.se, k.ci_low, k.ci_high, k.se0, k.z, k.p_value)
    assert got == pytest.approx(SAS_RESULT, abs=5e-5)


def test_cohen_matches_statsmodels_on_random_tables() -> None:
    rng = np.random.default_rng(0)
    for size in (2, 3, 4):
        for _ in range(25):
            table = rng.integers(0, 15, size=(size, size)) + np.eye(size, dtype=int) * rng.integers(0, 20)
            ref = sm_cohens_kappa(table)
            k = cohens_kappa_from_table(table=table)
            assert isinstance(k, CohenKappa)
            assert k.kappa == pytest.approx(ref.kappa, abs=1e-10)
            assert k.se == pytest.approx(ref.std_kappa, abs=1e-10)
            assert k.se0 == pytest.approx(ref.std_kappa0, abs=1e-10)
            assert k.ci_low == pytest.approx(max(-1.0, ref.kappa_low), abs=1e-10)
            assert k.ci_high == pytest.approx(min(1.0, ref.kappa_upp), abs=1e-10)
            assert k.p_value == pytest.approx(ref.pvalue_two_sided, abs=1e-10)


def test_cohen_from_labels_builds_the_right_table() -> None:
    a = ["positive", "negative", "close", "negative", "positive", "negative"]
    b = ["positive", "negative", "negative", "negative", "close", "positive"]
    k = cohens_kappa(calls_a=a, calls_b=b)
    cats = ["close", "negative", "positive"]
    table = [[sum(1 for x, y in zip(a, b, strict=True) if x == r and y == c) for c in cats] for r in cats]
    assert isinstance(k, CohenKappa)
    assert k.categories == tuple(cats)
    assert k.kappa == pytest.approx(sm_cohens_kappa(table).kappa, abs=1e-12)
    assert isinstance(cohens_kappa(calls_a=[True, False, True], calls_b=[True, False, False]), CohenKappa)


def test_cohen_degenerate_is_not_computable() -> None:
    k = cohens_kappa(calls_a=["negative"] * 4, calls_b=["negative"] * 4)
    assert isinstance(k, NotComputable) and "same category" in k.reason
    assert isinstance(cohens_kappa(calls_a=[], calls_b=[]), NotComputable)
    one_sided = cohens_kappa(calls_a=["negative"] * 4, calls_b=["negative", "positive"] * 2)
    assert isinstance(one_sided, CohenKappa) and one_sided.kappa == pytest.approx(0.0)
    with pytest.raises(ValueError, match="outside the given categories"):
        cohens_kappa(calls_a=["x"], calls_b=["y"], categories=["x"])


def test_fleiss_matches_statsmodels_and_irr() -> None:
    table, _ = aggregate_raters(DIAGNOSES)
    k = fleiss_kappa_from_table(table=table)
    assert isinstance(k, FleissKappa)
    assert k.kappa == pytest.approx(sm_fleiss_kappa(table), abs=1e-10)
    # R irr::kappam.fleiss(diagnoses) prints Kappa = 0.43, z = 17.7 (SE of Fleiss, Nee & Landis 1979).
    assert round(k.kappa, 2) == 0.43
    assert round(k.z, 1) == 17.7
    assert k.kappa / k.z == pytest.approx(k.se)
    assert isinstance(k.ci, tuple) and k.ci[0] < k.kappa < k.ci[1]
    assert k.ci_wald_h0_se[0] < k.kappa < k.ci_wald_h0_se[1]
    # Wikipedia / statsmodels example (10 subjects, 14 raters): 0.210.
    wiki = [
        [0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7],
    ]  # fmt: skip
    w = fleiss_kappa_from_table(table=wiki)
    assert isinstance(w, FleissKappa) and round(w.kappa, 3) == 0.210


def test_fleiss_from_calls_and_two_rater_scott_pi() -> None:
    rng = np.random.default_rng(3)
    calls = {f"r{i}": rng.choice(["positive", "close", "negative"], size=40).tolist() for i in range(5)}
    k = fleiss_kappa(calls_by_rater=calls)
    table, _ = aggregate_raters(np.array(list(calls.values())).T)
    assert isinstance(k, FleissKappa)
    assert k.kappa == pytest.approx(sm_fleiss_kappa(table), abs=1e-10)
    # With two raters Fleiss' kappa is Scott's pi (pooled marginals).
    a, b = calls["r0"], calls["r1"]
    po = np.mean([x == y for x, y in zip(a, b, strict=True)])
    pooled = {c: (a.count(c) + b.count(c)) / (2 * len(a)) for c in set(a) | set(b)}
    pe = sum(p * p for p in pooled.values())
    two = fleiss_kappa(calls_by_rater={"r0": a, "r1": b})
    assert isinstance(two, FleissKappa) and two.kappa == pytest.approx((po - pe) / (1 - pe), abs=1e-12)


def test_fleiss_degenerate_and_errors() -> None:
    same = fleiss_kappa(calls_by_rater={"a": ["negative"] * 3, "b": ["negative"] * 3, "c": ["negative"] * 3})
    assert isinstance(same, NotComputable) and "one and the same category" in same.reason
    assert isinstance(fleiss_kappa(calls_by_rater={"a": ["x"]}), NotComputable)
    with pytest.raises(ValueError, match="different numbers"):
        fleiss_kappa(calls_by_rater={"a": ["x"], "b": ["x", "y"]})
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa_from_table(table=[[1, 1], [3, 0]])


def test_kappa_matrix() -> None:
    calls = {
        "model": ["positive", "negative", "negative", "close", "positive", "negative"],
        "reader1": ["positive", "negative", "positive", "close", "positive", "negative"],
        "reader2": ["negative", "negative", "negative", "negative", "positive", "negative"],
    }
    m = kappa_matrix(calls_by_rater=calls)
    direct = cohens_kappa(
        calls_a=calls["model"], calls_b=calls["reader2"], categories=["close", "negative", "positive"]
    )
    assert m.get("reader2", "model") == direct
    d = json.loads(json.dumps(jsonable(m)))
    assert d["raters"] == ["model", "reader1", "reader2"]
    assert d["matrix"][0][0] == 1.0
    assert d["matrix"][0][2] == d["matrix"][2][0]
    assert len(d["pairs"]) == 3
    k = fleiss_kappa(calls_by_rater=calls)
    json.dumps(jsonable(k))
