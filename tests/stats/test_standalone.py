"""Model vs readers (1T-RRRC) against the equivalent two-modality OR analysis and a t test."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from studies.stats.imrmc import MrmcData
from studies.stats.mrmc import obuchowski_rockette
from studies.stats.results import NotComputable
from studies.stats.roc import auc_with_ci
from studies.stats.standalone import ModelVsReaders, model_vs_readers_auc


def _study(
    seed: int, n: int = 60, readers: int = 4
) -> tuple[list[bool], list[float], dict[str, list[float]]]:
    rng = np.random.default_rng(seed)
    truth = rng.random(n) < 0.4
    truth[:2], truth[2:4] = True, False
    model = truth * 1.0 + rng.normal(0, 0.8, n)
    reads = {
        f"r{j}": np.round(np.clip(truth * 1.2 + rng.normal(0, 1, n) + rng.normal(0, 0.3), -2, 3)).tolist()
        for j in range(readers)
    }
    return truth.tolist(), model.tolist(), reads


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_two_modality_or_with_replicated_model(seed: int) -> None:
    truth, model, reads = _study(seed)
    res = model_vs_readers_auc(truth=truth, model_scores=model, reader_scores=reads)
    assert isinstance(res, ModelVsReaders) and isinstance(res.rrrc, dict)
    # Kooi et al. (2016) / RJafroc "2T-RRRC": copy the model as every reader's "model" modality.
    cases = [f"c{k}" for k in range(len(truth))]
    data = MrmcData(
        truth=dict(zip(cases, truth, strict=True)),
        scores={
            r: {"model": dict(zip(cases, model, strict=True)), "reader": dict(zip(cases, s, strict=True))}
            for r, s in reads.items()
        },
    )
    two = obuchowski_rockette(data=data)
    assert not isinstance(two.rrrc, NotComputable)
    assert res.rrrc["t"] ** 2 == pytest.approx(two.rrrc.f, rel=1e-9)
    assert res.rrrc["df"] == pytest.approx(two.rrrc.ddf, rel=1e-9)
    assert res.rrrc["p"] == pytest.approx(two.rrrc.p_value, rel=1e-9)
    cmp = two.rrrc.comparisons[0]
    assert res.difference == pytest.approx(cmp.difference, abs=1e-12)
    assert res.rrrc["ci95"] == pytest.approx([cmp.ci_low, cmp.ci_high], abs=1e-12)
    # The readers' mean CI is the single-modality OR CI of the readers.
    single = two.single_modality["reader"]
    assert not isinstance(single, NotComputable)
    assert res.readers_mean_ci == pytest.approx((single.ci_low, single.ci_high), abs=1e-12)


def test_rrfc_is_a_one_sample_t_test_and_model_ci_is_delong() -> None:
    truth, model, reads = _study(7)
    res = model_vs_readers_auc(truth=truth, model_scores=model, reader_scores=reads)
    assert isinstance(res, ModelVsReaders) and isinstance(res.rrfc, dict)
    diffs = [res.model.auc - a for a in res.reader_auc.values()]
    ref = stats.ttest_1samp(diffs, 0.0)
    assert res.rrfc["t"] == pytest.approx(ref.statistic, rel=1e-12)
    assert res.rrfc["p"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert res.model == auc_with_ci(truth=truth, scores=model)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["difference"] == pytest.approx(d["model"]["auc"] - d["readers_mean_auc"])


def test_one_reader_and_bad_input() -> None:
    truth, model, reads = _study(3, readers=1)
    res = model_vs_readers_auc(truth=truth, model_scores=model, reader_scores=reads)
    assert isinstance(res, ModelVsReaders)
    assert isinstance(res.rrrc, NotComputable) and isinstance(res.readers_mean_ci, NotComputable)
    json.dumps(res.to_dict(), allow_nan=False)
    assert isinstance(
        model_vs_readers_auc(
            truth=[True, False, False], model_scores=[1, 0, 0], reader_scores={"a": [1, 0, 0]}
        ),
        NotComputable,
    )
    with pytest.raises(ValueError, match="cases but scores"):
        model_vs_readers_auc(truth=truth, model_scores=model, reader_scores={"a": [1.0]})
