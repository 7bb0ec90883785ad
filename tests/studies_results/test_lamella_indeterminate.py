"""A lamella unit whose folds disagree in plane is indeterminate, counted as the study says (through the API).

One case, three units at 1 mm. The stored per-slice margins (engine format) are:

unit  ensemble  folds in plane        calls at 1 mm                 model's unit call
k1    0.8 mm    0.6, 1.4, none        pos, pos, neg, neg (none)      indeterminate
k2    3.0 mm    2.8, 3.2, none        all negative                   negative
k3    0.5 mm    (stored before fold   -                              close (as before: never
                per-slice margins)                                    indeterminate)

Truth: k1 positive, k2 negative, k3 positive. With indeterminate counted positive the model is
TP 2, TN 1; counted negative TP 1, FN 1, TN 1; excluded, k1 has no model call.
"""

from __future__ import annotations

import csv
import io

import pytest

from inference.models import MarginResult
from studies.services import ground_truth_record, ground_truth_sign_off
from tests.studies_app.conftest import make_case, make_model_result

PER_SLICE = [
    {"k": 1, "distance_mm": 0.8, "status": "indeterminate", "interval_mm": [0.6, 1.4],
     "fold_distances_mm": [0.6, 1.4, None]},
    {"k": 2, "distance_mm": 3.0, "status": "negative", "interval_mm": [2.8, 3.2],
     "fold_distances_mm": [2.8, 3.2, None]},
    {"k": 3, "distance_mm": 0.5, "status": "positive"},  # stored before per-slice fold margins
]


def _study(client_for, users, setting, threshold_mm=1.0):
    case = make_case(code="LAM-IND")
    seg = make_model_result(case)
    MarginResult.objects.filter(segmentation=seg).update(per_slice=PER_SLICE, closest_margin_mm=0.5)
    body = {"name": f"lamella indeterminate {setting}", "design": "unaided", "cases": [case.code],
            "readers": ["reader1"], "reading_unit": "lamella", "enforce_order": False,
            "margin_threshold_mm": threshold_mm,
            "units": [{"case": case.code, "slice_index": k, "label": f"k{k}"} for k in (1, 2, 3)]}
    if setting is not None:
        body["indeterminate_counts_as"] = setting
    created = client_for("study_admin").post("/api/studies/", body, format="json")
    assert created.status_code == 201, created.json()
    study = created.json()
    units = {u["label"]: u["id"] for u in study["units"]}
    for label in units:
        r = client_for("reader").post(f"/api/cases/{case.code}/reads/", {
            "status": "negative", "confidence": 3, "time_spent_s": 3, "unit": units[label]}, format="json")
        assert r.status_code == 201, r.json()
    gt = ground_truth_record(user=users["pathologist"], case=case, margin_status="positive",
                             closest_distance_mm=0.0, slice_index=1,
                             section_status={"2": "negative", "3": "positive"})
    ground_truth_sign_off(user=users["pathologist"], ground_truth=gt)
    return study


@pytest.mark.parametrize(
    ("setting", "k1_positive", "counts"),
    [(None, True, {"tp": 2, "fn": 0, "tn": 1, "fp": 0}),
     ("negative", False, {"tp": 1, "fn": 1, "tn": 1, "fp": 0}),
     ("excluded", None, {"tp": 1, "fn": 0, "tn": 1, "fp": 0})],
)
def test_a_unit_whose_folds_disagree_counts_as_the_study_says(client_for, users, setting, k1_positive, counts):
    study = _study(client_for, users, setting)
    report = client_for("study_admin").get(f"/api/studies/{study['id']}/results/").json()
    by_unit = {c["code"]: c for c in report["cases"]}
    if k1_positive is None:
        assert by_unit["k1"]["model"] is None and "indeterminate" in by_unit["k1"]["model_missing"]
        assert report["model"]["indeterminate"]["n_excluded"] == 1
    else:
        k1 = by_unit["k1"]["model"]
        assert k1["status"] == "indeterminate" and k1["positive"] is k1_positive
        assert k1["closest_mm"] == 0.8 and k1["interval_mm"] == [0.6, 1.4]
        assert [f["closest_mm"] for f in k1["folds"]] == [0.6, 1.4, None]
        assert report["model"]["indeterminate"]["n_counted"] == 1
    assert by_unit["k2"]["model"]["status"] == "negative" and by_unit["k2"]["model"]["positive"] is False
    # An entry stored before per-slice fold margins reads as it always did.
    k3 = by_unit["k3"]["model"]
    assert k3["status"] == "close" and k3["positive"] is True and k3["interval_mm"] is None
    model_counts = report["accuracy"]["model"]["counts"]
    assert {key: model_counts[key] for key in counts} == counts


def test_the_reads_export_flags_the_indeterminate_unit_with_its_interval(client_for, users):
    study = _study(client_for, users, None)
    text = client_for("study_admin").get(f"/api/studies/{study['id']}/results/reads.csv").content.decode()
    rows = {r["unit"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["k1"]["model_status"] == "indeterminate" and rows["k1"]["model_indeterminate"] == "1"
    assert (rows["k1"]["model_interval_low_mm"], rows["k1"]["model_interval_high_mm"]) == ("0.6", "1.4")
    assert rows["k1"]["model_fold_closest_mm"] == "0.6;1.4;"
    assert rows["k3"]["model_indeterminate"] == "0" and rows["k3"]["model_interval_low_mm"] == ""


def test_at_a_stricter_study_threshold_the_folds_agree_again(client_for, users):
    # At 0.5 mm: ensemble 0.8, folds 0.6 and 1.4 all lie beyond, the fold without tumour is negative too.
    study = _study(client_for, users, None, threshold_mm=0.5)
    report = client_for("study_admin").get(f"/api/studies/{study['id']}/results/").json()
    k1 = {c["code"]: c for c in report["cases"]}["k1"]["model"]
    assert k1["status"] == "negative" and k1["positive"] is False
