"""report.py without Django: a hand-made table, the scoring conventions and the import rule."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from studies.results.report import build_report, roc_curve
from studies.results.table import (
    CaseRow,
    ModelCall,
    ModelChoice,
    ReadCall,
    SessionInfo,
    StudyTable,
    TruthCall,
    model_category,
    model_score,
    reader_score,
)

REPO = Path(__file__).resolve().parents[2]


def test_report_and_table_never_import_django():
    code = ("import sys, studies.results.report, studies.results.report_calls, studies.results.report_segmentation, "
            "studies.results.table; "
            "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django imported'")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def test_scoring_conventions():
    assert [reader_score(positive=False, confidence=c) for c in (5, 4, 3, 2, 1)] == [1, 2, 3, 4, 5]
    assert [reader_score(positive=True, confidence=c) for c in (1, 2, 3, 4, 5)] == [6, 7, 8, 9, 10]
    assert model_category(0.0, 1.0) == "positive" and model_category(1.0, 1.0) == "close"
    assert model_category(1.01, 1.0) == "negative" and model_category(None, 1.0) == "negative"
    assert model_category(0.5, 0.0) == "negative"  # a 0 mm threshold has no "close"
    assert model_score(2.5) == -2.5 and model_score(None) == -1000.0


def test_roc_curve_passes_through_the_operating_point():
    truth = [True, True, False, False, True]
    scores = [10, 7, 6, 2, 4]
    curve = roc_curve(truth=truth, scores=scores)
    assert curve[0] == {"threshold": None, "fpr": 0.0, "tpr": 0.0}
    at_six = next(p for p in curve if p["threshold"] == 6)
    assert (at_six["fpr"], at_six["tpr"]) == (0.5, 2 / 3)
    assert roc_curve(truth=[True, True], scores=[1, 2]).reason.startswith("needs truth-positive")


def _table(n_readers: int) -> StudyTable:
    statuses = ["positive", "negative", "close", "negative", "negative", "positive"]
    cases = []
    for i, status in enumerate(statuses):
        truth = TruthCall(ground_truth_id=i, version=1, status=status, positive=status != "negative",
                          closest_distance_mm=None, face_status={}, segmentation_id=None, slice_index=None,
                          signed_off_at="2025-01-01T00:00:00+00:00", pending_correction=False)
        mm = [0.0, 3.0, 0.5, 0.7, 4.0, 2.0][i]
        model = ModelCall(segmentation_id=100 + i, run_id=i, model="m:1", closest_mm=mm,
                          status=model_category(mm, 1.0), positive=model_category(mm, 1.0) != "negative",
                          score=model_score(mm), faces={}, face_distances_mm={}, run_status="", run_threshold_mm=1.0)
        reads = {}
        for key in ("unaided", "aided"):
            reads[key] = {}
            for r in range(n_readers):
                positive = (status != "negative") if (i + r) % 3 else (status == "negative")
                reads[key][f"r{r}"] = ReadCall(
                    read_id=1000 + i, version=1, status="positive" if positive else "negative", positive=positive,
                    confidence=1 + (i + r) % 5, score=reader_score(positive=positive, confidence=1 + (i + r) % 5),
                    face_calls={}, segmentation_id=None, started_from_model_segmentation_id=None,
                    aided=key == "aided", submitted_at="")
        cases.append(CaseRow(code=f"C{i}", case_id=i, spacing_mm=(1.0, 1.0, 1.0), shape=(2, 2, 2), truth=truth,
                             model=model, reads=reads))
    return StudyTable(
        study={"id": 1, "name": "unit", "design": "crossover", "status": "open", "margin_threshold_mm": 1.0,
               "positive_categories": ["positive", "close"], "readers": [f"r{r}" for r in range(n_readers)],
               "cases": [c.code for c in cases]},
        sessions=[SessionInfo("unaided", 1, False), SessionInfo("aided", 2, True)],
        readers=[f"r{r}" for r in range(n_readers)], cases=cases, model=ModelChoice("m:1", 1, "test"), masks={},
        all_reads=[])


def test_build_report_without_the_database():
    report = build_report(table=_table(3))
    assert report["comparisons"]["mrmc"]["result"]["modalities"] == ["aided", "unaided"]
    assert report["accuracy"]["model"]["counts"] == {"tp": 2, "fp": 1, "tn": 2, "fn": 1, "n": 6}
    assert "masks were not loaded" in report["segmentation"]["not_computed"]["reason"]
    one = build_report(table=_table(1))
    assert "one reader" in one["comparisons"]["mrmc"]["result"]["rrrc"]["reason"]
    assert "one reader" in one["comparisons"]["model_vs_readers_auc"]["aided"]["result"]["rrrc"]["reason"]
