"""Per-unit (lamella) statistics against a hand-computed example, through the HTTP API.

Three cases, two lamella units each (slices on a 4 x 6 x 8 grid). Truth per unit is the pathologist's
outlined-slice status or a section status; the model's call per unit is its in-plane distance on that
slice from the stored per-slice margins (no entry: negative). Close counts as positive.

unit   truth           model (in-plane)         reader1   reader2
A-k1   positive (GT)   0.0 mm -> positive  TP   pos TP    pos TP
A-k2   negative (sec)  3.0 mm -> negative  TN   neg TN    pos FP
B-k1   negative (GT)   0.5 mm -> close     FP   neg TN    neg TN
B-k3   positive (sec)  no entry -> neg     FN   pos TP    neg FN
C-k0   negative (GT)   no entry -> neg     TN   neg TN    neg TN
C-k2   close (sec)     0.8 mm -> close     TP   pos TP    pos TP

model: TP 2 FP 1 TN 2 FN 1 -> sensitivity 2/3, specificity 2/3, F1 4/6
reader1: sensitivity 1, specificity 1; reader2: TP 2 FN 1 FP 1 TN 2 -> 2/3, 2/3; mean 5/6, 5/6
"""

from __future__ import annotations

import csv
import io

import pytest

from inference.models import MarginResult
from studies.services import ground_truth_record, ground_truth_sign_off
from tests.studies_app.conftest import make_case, make_model_result

UNITS = [("A", 1), ("A", 2), ("B", 1), ("B", 3), ("C", 0), ("C", 2)]
TRUTH = {"A": ("positive", 1, {"2": "negative"}), "B": ("negative", 1, {"3": "positive"}),
         "C": ("negative", 0, {"2": "close"})}
MODEL_SLICES = {"A": [{"k": 1, "distance_mm": 0.0, "status": "positive"}, {"k": 2, "distance_mm": 3.0}],
                "B": [{"k": 1, "distance_mm": 0.5}], "C": [{"k": 2, "distance_mm": 0.8}]}
CALLS = {"reader1": ["positive", "negative", "negative", "positive", "negative", "positive"],
         "reader2": ["positive", "positive", "negative", "negative", "negative", "close"]}


@pytest.fixture
def lamella_study(users, client_for):
    cases = {}
    for name in "ABC":
        case = make_case(code=f"LAM-{name}")
        seg = make_model_result(case)
        MarginResult.objects.filter(segmentation=seg).update(per_slice=MODEL_SLICES[name], closest_margin_mm=0.0)
        cases[name] = case
    admin = client_for("study_admin")
    response = admin.post("/api/studies/", {
        "name": "lamella hand example", "design": "unaided", "cases": [c.code for c in cases.values()],
        "readers": ["reader1", "reader2"], "reading_unit": "lamella", "enforce_order": False,
        "units": [{"case": f"LAM-{n}", "slice_index": k, "label": f"{n}-k{k}"} for n, k in UNITS],
    }, format="json")
    assert response.status_code == 201, response.json()
    study = response.json()
    units = {u["label"]: u["id"] for u in study["units"]}
    for role, username in (("reader", "reader1"), ("reader2", "reader2")):
        client = client_for(role)
        for (name, k), status in zip(UNITS, CALLS[username], strict=True):
            r = client.post(f"/api/cases/LAM-{name}/reads/", {
                "status": status, "confidence": 4, "time_spent_s": 3, "unit": units[f"{name}-k{k}"]},
                format="json")
            assert r.status_code == 201, r.json()
    for name, (status, k, sections) in TRUTH.items():
        gt = ground_truth_record(user=users["pathologist"], case=cases[name], margin_status=status,
                                 closest_distance_mm=0.0 if status == "positive" else None, slice_index=k,
                                 section_status=sections)
        ground_truth_sign_off(user=users["pathologist"], ground_truth=gt)
    return study


def _value(metric):
    return metric["value"]


def test_per_unit_statistics_match_the_hand_computed_example(lamella_study, client_for):
    report = client_for("study_admin").get(f"/api/studies/{lamella_study['id']}/results/").json()
    assert report["completeness"]["n_cases"] == 6
    assert [c["code"] for c in report["cases"]] == [f"{n}-k{k}" for n, k in UNITS]
    model = report["accuracy"]["model"]
    assert model["counts"]["tp"] == 2 and model["counts"]["fp"] == 1
    assert model["counts"]["tn"] == 2 and model["counts"]["fn"] == 1
    assert _value(model["sensitivity"]) == pytest.approx(2 / 3)
    assert _value(model["specificity"]) == pytest.approx(2 / 3)
    assert _value(model["f1"]) == pytest.approx(4 / 6)
    by_unit = {c["code"]: c for c in report["cases"]}
    assert by_unit["B-k1"]["model"]["status"] == "close" and by_unit["B-k1"]["model"]["closest_mm"] == 0.5
    assert by_unit["B-k3"]["model"]["status"] == "negative" and by_unit["B-k3"]["model"]["closest_mm"] is None
    assert by_unit["C-k2"]["truth"]["status"] == "close" and by_unit["C-k2"]["truth"]["positive"] is True
    readers = report["accuracy"]["sessions"]["unaided"]["readers"]
    assert _value(readers["reader1"]["sensitivity"]) == 1.0 and _value(readers["reader1"]["specificity"]) == 1.0
    assert _value(readers["reader2"]["sensitivity"]) == pytest.approx(2 / 3)
    assert _value(readers["reader2"]["specificity"]) == pytest.approx(2 / 3)
    mean = report["accuracy"]["sessions"]["unaided"]["reader_mean_sd"]
    assert mean["sensitivity"]["mean"] == pytest.approx(5 / 6)
    published = {r["key"]: r for r in report["published"]["rows"]}
    assert published["model_f1"]["published"]["value"] == 0.84
    assert published["model_f1"]["ours"]["value"] == pytest.approx(4 / 6)
    assert published["reader_sensitivity"]["ours"]["value"] == pytest.approx(5 / 6)
    assert published["model_dice"]["published"]["sd"] == 0.20
    assert report["published"]["another_data_set"] is True


def test_exports_carry_the_unit(lamella_study, client_for):
    admin = client_for("study_admin")
    base = f"/api/studies/{lamella_study['id']}/results/"
    rows = list(csv.DictReader(io.StringIO(admin.get(base + "reads.csv").content.decode())))
    assert len(rows) == 12
    row = next(r for r in rows if r["case"] == "B-k3" and r["reader"] == "reader1")
    assert (row["unit"], row["case_code"], row["slice_index"]) == ("B-k3", "LAM-B", "3")
    assert row["truth_status"] == "positive" and row["model_status"] == "negative"
    imrmc = admin.get(base + "study.imrmc").content.decode()
    assert "-1,B-k3,truth,1" in imrmc and "-1,B-k1,truth,0" in imrmc
    assert admin.get(base + "json").json()["cases"][3]["unit"] == "B-k3"
    reads = list(csv.DictReader(io.StringIO(admin.get(f"/api/studies/{lamella_study['id']}/reads/export/")
                                            .content.decode())))
    assert {r["unit"] for r in reads} == {f"{n}-k{k}" for n, k in UNITS}
