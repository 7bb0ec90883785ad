"""Obuchowski-Rockette MRMC ROC analysis with Hillis' denominator degrees of freedom.

Method (Obuchowski & Rockette 1995; Hillis 2007, Stat Med 26:596-619; Hillis, Berbaum & Metz
2008, Acad Radiol 15:647-661), as implemented by OR-DBM MRMC 2.5 with Wilcoxon AUC and jackknife
covariances. For t modalities, r readers and c cases:

1. AUC_ij = Wilcoxon (trapezoidal) AUC of reader j in modality i (:mod:`studies.stats.roc`).
2. Leave-one-case-out AUCs AUC_ij(k); the jackknife covariance of AUC_ij and AUC_i'j' is
   (c - 1) / c * sum_k (AUC_ij(k) - AUC_ij(.)) (AUC_i'j'(k) - AUC_i'j'(.)).
3. OR error covariances, averaged over the matching cells of that covariance matrix:
   Var(error) (same reader, same modality), Cov1 (same reader, different modality),
   Cov2 (different reader, same modality), Cov3 (different reader, different modality).
4. MS(T) = r / (t - 1) * sum_i (AUC_i. - AUC_..)^2 and
   MS(T*R) = sum_ij (AUC_ij - AUC_i. - AUC_.j + AUC_..)^2 / ((t - 1)(r - 1)).
5. Random readers, random cases (RRRC): F = MS(T) / (MS(T*R) + r max(Cov2 - Cov3, 0)) on
   t - 1 and ddf_H = (MS(T*R) + r max(Cov2 - Cov3, 0))^2 / (MS(T*R)^2 / ((t - 1)(r - 1))) df.
   Each modality difference has SE sqrt(2 / r * (MS(T*R) + r max(Cov2 - Cov3, 0))) and a
   t(ddf_H) 95% CI (with more than two modalities the pooled MS(T*R) and ddf_H are used).
6. Fixed readers, random cases (FRRC): chi2 = (t - 1) MS(T) / (Var - Cov1 + (r - 1) max(Cov2 - Cov3, 0))
   on t - 1 df; each difference has SE sqrt(2 / r * (Var - Cov1 + (r - 1) max(Cov2 - Cov3, 0)))
   and a normal 95% CI.
7. Single modality i, random readers (Hillis 2007 section 5.3): SE = sqrt((MS(R)_i + r max(Cov2_i, 0)) / r)
   with MS(R)_i the reader mean square and Cov2_i estimated within modality i;
   df = (MS(R)_i + r max(Cov2_i, 0))^2 / (MS(R)_i^2 / (r - 1)); t(df) 95% CI.

Differences are "first modality minus second" in order of first appearance (for the Van Dyke
data, treatment 0 - treatment 1 = -0.0438). Infinite ddf (MS(T*R) = 0) is reported as JSON null
and the normal / chi-square limit is used. Quantities that cannot be estimated (one reader, one
modality, zero denominators) are :class:`~studies.stats.results.NotComputable` with the reason.
Validated against every number OR-DBM MRMC 2.5 prints for the Van Dyke (1993) data.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from .imrmc import MrmcData, MrmcInputError, parse_imrmc
from .results import NotComputable, jsonable
from .roc import leave_one_out

_Z95 = float(stats.norm.ppf(0.975))


def _t_quantile(df: float) -> float:
    return _Z95 if math.isinf(df) else float(stats.t.ppf(0.975, df))


def _t_sf2(stat: float, df: float) -> float:
    """Two-sided p of a t statistic (normal when df is infinite)."""
    return float(2 * (stats.norm.sf(abs(stat)) if math.isinf(df) else stats.t.sf(abs(stat), df)))


@dataclass(frozen=True)
class Comparison:
    """One modality difference (a - b) with SE, 95% CI, test statistic and p."""

    modality_a: str
    modality_b: str
    difference: float
    stderr: float
    ci_low: float
    ci_high: float
    df: float
    statistic: float
    statistic_name: str
    p_value: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "modality_a": self.modality_a,
            "modality_b": self.modality_b,
            "difference": self.difference,
            "stderr": self.stderr,
            "ci95": [self.ci_low, self.ci_high],
            "df": self.df,
            self.statistic_name: self.statistic,
            "p": self.p_value,
        }


@dataclass(frozen=True)
class RrrcTest:
    """Random-readers random-cases F test (Hillis ddf) and pairwise differences."""

    f: float
    ndf: int
    ddf: float
    p_value: float
    comparisons: tuple[Comparison, ...]

    def to_dict(self) -> dict[str, Any]:
        first = self.comparisons[0] if len(self.comparisons) == 1 else None
        return {
            "F": self.f,
            "ndf": self.ndf,
            "ddf": self.ddf,
            "p": self.p_value,
            "difference": first.difference if first else None,
            "ci95": [first.ci_low, first.ci_high] if first else None,
            "stderr": first.stderr if first else None,
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


@dataclass(frozen=True)
class FrrcTest:
    """Fixed-readers random-cases chi-square test and pairwise differences."""

    chi2: float
    df: int
    p_value: float
    comparisons: tuple[Comparison, ...]

    def to_dict(self) -> dict[str, Any]:
        first = self.comparisons[0] if len(self.comparisons) == 1 else None
        return {
            "chi2": self.chi2,
            "df": self.df,
            "p": self.p_value,
            "difference": first.difference if first else None,
            "ci95": [first.ci_low, first.ci_high] if first else None,
            "stderr": first.stderr if first else None,
            "comparisons": [c.to_dict() for c in self.comparisons],
        }


@dataclass(frozen=True)
class SingleModality:
    """Reader-averaged AUC of one modality with its random-reader 95% CI (Hillis df)."""

    auc: float
    stderr: float
    ci_low: float
    ci_high: float
    df: float
    ms_r: float
    cov2: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "auc": self.auc,
            "stderr": self.stderr,
            "ci95": [self.ci_low, self.ci_high],
            "df": self.df,
            "ms_r": self.ms_r,
            "cov2": self.cov2,
        }


@dataclass(frozen=True)
class OrCovariances:
    """Obuchowski-Rockette error variance and covariances (jackknife estimates)."""

    var_error: float
    cov1: float | NotComputable
    cov2: float | NotComputable
    cov3: float | NotComputable

    def to_dict(self) -> dict[str, Any]:
        return {k: jsonable(getattr(self, k)) for k in ("var_error", "cov1", "cov2", "cov3")}


@dataclass(frozen=True)
class MrmcResult:
    """Full OR analysis; ``auc[i, j]`` is modality i, reader j."""

    readers: tuple[str, ...]
    modalities: tuple[str, ...]
    n_diseased: int
    n_nondiseased: int
    auc: np.ndarray
    covariances: OrCovariances
    ms_t: float | NotComputable
    ms_tr: float | NotComputable
    rrrc: RrrcTest | NotComputable
    frrc: FrrcTest | NotComputable
    single_modality: dict[str, SingleModality | NotComputable]

    @property
    def modality_means(self) -> dict[str, float]:
        return {m: float(self.auc[i].mean()) for i, m in enumerate(self.modalities)}

    def to_dict(self) -> dict[str, Any]:
        out = {
            "method": ("Obuchowski-Rockette with Hillis denominator df; Wilcoxon AUC; jackknife covariances"),
            "readers": list(self.readers),
            "modalities": list(self.modalities),
            "n_cases": self.n_diseased + self.n_nondiseased,
            "n_diseased": self.n_diseased,
            "n_nondiseased": self.n_nondiseased,
            "auc": {
                r: {m: float(self.auc[i, j]) for i, m in enumerate(self.modalities)}
                for j, r in enumerate(self.readers)
            },
            "modality_means": self.modality_means,
            "covariances": self.covariances.to_dict(),
            "ms_t": self.ms_t,
            "ms_tr": self.ms_tr,
            "rrrc": self.rrrc,
            "frrc": self.frrc,
            "single_modality": self.single_modality,
        }
        return jsonable(out)


def _mean_where(cov: np.ndarray, mask: np.ndarray, reason: str) -> float | NotComputable:
    return float(cov[mask].mean()) if mask.any() else NotComputable(reason=reason)


def _aucs_and_jackknife(truth: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    t, r, c = scores.shape
    auc = np.empty((t, r))
    jack = np.empty((t, r, c))
    for i, j in itertools.product(range(t), range(r)):
        auc[i, j], jack[i, j] = leave_one_out(truth=truth, scores=scores[i, j])
    return auc, jack


def _comparisons(
    modalities: tuple[str, ...], means: np.ndarray, se: float, df: float, name: str
) -> tuple[Comparison, ...]:
    out = []
    q = _t_quantile(df)
    for a, b in itertools.combinations(range(len(modalities)), 2):
        d = float(means[a] - means[b])
        z = d / se
        stat, p = (z, _t_sf2(z, df)) if name == "t" else (z * z, float(stats.chi2.sf(z * z, 1)))
        out.append(
            Comparison(
                modality_a=modalities[a],
                modality_b=modalities[b],
                difference=d,
                stderr=se,
                ci_low=d - q * se,
                ci_high=d + q * se,
                df=df if name == "t" else 1,
                statistic=stat,
                statistic_name=name,
                p_value=p,
            )
        )
    return tuple(out)


def obuchowski_rockette(*, data: MrmcData) -> MrmcResult:
    """Obuchowski-Rockette analysis (RRRC, FRRC, single-modality CIs) of fully crossed MRMC data."""
    arrays = data.to_arrays()
    truth, scores = arrays.truth, arrays.scores
    n1, n0 = int(truth.sum()), int((~truth).sum())
    if n1 < 2 or n0 < 2:
        raise MrmcInputError(
            f"needs at least 2 diseased and 2 non-diseased cases for the jackknife; got {n1} and {n0}"
        )
    t, r, c = scores.shape
    auc, jack = _aucs_and_jackknife(truth, scores)

    dev = (jack - jack.mean(axis=2, keepdims=True)).reshape(t * r, c)
    cov = ((c - 1) / c * dev @ dev.T).reshape(t, r, t, r)
    same_t = np.eye(t, dtype=bool)[:, None, :, None]
    same_r = np.eye(r, dtype=bool)[None, :, None, :]
    full = np.ones((t, r, t, r), dtype=bool)
    covs = OrCovariances(
        var_error=float(cov[full & same_t & same_r].mean()),
        cov1=_mean_where(cov, full & ~same_t & same_r, "one modality: Cov1 needs two"),
        cov2=_mean_where(cov, full & same_t & ~same_r, "one reader: Cov2 needs two"),
        cov3=_mean_where(cov, full & ~same_t & ~same_r, "Cov3 needs two modalities and two readers"),
    )

    means = auc.mean(axis=1)
    single = _single_modality(arrays.modalities, auc, cov)
    result = dict(
        readers=arrays.readers,
        modalities=arrays.modalities,
        n_diseased=n1,
        n_nondiseased=n0,
        auc=auc,
        covariances=covs,
        single_modality=single,
    )
    if t < 2:
        why = NotComputable(reason="only one modality: there is nothing to compare")
        return MrmcResult(**result, ms_t=why, ms_tr=why, rrrc=why, frrc=why)

    ms_t = r * float(((means - auc.mean()) ** 2).sum()) / (t - 1)
    resid = auc - means[:, None] - auc.mean(axis=0)[None, :] + auc.mean()
    ms_tr: float | NotComputable = (
        float((resid**2).sum()) / ((t - 1) * (r - 1))
        if r > 1
        else NotComputable(reason="one reader: MS(T*R) has no degrees of freedom")
    )
    cov_gap = (
        max(covs.cov2 - covs.cov3, 0.0)
        if isinstance(covs.cov2, float) and isinstance(covs.cov3, float)
        else 0.0
    )
    cov1 = float(cov[~same_t & same_r & full].mean())  # t >= 2 here, so Cov1 is defined
    frrc = _frrc(arrays.modalities, means, ms_t, covs.var_error - cov1 + (r - 1) * cov_gap, r, t)
    rrrc = (
        _rrrc(arrays.modalities, means, ms_t, ms_tr, ms_tr + r * cov_gap, r, t)
        if isinstance(ms_tr, float)
        else NotComputable(reason="one reader: reader variability cannot be estimated (use FRRC)")
    )
    return MrmcResult(**result, ms_t=ms_t, ms_tr=ms_tr, rrrc=rrrc, frrc=frrc)


def _rrrc(
    modalities: tuple[str, ...], means: np.ndarray, ms_t: float, ms_tr: float, den: float, r: int, t: int
) -> RrrcTest | NotComputable:
    if den <= 0:
        return NotComputable(reason="MS(T*R) = 0 and Cov2 <= Cov3: the RRRC denominator is zero")
    ndf = t - 1
    ddf = math.inf if ms_tr == 0 else den**2 / (ms_tr**2 / ((t - 1) * (r - 1)))
    f = ms_t / den
    p = float(stats.chi2.sf(f * ndf, ndf) if math.isinf(ddf) else stats.f.sf(f, ndf, ddf))
    se = math.sqrt(2.0 / r * den)
    return RrrcTest(
        f=f, ndf=ndf, ddf=ddf, p_value=p, comparisons=_comparisons(modalities, means, se, ddf, "t")
    )


def _frrc(
    modalities: tuple[str, ...], means: np.ndarray, ms_t: float, den: float, r: int, t: int
) -> FrrcTest | NotComputable:
    if den <= 0:
        return NotComputable(
            reason="Var - Cov1 + (r - 1) max(Cov2 - Cov3, 0) <= 0: the FRRC denominator is zero"
        )
    chi2 = (t - 1) * ms_t / den
    se = math.sqrt(2.0 / r * den)
    return FrrcTest(
        chi2=chi2,
        df=t - 1,
        p_value=float(stats.chi2.sf(chi2, t - 1)),
        comparisons=_comparisons(modalities, means, se, math.inf, "chi2"),
    )


def _single_modality(
    modalities: tuple[str, ...], auc: np.ndarray, cov: np.ndarray
) -> dict[str, SingleModality | NotComputable]:
    t, r = auc.shape
    out: dict[str, SingleModality | NotComputable] = {}
    for i, m in enumerate(modalities):
        if r < 2:
            out[m] = NotComputable(reason="one reader: a random-reader CI needs at least two")
            continue
        block = cov[i, :, i, :]
        cov2 = float(block[~np.eye(r, dtype=bool)].mean())
        ms_r = float(auc[i].var(ddof=1))
        den = ms_r + r * max(cov2, 0.0)
        if den <= 0:
            out[m] = NotComputable(reason="no reader or case variability: the CI is undefined")
            continue
        df = math.inf if ms_r == 0 else den**2 / (ms_r**2 / (r - 1))
        se = math.sqrt(den / r)
        q = _t_quantile(df)
        mean = float(auc[i].mean())
        out[m] = SingleModality(
            auc=mean, stderr=se, ci_low=mean - q * se, ci_high=mean + q * se, df=df, ms_r=ms_r, cov2=cov2
        )
    return out


def analyse_imrmc_file(*, path: str | os.PathLike[str]) -> MrmcResult:
    """Read an iMRMC input file and run :func:`obuchowski_rockette` (MrmcInputError on bad input)."""
    try:
        with open(path, encoding="utf-8-sig") as fh:
            text = fh.read()
    except UnicodeDecodeError as exc:
        raise MrmcInputError(f"{os.fspath(path)}: not UTF-8 text ({exc.reason})") from None
    return obuchowski_rockette(data=parse_imrmc(text=text))
