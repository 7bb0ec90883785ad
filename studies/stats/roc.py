"""Empirical ROC area: Wilcoxon (trapezoidal) AUC, its jackknife, and DeLong / jackknife CIs.

AUC = P(score of a diseased case > score of a non-diseased case) + 1/2 P(tie), i.e. the
Mann-Whitney U statistic divided by n1 * n0 (equal to the trapezoidal area under the empirical
ROC curve). Higher scores must mean "more likely diseased".

Structural components (DeLong, DeLong & Clarke-Pearson 1988): V10_i = mean over non-diseased
cases of psi(x_i, y_j) for diseased case i, V01_j likewise. They give

- the DeLong variance S10 / n1 + S01 / n0 (S = sample variances, ddof = 1), and
- the exact leave-one-case-out (jackknife) AUCs in O(n1 * n0):
  without diseased case i: (n1 * AUC - V10_i) / (n1 - 1); without non-diseased j: (n0 * AUC - V01_j) / (n0 - 1).

The jackknife variance is (c - 1) / c * sum_k (AUC_(k) - mean)^2 over all c cases, the
estimator used by the Obuchowski-Rockette analysis (:mod:`studies.stats.mrmc`).
CIs here are Wald intervals AUC +/- 1.96 SE, clipped to [0, 1].
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from ._checks import class_shortfall, roc_arrays
from .results import NotComputable


def structural_components(*, truth: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """AUC, V10 (per diseased case) and V01 (per non-diseased case); needs both classes present."""
    pos, neg = scores[truth], scores[~truth]
    diff = pos[:, None] - neg[None, :]
    psi = (diff > 0) + 0.5 * (diff == 0)
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), v10, v01


def wilcoxon_auc(*, truth: Sequence[bool], scores: Sequence[float]) -> float | NotComputable:
    """Wilcoxon / trapezoidal AUC with ties counted 1/2."""
    t, s = roc_arrays(truth, scores)
    missing = class_shortfall(t, 1)
    if missing:
        return missing
    return structural_components(truth=t, scores=s)[0]


def jackknife_aucs(*, truth: Sequence[bool], scores: Sequence[float]) -> np.ndarray | NotComputable:
    """Leave-one-case-out AUCs, one per case in input order."""
    t, s = roc_arrays(truth, scores)
    missing = class_shortfall(t, 2)
    if missing:
        return missing
    return leave_one_out(truth=t, scores=s)[1]


def leave_one_out(*, truth: np.ndarray, scores: np.ndarray) -> tuple[float, np.ndarray]:
    """AUC and the exact leave-one-case-out AUCs (array inputs; needs >= 2 cases of each class)."""
    auc, v10, v01 = structural_components(truth=truth, scores=scores)
    n1, n0 = v10.size, v01.size
    out = np.empty(truth.size)
    out[truth] = (n1 * auc - v10) / (n1 - 1)
    out[~truth] = (n0 * auc - v01) / (n0 - 1)
    return auc, out


@dataclass(frozen=True)
class AucEstimate:
    """AUC with SE and Wald 95% CI."""

    auc: float
    se: float
    ci_low: float
    ci_high: float
    method: str
    n_diseased: int
    n_nondiseased: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "auc": self.auc,
            "se": self.se,
            "ci95": [self.ci_low, self.ci_high],
            "method": self.method,
            "n_diseased": self.n_diseased,
            "n_nondiseased": self.n_nondiseased,
        }


def auc_with_ci(
    *, truth: Sequence[bool], scores: Sequence[float], method: Literal["delong", "jackknife"] = "delong"
) -> AucEstimate | NotComputable:
    """AUC with DeLong (default) or jackknife SE and a Wald 95% CI clipped to [0, 1]."""
    t, s = roc_arrays(truth, scores)
    missing = class_shortfall(t, 2)
    if missing:
        return missing
    auc, v10, v01 = structural_components(truth=t, scores=s)
    if method == "delong":
        var = float(v10.var(ddof=1) / v10.size + v01.var(ddof=1) / v01.size)
        label = "DeLong (1988) SE, Wald CI"
    elif method == "jackknife":
        jk = leave_one_out(truth=t, scores=s)[1]
        c = jk.size
        var = float((c - 1) / c * ((jk - jk.mean()) ** 2).sum())
        label = "jackknife SE, Wald CI"
    else:
        raise ValueError(f"unknown method {method!r}; use 'delong' or 'jackknife'")
    se = math.sqrt(max(var, 0.0))
    z = float(stats.norm.ppf(0.975))
    return AucEstimate(
        auc=auc,
        se=se,
        ci_low=max(0.0, auc - z * se),
        ci_high=min(1.0, auc + z * se),
        method=label,
        n_diseased=int(t.sum()),
        n_nondiseased=int((~t).sum()),
    )
