"""The mrmc command reproduces the published Van Dyke OR-DBM results and refuses bad files."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command


def test_mrmc_command_reproduces_van_dyke(vandyke_path):
    out = io.StringIO()
    call_command("mrmc", str(vandyke_path), "--json", stdout=out)
    result = json.loads(out.getvalue())
    means = list(result["modality_means"].values())
    assert means == pytest.approx([0.89703704, 0.94083736], abs=5e-9)
    rrrc, frrc = result["rrrc"], result["frrc"]
    assert rrrc["F"] == pytest.approx(4.46, abs=0.005)
    assert rrrc["ddf"] == pytest.approx(15.26, abs=0.005)
    assert rrrc["p"] == pytest.approx(0.0517, abs=5e-5)
    assert rrrc["ci95"] == pytest.approx([-0.08796, 0.00036], abs=5e-6)
    assert frrc["chi2"] == pytest.approx(5.47595, abs=5e-6)
    assert frrc["ci95"] == pytest.approx([-0.08049, -0.00711], abs=5e-6)
    auc = result["auc"]
    assert sorted(round(v, 8) for by_modality in auc.values() for v in by_modality.values())[0] == pytest.approx(
        0.82979066, abs=5e-9)


def test_mrmc_command_bad_input(tmp_path):
    with pytest.raises(CommandError, match="not a readable file"):
        call_command("mrmc", str(tmp_path / "missing.imrmc"))
    bad = tmp_path / "bad.imrmc"
    bad.write_text("header\nBEGIN DATA:\n-1,1,truth,1\n0,1,A,not-a-number\n")
    with pytest.raises(CommandError, match="bad.imrmc"):
        call_command("mrmc", str(bad))
