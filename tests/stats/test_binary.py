"""Binary accuracy metrics: counts, CIs (vs statsmodels), F1 bootstrap, NotComputable, reader mean/SD."""

from __future__ import annotations

import json
import statistics

import numpy as np
import pytest
from statsmodels.stats.proportion import proportion_confint

from studies.stats.binary import (
    ConfusionCounts,
    binary_metrics,
    confusion_counts,
    mean_sd,
    metrics_from_counts,
    reader_mean_sd,
    to_binary,
)
from studies.stats.results import Estimate, NotComputable, jsonable

# 31 test cases, 9 margin-positive, as in the reference reader study (De Man et al. 2025).
TRUTH = [True] * 9 + [False] * 22
CALLS = [True] * 8 + [False] + [True, True] + [False] * 20  # TP 8, FN 1, FP 2, TN 20


def test_to_binary_default_counts_close_as_positive() -> None:
    assert to_binary(categories=["positive", "close", "negative", " Close "]) == [True, True, False, True]


def test_to_binary_close_negative_when_study_says_so() -> None:
    assert to_binary(categories=["positive", "close", "negative"], positive=("positive",)) == [
        True,
        False,
        False,
    ]


def test_to_binary_rejects_unknown_labels() -> None:
    with pytest.raises(ValueError, match="unknown category 'postive'"):
        to_binary(categories=["positive", "postive"])
    with pytest.raises(ValueError, match="unknown category None"):
        to_binary(categories=[None])  # type: ignore[list-item]


def test_confusion_counts() -> None:
    assert confusion_counts(truth=TRUTH, calls=CALLS) == ConfusionCounts(tp=8, fp=2, tn=20, fn=1)
    assert confusion_counts(truth=np.array([1, 0]), calls=[np.True_, 1]) == ConfusionCounts(
        tp=1, fp=1, tn=0, fn=0
    )
    with pytest.raises(ValueError, match="not a boolean"):
        confusion_counts(truth=["positive"], calls=[True])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="31 cases but calls has 2"):
        confusion_counts(truth=TRUTH, calls=[True, False])


@pytest.mark.parametrize(("method", "sm_method"), [("exact", "beta"), ("wilson", "wilson")])
def test_metrics_and_cis_match_statsmodels(method: str, sm_method: str) -> None:
    m = binary_metrics(truth=TRUTH, calls=CALLS, ci_method=method)  # type: ignore[arg-type]
    expected = {
        "sensitivity": (8, 9),
        "specificity": (20, 22),
        "ppv": (8, 10),
        "npv": (20, 21),
        "accuracy": (28, 31),
    }
    for name, (num, den) in expected.items():
        est = m.metric(name)
        assert isinstance(est, Estimate)
        assert est.value == pytest.approx(num / den, abs=1e-15)
        assert (est.numerator, est.denominator) == (num, den)
        low, high = proportion_confint(num, den, alpha=0.05, method=sm_method)
        assert (est.ci_low, est.ci_high) == pytest.approx((low, high), abs=1e-12)
    assert isinstance(m.f1, Estimate)
    assert m.f1.value == pytest.approx(2 * 8 / (2 * 8 + 2 + 1))


def test_default_ci_is_clopper_pearson() -> None:
    m = binary_metrics(truth=TRUTH, calls=CALLS)
    assert m.ci_method == "Clopper-Pearson exact"
    assert isinstance(m.sensitivity, Estimate)
    assert (m.sensitivity.ci_low, m.sensitivity.ci_high) == pytest.approx(
        proportion_confint(8, 9, method="beta"), abs=1e-12
    )


def test_f1_bootstrap_is_seeded_and_matches_a_case_resampling_bootstrap() -> None:
    a = binary_metrics(truth=TRUTH, calls=CALLS, seed=7)
    b = binary_metrics(truth=TRUTH, calls=CALLS, seed=7)
    assert a.f1 == b.f1
    assert isinstance(a.f1, Estimate)
    assert a.f1.ci_low <= a.f1.value <= a.f1.ci_high
    # Independent reference: resample case indices (large B) and take percentiles.
    rng = np.random.default_rng(123)
    t, c = np.array(TRUTH), np.array(CALLS)
    idx = rng.integers(0, t.size, size=(40000, t.size))
    tp = (t[idx] & c[idx]).sum(1)
    fp = (~t[idx] & c[idx]).sum(1)
    fn = (t[idx] & ~c[idx]).sum(1)
    den = 2 * tp + fp + fn
    f1 = 2 * tp[den > 0] / den[den > 0]
    ref_low, ref_high = np.quantile(f1, [0.025, 0.975])
    wide = binary_metrics(truth=TRUTH, calls=CALLS, n_bootstrap=40000)
    assert isinstance(wide.f1, Estimate)
    assert wide.f1.ci_low == pytest.approx(ref_low, abs=0.01)
    assert wide.f1.ci_high == pytest.approx(ref_high, abs=0.01)


def test_undefined_metrics_are_not_computable_and_json_ready() -> None:
    m = binary_metrics(truth=[False] * 5, calls=[False] * 4 + [True])
    assert isinstance(m.sensitivity, NotComputable)
    assert "no truth-positive cases" in m.sensitivity.reason
    assert isinstance(m.npv, Estimate)
    assert isinstance(m.f1, Estimate) and m.f1.value == 0.0  # FP only: F1 = 0, defined
    none = binary_metrics(truth=[False] * 3, calls=[False] * 3)
    assert isinstance(none.f1, NotComputable)
    assert isinstance(none.ppv, NotComputable)
    empty = metrics_from_counts(counts=ConfusionCounts(0, 0, 0, 0))
    assert all(isinstance(empty.metric(n), NotComputable) for n in ("sensitivity", "accuracy", "f1"))
    text = json.dumps(jsonable(m))
    assert "NaN" not in text
    assert json.loads(text)["sensitivity"] == {"not_computable": True, "reason": m.sensitivity.reason}


def test_reader_mean_sd() -> None:
    readers = {
        "r1": binary_metrics(truth=TRUTH, calls=CALLS, n_bootstrap=10),
        "r2": binary_metrics(truth=TRUTH, calls=[True] * 9 + [False] * 22, n_bootstrap=10),
        "r3": binary_metrics(truth=TRUTH, calls=[False] * 31, n_bootstrap=10),
    }
    summary = reader_mean_sd(per_reader=readers)
    sens = summary["sensitivity"]
    assert not isinstance(sens, NotComputable)
    assert sens.mean == pytest.approx(statistics.fmean([8 / 9, 1.0, 0.0]))
    assert sens.sd == pytest.approx(statistics.stdev([8 / 9, 1.0, 0.0]))
    ppv = summary["ppv"]
    assert not isinstance(ppv, NotComputable)
    assert ppv.n == 2 and "r3" in ppv.excluded
    one = mean_sd(values={"only": 0.5})
    assert not isinstance(one, NotComputable) and isinstance(one.sd, NotComputable)
    assert isinstance(mean_sd(values={"x": NotComputable(reason="n/a")}), NotComputable)
    json.dumps(jsonable(summary))
