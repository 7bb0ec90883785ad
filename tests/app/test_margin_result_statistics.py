"""The model's indeterminate call in study statistics: positive by default, or as the study says."""

from __future__ import annotations

import pytest

from inference.models import MarginResult
from studies.services import ground_truth_record, ground_truth_sign_off

from .specimen_world import make_case_with_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def cases(users):
    undecided = make_case_with_result()  # the folds straddle 1 mm: indeterminate
    clear = make_case_with_result()
    MarginResult.objects.filter(segmentation__case=clear).update(
        status="negative", closest_margin_mm=3.0, interval_low_mm=2.8, interval_high_mm=3.2,
        detail={"folds": [{"fold": 0, "closest_mm": 2.8, "status": "negative"},
                          {"fold": 1, "closest_mm": 3.2, "status": "negative"}]})
    for case, status, distance in ((undecided, "close", 0.5), (clear, "negative", 3.0)):
        truth = ground_truth_record(user=users["pathologist"], case=case, margin_status=status,
                                    closest_distance_mm=distance)
        ground_truth_sign_off(user=users["pathologist"], ground_truth=truth)
    return undecided, clear


def _report(client, cases, setting):
    body = {"name": f"indeterminate {setting}", "design": "aided", "cases": [c.code for c in cases],
            "readers": ["reader2"], "margin_threshold_mm": 1.0}
    if setting is not None:
        body["indeterminate_counts_as"] = setting
    created = client.post("/api/studies/", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["indeterminate_counts_as"] == (setting or "positive")
    report = client.get(f"/api/studies/{created.json()['id']}/results/")
    assert report.status_code == 200
    return report.json()


@pytest.mark.parametrize(
    ("setting", "undecided_positive", "n_with_model", "sensitivity"),
    [(None, True, 2, 1.0), ("positive", True, 2, 1.0), ("negative", False, 2, 0.0), ("excluded", None, 1, None)],
)
def test_indeterminate_counts_as_the_study_says(client_for, cases, setting, undecided_positive, n_with_model,
                                                 sensitivity):
    report = _report(client_for("study_admin"), cases, setting)
    undecided, clear = cases
    rows = {row["code"]: row for row in report["cases"]}
    note = report["model"]["indeterminate"]
    assert note["counts_as"] == (setting or "positive")
    assert report["completeness"]["n_with_model"] == n_with_model
    assert rows[clear.code]["model"]["positive"] is False
    if undecided_positive is None:
        assert rows[undecided.code]["model"] is None
        assert "indeterminate" in rows[undecided.code]["model_missing"]
        assert note["n_excluded"] == 1
    else:
        model = rows[undecided.code]["model"]
        assert model["status"] == "indeterminate" and model["positive"] is undecided_positive
        assert model["interval_mm"][0] < 1.0 < model["interval_mm"][1] and len(model["folds"]) == 3
        assert note["n_counted"] == 1
        assert report["accuracy"]["model"]["sensitivity"]["value"] == sensitivity
    assert "indeterminate" in report["methods"]["model_call"]


def test_an_unknown_setting_is_refused(client_for, cases):
    response = client_for("study_admin").post("/api/studies/", {
        "name": "bad", "design": "aided", "cases": [cases[0].code], "readers": ["reader2"],
        "indeterminate_counts_as": "maybe"}, format="json")
    assert response.status_code == 400 and "indeterminate_counts_as" in response.json()["detail"]
