"""Bad input: every method that cannot run says why (never a crash, never NaN)."""

from __future__ import annotations

import json

import pytest

from studies.services import read_submit, study_create

from .conftest import build_crossover, make_case, make_model_result

pytestmark = pytest.mark.django_db


def get_report(client, study_id: int) -> dict:
    response = client.get(f"/api/studies/{study_id}/results/")
    assert response.status_code == 200, response.content

    def refuse(value):
        raise AssertionError(f"non-finite number {value} in the JSON")

    return json.loads(response.content, parse_constant=refuse)


def reason(value) -> str:
    assert isinstance(value, dict) and value.get("not_computable") is True, value
    return value["reason"]


def test_no_positive_cases_and_one_reader(users, client_for):
    d = build_crossover(users, readers=("reader1",), n_cases=6, truth=["negative"] * 6, with_masks=False)
    report = get_report(client_for("study_admin"), d.study.pk)
    assert report["completeness"]["n_truth_positive"] == 0
    model = report["accuracy"]["model"]
    assert "no truth-positive cases" in reason(model["sensitivity"])
    assert model["specificity"]["value"] >= 0  # what can be computed still is
    reader = report["accuracy"]["sessions"]["unaided"]["readers"]["reader1"]
    assert "sensitivity is undefined" in reason(reader["sensitivity"])
    assert "one rater" in reason(report["accuracy"]["sessions"]["unaided"]["reader_mean_sd"]["specificity"]["sd"])
    assert "diseased" in reason(report["roc"]["model"])
    assert "diseased" in reason(report["roc"]["sessions"]["aided"]["readers"]["reader1"])
    agreement = report["agreement"]["sessions"]["unaided"]
    assert "one reader" in reason(agreement["reader_pairs"])
    assert "two readers" in reason(agreement["fleiss"])
    assert "diseased" in reason(report["comparisons"]["mrmc"])
    assert "diseased" in reason(report["comparisons"]["model_vs_readers_auc"]["aided"]["result"])
    sensitivity = report["comparisons"]["model_vs_reader"]["aided"]["reader1"]["correctness"]["sensitivity"]
    assert "no truth-positive cases" in reason(sensitivity)
    assert "no ground truth records a per-face" not in json.dumps(report["per_face"])  # faces exist here
    paths = {item["path"]: item["reason"] for item in report["not_computable"]}
    assert "accuracy.model.sensitivity" in paths
    assert "comparisons.mrmc" in paths and "agreement.sessions.unaided.fleiss" in paths
    # The exports still work; the statistics CSV carries the reasons.
    admin = client_for("study_admin")
    csv_text = admin.get(f"/api/studies/{d.study.pk}/results/statistics.csv").content.decode()
    assert "no truth-positive cases: sensitivity is undefined" in csv_text
    assert admin.get(f"/api/studies/{d.study.pk}/results/study.imrmc").status_code == 200


def test_missing_ground_truth_and_no_model(users, client_for):
    cases = [make_case() for _ in range(3)]
    study = study_create(user=users["study_admin"], name="No truth", design="unaided",
                         case_codes=[c.code for c in cases], reader_usernames=["reader1", "reader2"], seed=1,
                         enforce_order=False)
    for user in (users["reader"], users["reader2"]):
        for status, case in zip(("positive", "negative", "close"), cases, strict=True):
            read_submit(user=user, case=case, status=status, confidence=3, time_spent_s=1)
    admin = client_for("study_admin")
    report = get_report(admin, study.pk)
    assert [s["key"] for s in report["study"]["sessions"]] == ["unaided"]
    assert report["model"]["label"] is None and "no model" in report["model"]["reason"]
    assert "no case has signed-off ground truth" in reason(report["accuracy"]["model"])
    assert "ground truth" in reason(report["accuracy"]["sessions"]["unaided"]["readers"]["reader1"])
    assert "no ground truth" in reason(report["per_face"])
    assert "no case has signed-off ground truth" in reason(report["comparisons"]["mrmc"])
    assert "no unaided and aided" in reason(report["comparisons"]["aided_vs_unaided"])
    # Readers agree with each other without truth.
    assert report["agreement"]["sessions"]["unaided"]["reader_pairs"]["pairs"][0]["kappa"] == 1.0
    assert report["completeness"]["missing_truth"] == {c.code: "no ground truth recorded" for c in cases}
    response = admin.get(f"/api/studies/{study.pk}/results/study.imrmc")
    assert response.status_code == 409 and "ground truth" in response.json()["detail"]
    assert admin.get(f"/api/studies/{study.pk}/results/masks.zip").status_code == 200


def test_a_half_read_crossover_reports_what_is_missing(users, client_for):
    cases = [make_case() for _ in range(4)]
    for case, mm in zip(cases, (0.0, 3.0, 0.5, 2.0), strict=True):
        make_model_result(case, closest_mm=mm)
    study = study_create(user=users["study_admin"], name="Half read", design="crossover",
                         case_codes=[c.code for c in cases], reader_usernames=["reader1", "reader2"], seed=2,
                         washout_days=28, enforce_order=False)
    from studies.services import ground_truth_record, ground_truth_sign_off

    for case, status, mm in zip(cases, ("positive", "negative", "close", "negative"), (0, 3, 0.5, 2), strict=True):
        gt = ground_truth_record(user=users["pathologist"], case=case, margin_status=status, closest_distance_mm=mm)
        ground_truth_sign_off(user=users["pathologist"], ground_truth=gt)
    read_submit(user=users["reader"], case=cases[0], status="positive", confidence=5, time_spent_s=1)
    report = get_report(client_for("study_admin"), study.pk)
    aided = report["accuracy"]["sessions"]["aided"]
    assert "no case with ground truth has a call" in reason(aided["readers"]["reader1"])
    assert "no reader has calls" in reason(aided["reader_mean_sd"])
    assert "every reader" in reason(report["comparisons"]["mrmc"])
    assert "every reader" in reason(report["comparisons"]["model_vs_readers_auc"]["unaided"])
    assert "no case has been called by every reader" in reason(report["agreement"]["sessions"]["unaided"]["fleiss"])
    # The model is complete: its numbers are there.
    assert report["accuracy"]["model"]["counts"] == {"tp": 2, "fp": 0, "tn": 2, "fn": 0, "n": 4}
    assert report["roc"]["model"]["auc"]["auc"] == 1.0
