"""Chance-corrected agreement: Cohen's kappa (two raters) and Fleiss' kappa (many raters).

Cohen's kappa (unweighted, any number of categories):

- kappa = (p_o - p_e) / (1 - p_e) from the rater-by-rater contingency table;
- computed by ``statsmodels.stats.inter_rater.cohens_kappa``; this module adds the not-computable
  answers, the clipped CI and the p value;
- ``se``: asymptotic SE under the alternative, Fleiss, Cohen & Everitt (1969), as in SAS PROC FREQ
  ("ASE") and statsmodels' ``std_kappa``; the 95% CI is the
  Wald interval kappa +/- 1.96 se, clipped to [-1, 1];
- ``se0``: SE under H0 kappa = 0 (``std_kappa0``), used for the z test and two-sided p.

Fleiss' kappa (1971; every subject rated by the same number of raters):

- the point estimate is ``statsmodels.stats.inter_rater.fleiss_kappa``; statsmodels has no SE for it;
- ``se``: the SE under H0 kappa = 0 of Fleiss, Nee & Landis (1979), as in R ``irr::kappam.fleiss``;
  z = kappa / se with two-sided p (the test of "no agreement beyond chance");
- ``ci95``: percentile bootstrap over subjects (seeded, default 2000 resamples). The H0 SE is not
  meant for intervals around a non-zero kappa: on Fleiss' (1971) diagnoses data it gives
  0.38-0.48 where the bootstrap gives 0.31-0.53. The Wald interval kappa +/- 1.96 se (what R
  ``DescTools::KappaM`` prints) is still reported as ``ci95_wald_h0_se`` for comparison.

Kappa is undefined when chance agreement is 1 (every rating in one and the same category):
that case, and no subjects, return :class:`~studies.stats.results.NotComputable`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from statsmodels.stats.inter_rater import cohens_kappa as sm_cohens_kappa
from statsmodels.stats.inter_rater import fleiss_kappa as sm_fleiss_kappa

from .results import NotComputable

_Z95 = float(stats.norm.ppf(0.975))


def _clip(x: float) -> float:
    return max(-1.0, min(1.0, x))


def _categories(values: Sequence[Hashable], categories: Sequence[Hashable] | None) -> list[Hashable]:
    if categories is None:
        # Stable, readable order: sorted by string form.
        return sorted(set(values), key=str)
    unknown = set(values) - set(categories)
    if unknown:
        raise ValueError(f"ratings outside the given categories: {sorted(map(str, unknown))}")
    return list(categories)


@dataclass(frozen=True)
class CohenKappa:
    """Cohen's kappa with asymptotic SEs, 95% CI and the test of kappa = 0."""

    kappa: float
    se: float
    se0: float
    ci_low: float
    ci_high: float
    z: float
    p_value: float
    n: int
    observed_agreement: float
    expected_agreement: float
    categories: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kappa": self.kappa,
            "se": self.se,
            "se0": self.se0,
            "ci95": [self.ci_low, self.ci_high],
            "z": self.z,
            "p": self.p_value,
            "n": self.n,
            "observed_agreement": self.observed_agreement,
            "expected_agreement": self.expected_agreement,
            "categories": list(self.categories),
            "method": "Cohen's kappa, asymptotic SE (Fleiss, Cohen & Everitt 1969)",
        }


def cohens_kappa_from_table(
    *, table: Sequence[Sequence[float]], categories: Sequence[str] | None = None
) -> CohenKappa | NotComputable:
    """Cohen's kappa from a square table (rows: rater A, columns: rater B)."""
    t = np.asarray(table, dtype=float)
    if t.ndim != 2 or t.shape[0] != t.shape[1]:
        raise ValueError(f"the table must be square, got shape {t.shape}")
    if (t < 0).any():
        raise ValueError("the table has negative counts")
    n = float(t.sum())
    if n == 0:
        return NotComputable(reason="no rated cases")
    p = t / n
    p_e = float(p.sum(axis=1) @ p.sum(axis=0))
    # statsmodels divides by 1 - p_e: we answer the undefined case with a reason instead.
    if 1.0 - p_e <= 1e-12:
        return NotComputable(
            reason="both raters used one and the same category for every case: kappa is undefined"
        )
    # statsmodels' own z divides by se0, which is 0 when one rater used one category; we handle that below.
    with np.errstate(divide="ignore", invalid="ignore"):
        res = sm_cohens_kappa(t)
    kappa = float(res.kappa)
    # A variance that rounds below 0 gives NaN there; it is 0.
    se, se0 = (float(v) if math.isfinite(v) else 0.0 for v in (res.std_kappa, res.std_kappa0))
    z = kappa / se0 if se0 > 0 else math.copysign(math.inf, kappa) if kappa else 0.0
    p_value = float(2 * stats.norm.sf(abs(z)))
    cats = tuple(categories) if categories is not None else tuple(str(i) for i in range(t.shape[0]))
    return CohenKappa(
        kappa=kappa,
        se=se,
        se0=se0,
        ci_low=_clip(kappa - _Z95 * se),
        ci_high=_clip(kappa + _Z95 * se),
        z=z,
        p_value=p_value,
        n=int(round(n)),
        observed_agreement=float(np.trace(p)),
        expected_agreement=p_e,
        categories=cats,
    )


