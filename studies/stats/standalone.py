"""Standalone model vs a panel of readers: model AUC against the readers' mean AUC.

The model is a reader-like rater with no reader variability (its scores are fixed once trained).
Null hypothesis: model AUC = readers' mean AUC, generalising to new readers and new cases.

Method "1T-RRRC" (Hillis 2007 section 5.3 single-treatment OR model applied to reader-minus-model
differences; Chakraborty 2017, RJafroc ``StSignificanceTestingCadVsRad(method="1T-RRRC")``):

- D_j = AUC_model - AUC_j for each reader j, and the same for every leave-one-case-out AUC;
- MS(R) = sample variance of D_j; Var and Cov2 = mean diagonal / off-diagonal jackknife
  covariance ((c - 1) / c scaling) of the D_j;
- SE = sqrt((MS(R) + r max(Cov2, 0)) / r), df = (MS(R) + r max(Cov2, 0))^2 / (MS(R)^2 / (r - 1)),
  t = mean(D) / SE, two-sided p and t(df) 95% CI.

This equals (F = t^2, same ddf and p) a standard two-modality OR analysis in which the model's
scores are copied as every reader's "model" modality (Kooi et al. 2016; RJafroc "2T-RRRC").
Note the sign: positive ``difference`` means the model is better (RJafroc reports readers - CAD).

Also reported: the model AUC with DeLong SE and Wald CI, the readers' mean AUC with its
single-modality random-reader OR CI, and "1T-RRFC" (readers random, cases fixed: a one-sample t
test on D_j, as RJafroc).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from ._checks import class_shortfall, roc_arrays
from .results import NotComputable, jsonable
from .roc import AucEstimate, auc_with_ci, leave_one_out


@dataclass(frozen=True)
class ModelVsReaders:
    """Model AUC vs readers' mean AUC (difference = model - readers' mean)."""

    model: AucEstimate
    reader_auc: dict[str, float]
    readers_mean_auc: float
    readers_mean_ci: tuple[float, float] | NotComputable
    difference: float
    rrrc: dict[str, float | list[float]] | NotComputable
    rrfc: dict[str, float | list[float]] | NotComputable

    def to_dict(self) -> dict[str, Any]:
        return jsonable(
            {
                "method": "1T-RRRC: single-modality Obuchowski-Rockette on model-minus-reader AUCs (Hillis 2007)",
                "model": self.model,
                "reader_auc": self.reader_auc,
                "readers_mean_auc": self.readers_mean_auc,
                "readers_mean_ci95": self.readers_mean_ci,
                "difference": self.difference,
                "rrrc": self.rrrc,
                "rrfc": self.rrfc,
            }
        )


def _single_or(
    values: np.ndarray, jack: np.ndarray
) -> tuple[float, float, float, float, float] | NotComputable:
    """Mean, SE, df, MS(R), Cov2 of the single-modality OR model for per-reader values."""
    r, c = jack.shape
    dev = jack - jack.mean(axis=1, keepdims=True)
    cov = (c - 1) / c * dev @ dev.T
    cov2 = float(cov[~np.eye(r, dtype=bool)].mean())
    ms_r = float(values.var(ddof=1))
    den = ms_r + r * max(cov2, 0.0)
    if den <= 0:
        return NotComputable(reason="no reader or case variability: the test is undefined")
    df = math.inf if ms_r == 0 else den**2 / (ms_r**2 / (r - 1))
    return float(values.mean()), math.sqrt(den / r), df, ms_r, cov2


def model_vs_readers_auc(
    *, truth: Sequence[bool], model_scores: Sequence[float], reader_scores: Mapping[str, Sequence[float]]
) -> ModelVsReaders | NotComputable:
    """Compare a model's AUC with the readers' mean AUC on the same cases (aligned sequences)."""
    t, model = roc_arrays(truth, model_scores)
    missing = class_shortfall(t, 2)
    if missing:
        return missing
    if not reader_scores:
        return NotComputable(reason="no readers")
    names = list(reader_scores)
    readers = [roc_arrays(truth, reader_scores[n])[1] for n in names]
    model_auc, model_jk = leave_one_out(truth=t, scores=model)
    reader_fits = [leave_one_out(truth=t, scores=s) for s in readers]
    auc_r = np.array([a for a, _ in reader_fits])
    jk_r = np.array([jk for _, jk in reader_fits])
    model_est = auc_with_ci(truth=t.tolist(), scores=model.tolist(), method="delong")
    if isinstance(model_est, NotComputable):  # unreachable: class counts were checked above
        return model_est

    diff_values = model_auc - auc_r
    difference = float(diff_values.mean())
    rrrc: dict[str, float | list[float]] | NotComputable
    rrfc: dict[str, float | list[float]] | NotComputable
    readers_ci: tuple[float, float] | NotComputable
    if len(names) < 2:
        why = NotComputable(reason="one reader: reader variability cannot be estimated")
        rrrc = rrfc = readers_ci = why
    else:
        fit = _single_or(diff_values, model_jk[None, :] - jk_r)
        if isinstance(fit, NotComputable):
            rrrc = fit
        else:
            mean, se, df, ms_r, cov2 = fit
            q = float(stats.norm.ppf(0.975) if math.isinf(df) else stats.t.ppf(0.975, df))
            tstat = mean / se
            p = float(2 * (stats.norm.sf(abs(tstat)) if math.isinf(df) else stats.t.sf(abs(tstat), df)))
            rrrc = {
                "difference": mean,
                "stderr": se,
                "df": df,
                "t": tstat,
                "p": p,
                "ci95": [mean - q * se, mean + q * se],
                "ms_r": ms_r,
                "cov2": cov2,
            }
        readers_fit = _single_or(auc_r, jk_r)
        if isinstance(readers_fit, NotComputable):
            readers_ci = readers_fit
        else:
            mean, se, df, _, _ = readers_fit
            q = float(stats.norm.ppf(0.975) if math.isinf(df) else stats.t.ppf(0.975, df))
            readers_ci = (mean - q * se, mean + q * se)
        rrfc = _rrfc(diff_values)
    return ModelVsReaders(
        model=model_est,
        reader_auc={n: float(a) for n, a in zip(names, auc_r, strict=True)},
        readers_mean_auc=float(auc_r.mean()),
        readers_mean_ci=readers_ci,
        difference=difference,
        rrrc=rrrc,
        rrfc=rrfc,
    )


def _rrfc(diff_values: np.ndarray) -> dict[str, float | list[float]] | NotComputable:
    sd = float(diff_values.std(ddof=1))
    if sd == 0:
        return NotComputable(reason="every reader differs from the model by the same AUC: t test undefined")
    r = diff_values.size
    mean, se = float(diff_values.mean()), sd / math.sqrt(r)
    q = float(stats.t.ppf(0.975, r - 1))
    tstat = mean / se
    return {
        "difference": mean,
        "stderr": se,
        "df": float(r - 1),
        "t": tstat,
        "p": float(2 * stats.t.sf(abs(tstat), r - 1)),
        "ci95": [mean - q * se, mean + q * se],
    }
