"""Obuchowski-Rockette analysis: every published Van Dyke number, DBM equivalence, edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from studies.stats.imrmc import MrmcData, MrmcInputError, parse_imrmc, write_imrmc
from studies.stats.mrmc import MrmcResult, analyse_imrmc_file, obuchowski_rockette
from studies.stats.results import NotComputable

# OR-DBM MRMC 2.5 output for Van Dyke et al. (1993), as printed in
# tests/data/mrmc-vandyke/README.md. Readers 1-5 there are IDs 0-4 in the file.
VANDYKE_AUC = {
    "0": (0.91964573, 0.94782609),
    "1": (0.85877617, 0.90531401),
    "2": (0.90386473, 0.92173913),
    "3": (0.97310789, 0.99935588),
    "4": (0.82979066, 0.92995169),
}


def printed(value: float, decimals: int) -> object:
    """Equal to ``value`` at the precision it was printed with (half a unit in the last place)."""
    return pytest.approx(value, abs=0.5 * 10**-decimals)


@pytest.fixture(scope="module")
def vandyke(vandyke_path: Path) -> dict:
    return analyse_imrmc_file(path=vandyke_path).to_dict()


def test_vandyke_reader_aucs(vandyke: dict) -> None:
    for reader, (a0, a1) in VANDYKE_AUC.items():
        assert vandyke["auc"][reader]["0"] == printed(a0, 8)
        assert vandyke["auc"][reader]["1"] == printed(a1, 8)
    assert vandyke["modality_means"] == {"0": printed(0.89703704, 8), "1": printed(0.94083736, 8)}
    assert (vandyke["n_cases"], vandyke["n_diseased"], vandyke["n_nondiseased"]) == (114, 45, 69)


def test_vandyke_or_covariances_and_mean_squares(vandyke: dict) -> None:
    cov = vandyke["covariances"]
    assert cov["var_error"] == printed(0.00080229, 8)
    assert cov["cov1"] == printed(0.00034661, 8)
    assert cov["cov2"] == printed(0.00034407, 8)
    assert cov["cov3"] == printed(0.00023903, 8)
    assert vandyke["ms_t"] == printed(0.00479617, 8)
    assert vandyke["ms_tr"] == printed(0.00055103, 8)


def test_vandyke_random_readers_random_cases(vandyke: dict) -> None:
    rrrc = vandyke["rrrc"]
    assert rrrc["F"] == printed(4.46, 2)
    assert rrrc["ndf"] == 1
    assert rrrc["ddf"] == printed(15.26, 2)
    assert rrrc["p"] == printed(0.0517, 4)
    assert rrrc["difference"] == printed(-0.04380032, 8)
    assert rrrc["ci95"] == [printed(-0.08796, 5), printed(0.00036, 5)]
    assert rrrc["stderr"] == printed(0.02075, 5)


def test_vandyke_fixed_readers_random_cases(vandyke: dict) -> None:
    frrc = vandyke["frrc"]
    assert frrc["chi2"] == printed(5.47595, 5)
    assert frrc["df"] == 1
    assert frrc["p"] == printed(0.0193, 4)
    assert frrc["difference"] == printed(-0.04380032, 8)
    assert frrc["ci95"] == [printed(-0.08049, 5), printed(-0.00711, 5)]


def test_vandyke_single_modality(vandyke: dict) -> None:
    single = vandyke["single_modality"]
    assert single["0"]["ci95"] == [printed(0.82522, 5), printed(0.96885, 5)]
    assert single["0"]["df"] == printed(12.74, 2)
    assert single["1"]["ci95"] == [printed(0.89414, 5), printed(0.98754, 5)]
    assert single["1"]["df"] == printed(12.71, 2)
    assert single["0"]["auc"] == printed(0.89703704, 8)


def test_vandyke_json_and_round_trip(vandyke: dict, vandyke_path: Path) -> None:
    assert json.loads(json.dumps(vandyke, allow_nan=False)) == vandyke
    data = parse_imrmc(text=vandyke_path.read_text())
    again = obuchowski_rockette(data=parse_imrmc(text=write_imrmc(data=data))).to_dict()
    assert again == vandyke


def _brute_jackknife(truth: np.ndarray, s: np.ndarray) -> tuple[float, np.ndarray]:
    def auc(t: np.ndarray, x: np.ndarray) -> float:
        d = x[t][:, None] - x[~t][None, :]
        return float(((d > 0) + 0.5 * (d == 0)).mean())

    keep = ~np.eye(truth.size, dtype=bool)
    return auc(truth, s), np.array([auc(truth[k], s[k]) for k in keep])


def _dbm_f_and_ddf(truth: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """Dorfman-Berbaum-Metz ANOVA of jackknife pseudo-values with Hillis ddf (independent route)."""
    t, r, c = scores.shape
    y = np.empty((t, r, c))
    for i in range(t):
        for j in range(r):
            a, jk = _brute_jackknife(truth, scores[i, j])
            y[i, j] = c * a - (c - 1) * jk
    g = y.mean()
    yi, yj, yk = y.mean((1, 2)), y.mean((0, 2)), y.mean((0, 1))
    yij, yik, yjk = y.mean(2), y.mean(1), y.mean(0)
    ms_t = r * c * ((yi - g) ** 2).sum() / (t - 1)
    ms_tr = c * ((yij - yi[:, None] - yj[None] + g) ** 2).sum() / ((t - 1) * (r - 1))
    ms_tc = r * ((yik - yi[:, None] - yk[None] + g) ** 2).sum() / ((t - 1) * (c - 1))
    resid = (
        y
        - yij[..., None]
        - yik[:, None]
        - yjk[None]
        + yi[:, None, None]
        + yj[None, :, None]
        + yk[None, None, :]
        - g
    )
    ms_trc = (resid**2).sum() / ((t - 1) * (r - 1) * (c - 1))
    den = ms_tr + max(ms_tc - ms_trc, 0.0)
    return ms_t / den, den**2 / (ms_tr**2 / ((t - 1) * (r - 1)))


def _synthetic(t: int, r: int, c: int, seed: int) -> MrmcData:
    rng = np.random.default_rng(seed)
    truth = rng.random(c) < 0.4
    truth[:2], truth[2:4] = True, False
    scores = np.round(truth * rng.uniform(0.5, 1.5, (t, r, 1)) + rng.normal(0, 1, (t, r, c)), 1)
    cases = [f"case{k}" for k in range(c)]
    return MrmcData(
        truth=dict(zip(cases, map(bool, truth), strict=True)),
        scores={
            f"r{j}": {f"m{i}": dict(zip(cases, map(float, scores[i, j]), strict=True)) for i in range(t)}
            for j in range(r)
        },
    )


@pytest.mark.parametrize(("t", "r", "seed"), [(2, 3, 0), (3, 4, 1), (4, 2, 2)])
def test_or_equals_dbm_with_hillis_ddf(t: int, r: int, seed: int) -> None:
    # Hillis et al. (2005): OR with jackknife covariances and DBM give the same F and ddf.
    data = _synthetic(t, r, 40, seed)
    arrays = data.to_arrays()
    f, ddf = _dbm_f_and_ddf(arrays.truth, arrays.scores)
    res = obuchowski_rockette(data=data)
    assert not isinstance(res.rrrc, NotComputable)
    assert res.rrrc.f == pytest.approx(f, rel=1e-9)
    assert res.rrrc.ddf == pytest.approx(ddf, rel=1e-9)
    assert len(res.rrrc.comparisons) == t * (t - 1) // 2
    d = res.to_dict()
    if t > 2:
        assert d["rrrc"]["difference"] is None and len(d["rrrc"]["comparisons"]) == t * (t - 1) // 2


def test_edge_cases_are_explicit() -> None:
    one_modality = obuchowski_rockette(data=_synthetic(1, 3, 20, 3))
    assert isinstance(one_modality.rrrc, NotComputable) and "one modality" in one_modality.rrrc.reason
    assert isinstance(one_modality.covariances.cov1, NotComputable)
    assert not isinstance(one_modality.single_modality["m0"], NotComputable)
    json.dumps(one_modality.to_dict(), allow_nan=False)

    one_reader = obuchowski_rockette(data=_synthetic(2, 1, 20, 4))
    assert isinstance(one_reader.rrrc, NotComputable) and "one reader" in one_reader.rrrc.reason
    assert not isinstance(one_reader.frrc, NotComputable)
    assert isinstance(one_reader.single_modality["m0"], NotComputable)
    json.dumps(one_reader.to_dict(), allow_nan=False)

    base = _synthetic(2, 2, 20, 5)
    same = MrmcData(
        truth=base.truth,
        scores={r: {"a": base.scores["r0"]["m0"], "b": base.scores["r0"]["m0"]} for r in ("x", "y")},
    )
    res = obuchowski_rockette(data=same)
    assert isinstance(res.rrrc, NotComputable) and isinstance(res.frrc, NotComputable)
    assert isinstance(res, MrmcResult)
    json.dumps(res.to_dict(), allow_nan=False)

    few = MrmcData(
        truth={"a": True, "b": False, "c": False}, scores={"r": {"m": {"a": 1.0, "b": 0.0, "c": 0.5}}}
    )
    with pytest.raises(MrmcInputError, match="at least 2 diseased"):
        obuchowski_rockette(data=few)


def test_analyse_file_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.imrmc"
    bad.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MrmcInputError, match="not UTF-8"):
        analyse_imrmc_file(path=bad)
