"""Wilcoxon AUC vs scipy's Mann-Whitney U; jackknife vs brute force; DeLong vs its definition."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from studies.stats.results import NotComputable
from studies.stats.roc import AucEstimate, auc_with_ci, jackknife_aucs, wilcoxon_auc


def _data(seed: int, n: int = 40) -> tuple[list[bool], list[float]]:
    rng = np.random.default_rng(seed)
    truth = (rng.random(n) < 0.4).tolist()
    truth[0], truth[1], truth[2], truth[3] = True, True, False, False
    scores = np.round(np.array(truth) * 1.0 + rng.normal(0, 1, n)).tolist()  # rounded: many ties
    return truth, scores


def test_auc_equals_mann_whitney_u_with_ties() -> None:
    for seed in range(10):
        truth, scores = _data(seed)
        t, s = np.array(truth), np.array(scores)
        u = stats.mannwhitneyu(s[t], s[~t]).statistic
        assert wilcoxon_auc(truth=truth, scores=scores) == pytest.approx(
            u / (t.sum() * (~t).sum()), abs=1e-14
        )


def test_textbook_ties_half() -> None:
    # 2 diseased (3, 2) vs 2 non-diseased (2, 1): pairs 1, 1, 1/2, 1 -> 3.5 / 4.
    assert wilcoxon_auc(truth=[1, 1, 0, 0], scores=[3, 2, 2, 1]) == 0.875


def test_jackknife_equals_brute_force() -> None:
    truth, scores = _data(1)
    jk = jackknife_aucs(truth=truth, scores=scores)
    assert isinstance(jk, np.ndarray)
    for k in range(len(truth)):
        keep = [i for i in range(len(truth)) if i != k]
        expected = wilcoxon_auc(truth=[truth[i] for i in keep], scores=[scores[i] for i in keep])
        assert jk[k] == pytest.approx(expected, abs=1e-14)


def test_delong_and_jackknife_variances() -> None:
    truth, scores = _data(2)
    t, s = np.array(truth), np.array(scores)
    pos, neg = s[t], s[~t]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    # DeLong et al. (1988): S10 / n1 + S01 / n0 with sample variances of the structural components.
    v10, v01 = psi.mean(1), psi.mean(0)
    delong_var = np.var(v10, ddof=1) / pos.size + np.var(v01, ddof=1) / neg.size
    d = auc_with_ci(truth=truth, scores=scores)
    assert isinstance(d, AucEstimate)
    assert d.se**2 == pytest.approx(delong_var, rel=1e-12)
    assert d.ci_low == pytest.approx(d.auc - 1.959963984540054 * d.se)
    # Jackknife variance = (c - 1) / c * (S10 / (n1 - 1) + S01 / (n0 - 1)) exactly.
    c = t.size
    j = auc_with_ci(truth=truth, scores=scores, method="jackknife")
    assert isinstance(j, AucEstimate)
    expected = (c - 1) / c * (np.var(v10, ddof=1) / (pos.size - 1) + np.var(v01, ddof=1) / (neg.size - 1))
    assert j.se**2 == pytest.approx(expected, rel=1e-12)


def test_not_computable_and_errors() -> None:
    assert isinstance(wilcoxon_auc(truth=[True, True], scores=[1, 2]), NotComputable)
    assert isinstance(jackknife_aucs(truth=[True, False, False], scores=[1, 2, 3]), NotComputable)
    assert isinstance(auc_with_ci(truth=[True, False], scores=[1, 2]), NotComputable)
    with pytest.raises(ValueError, match="finite"):
        wilcoxon_auc(truth=[True, False], scores=[1.0, float("nan")])
    with pytest.raises(ValueError, match="unknown method"):
        auc_with_ci(truth=[1, 1, 0, 0], scores=[1, 2, 3, 4], method="bootstrap")  # type: ignore[arg-type]