def contingency_table(
    *, calls_a: Sequence[Hashable], calls_b: Sequence[Hashable], categories: Sequence[Hashable] | None = None
) -> tuple[np.ndarray, list[Hashable]]:
    """Square rater-A x rater-B count table and its category order."""
    if len(calls_a) != len(calls_b):
        raise ValueError(f"rater A has {len(calls_a)} calls but rater B has {len(calls_b)}")
    cats = _categories(list(calls_a) + list(calls_b), categories)
    index = {c: i for i, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)))
    for a, b in zip(calls_a, calls_b, strict=True):
        table[index[a], index[b]] += 1
    return table, cats


def cohens_kappa(
    *, calls_a: Sequence[Hashable], calls_b: Sequence[Hashable], categories: Sequence[Hashable] | None = None
) -> CohenKappa | NotComputable:
    """Cohen's kappa between two raters' paired calls (labels of any hashable type)."""
    table, cats = contingency_table(calls_a=calls_a, calls_b=calls_b, categories=categories)
    return cohens_kappa_from_table(table=table, categories=[str(c) for c in cats])


@dataclass(frozen=True)
class KappaMatrix:
    """Pairwise Cohen's kappa between named raters."""

    raters: tuple[str, ...]
    pairs: dict[tuple[str, str], CohenKappa | NotComputable]

    def get(self, a: str, b: str) -> CohenKappa | NotComputable:
        return self.pairs[(a, b)] if (a, b) in self.pairs else self.pairs[(b, a)]

    def to_dict(self) -> dict[str, Any]:
        def value(a: str, b: str) -> float | None:
            if a == b:
                return 1.0
            k = self.get(a, b)
            return None if isinstance(k, NotComputable) else k.kappa

        return {
            "raters": list(self.raters),
            "matrix": [[value(a, b) for b in self.raters] for a in self.raters],
            "pairs": [{"a": a, "b": b, **k.to_dict()} for (a, b), k in self.pairs.items()],
        }


def kappa_matrix(
    *, calls_by_rater: Mapping[str, Sequence[Hashable]], categories: Sequence[Hashable] | None = None
) -> KappaMatrix:
    """Cohen's kappa for every pair of raters; the matrix diagonal is 1 and undefined pairs are null."""
    names = list(calls_by_rater)
    # One shared category set so every pair is judged on the same scale.
    cats = _categories([c for calls in calls_by_rater.values() for c in calls], categories)
    pairs = {
        (a, b): cohens_kappa(calls_a=calls_by_rater[a], calls_b=calls_by_rater[b], categories=cats)
        for a, b in itertools.combinations(names, 2)
    }
    return KappaMatrix(raters=tuple(names), pairs=pairs)


@dataclass(frozen=True)
class FleissKappa:
    """Fleiss' kappa with the Fleiss-Nee-Landis SE (under H0), z test and 95% CIs."""

    kappa: float
    se: float
    z: float
    p_value: float
    ci: tuple[float, float] | NotComputable
    ci_wald_h0_se: tuple[float, float]
    n_subjects: int
    n_raters: int
    categories: tuple[str, ...]
    n_bootstrap: int
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "kappa": self.kappa,
            "se": self.se,
            "z": self.z,
            "p": self.p_value,
            "ci95": self.ci.to_dict() if isinstance(self.ci, NotComputable) else list(self.ci),
            "ci95_wald_h0_se": list(self.ci_wald_h0_se),
            "n_subjects": self.n_subjects,
            "n_raters": self.n_raters,
            "categories": list(self.categories),
            "bootstrap": {"n_bootstrap": self.n_bootstrap, "seed": self.seed},
            "method": "Fleiss' kappa; SE under H0 (Fleiss, Nee & Landis 1979); CI: bootstrap over subjects",
        }


