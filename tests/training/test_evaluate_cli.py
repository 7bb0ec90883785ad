"""``python -m training.loop.evaluate``: a bundle scored on a folder of held-out cases."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from training.loop.evaluate import main

pytestmark = pytest.mark.slow


def test_scores_every_case_against_its_truth(tiny_bundle, phantom_dir, capsys):
    assert main(["--bundle", str(tiny_bundle), "--data", str(phantom_dir), "--json", "--device", "cpu"]) == 0
    report = json.loads(capsys.readouterr().out)
    truth = {c: json.loads((phantom_dir / c / "truth" / "truth.json").read_text()) for c in ("case_0000", "case_0001")}
    assert [case["case_id"] for case in report["cases"]] == sorted(truth)
    for case in report["cases"]:
        assert case["truth_closest_mm"] == pytest.approx(truth[case["case_id"]]["closest_margin_mm"])
        assert 0.0 <= case["dice"] <= 1.0
    assert report["tp"] + report["fp"] + report["tn"] + report["fn"] == 2


def test_plain_text_summary(tiny_bundle, phantom_dir):
    run = subprocess.run(
        [sys.executable, "-m", "training.loop.evaluate", "--bundle", str(tiny_bundle), "--data", str(phantom_dir),
         "--threshold-mm", "0", "--device", "cpu"],
        capture_output=True, text=True, check=True,
    )
    assert "2 cases: Dice" in run.stdout and "margin status at 0 mm" in run.stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--bundle", "{tmp}/missing", "--data", "{phantoms}"], "model.json is missing"),
        (["--bundle", "{bundle}", "--data", "{tmp}/missing"], "is not a folder"),
        (["--bundle", "{bundle}", "--data", "{phantoms}", "--threshold-mm", "-1"], "--threshold-mm"),
        (["--bundle", "{bundle}", "--data", "{tmp}"], "no cases in"),
    ],
)
def test_bad_input_is_named(arguments, message, tiny_bundle, phantom_dir, tmp_path, capsys):
    filled = [a.format(tmp=tmp_path, phantoms=phantom_dir, bundle=tiny_bundle) for a in arguments]
    with pytest.raises(SystemExit) as exit_info:
        main(filled)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