def _fleiss_core(table: np.ndarray, m: int) -> tuple[np.ndarray, np.ndarray]:
    """Kappa and 1 - P_e for tables (..., subjects, categories) with m raters per subject.

    Kept for the bootstrap: it scores all resamples in one vectorised pass, where statsmodels'
    ``fleiss_kappa`` takes one table per call; the point estimate comes from statsmodels.
    """
    n_sub = table.shape[-2]
    p_bar = (((table**2).sum(axis=-1) - m) / (m * (m - 1))).mean(axis=-1)
    p_j = table.sum(axis=-2) / (n_sub * m)
    one_minus_pe = 1.0 - (p_j**2).sum(axis=-1)
    # Undefined resamples (1 - P_e = 0) are filtered by the caller.
    with np.errstate(divide="ignore", invalid="ignore"):
        kappa = (p_bar - (1 - one_minus_pe)) / one_minus_pe
    return kappa, one_minus_pe


def fleiss_kappa_from_table(
    *,
    table: Sequence[Sequence[float]],
    categories: Sequence[str] | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> FleissKappa | NotComputable:
    """Fleiss' kappa from a subjects x categories table of counts (same rater count per subject)."""
    t = np.asarray(table, dtype=float)
    if t.ndim != 2:
        raise ValueError("the table must be subjects x categories")
    if n_bootstrap < 1:
        raise ValueError("n_bootstrap must be positive")
    n_sub = t.shape[0]
    if n_sub == 0:
        return NotComputable(reason="no rated subjects")
    per = t.sum(axis=1)
    if not np.all(per == per[0]):
        raise ValueError("every subject must be rated by the same number of raters")
    m = int(per[0])
    if m < 2:
        return NotComputable(reason="Fleiss' kappa needs at least two raters per subject")
    p_j = t.sum(axis=0) / (n_sub * m)
    if 1.0 - float((p_j**2).sum()) <= 1e-12:
        return NotComputable(reason="every rating is in one and the same category: kappa is undefined")
    kappa = float(sm_fleiss_kappa(t, method="fleiss"))
    pq = p_j * (1 - p_j)
    s = float(pq.sum())
    var0 = 2.0 / (s**2 * n_sub * m * (m - 1)) * (s**2 - float((pq * ((1 - p_j) - p_j)).sum()))
    se = math.sqrt(max(var0, 0.0))
    z = kappa / se if se > 0 else 0.0
    # Percentile bootstrap over subjects, vectorised.
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n_sub, size=(n_bootstrap, n_sub))
    kb, omb = _fleiss_core(t[idx], m)
    ok = omb > 1e-12
    boot: tuple[float, float] | NotComputable
    if ok.sum() < 2:
        boot = NotComputable(reason="kappa is undefined in (almost) every bootstrap resample")
    else:
        lo, hi = np.quantile(kb[ok], [0.025, 0.975])
        boot = (float(lo), float(hi))
    cats = tuple(categories) if categories is not None else tuple(str(i) for i in range(t.shape[1]))
    return FleissKappa(
        kappa=kappa,
        se=se,
        z=z,
        p_value=float(2 * stats.norm.sf(abs(z))),
        ci=boot,
        ci_wald_h0_se=(_clip(kappa - _Z95 * se), _clip(kappa + _Z95 * se)),
        n_subjects=n_sub,
        n_raters=m,
        categories=cats,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )


def fleiss_kappa(
    *,
    calls_by_rater: Mapping[str, Sequence[Hashable]],
    categories: Sequence[Hashable] | None = None,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> FleissKappa | NotComputable:
    """Fleiss' kappa across raters; every rater must have rated every subject (aligned sequences)."""
    names = list(calls_by_rater)
    if len(names) < 2:
        return NotComputable(reason="Fleiss' kappa needs at least two raters")
    lengths = {len(calls_by_rater[r]) for r in names}
    if len(lengths) != 1:
        raise ValueError(f"raters rated different numbers of subjects: {sorted(lengths)}")
    cats = _categories([c for r in names for c in calls_by_rater[r]], categories)
    index = {c: i for i, c in enumerate(cats)}
    n_sub = lengths.pop()
    table = np.zeros((n_sub, len(cats)))
    for r in names:
        for i, c in enumerate(calls_by_rater[r]):
            table[i, index[c]] += 1
    return fleiss_kappa_from_table(
        table=table, categories=[str(c) for c in cats], n_bootstrap=n_bootstrap, seed=seed
    )
