"""The results JSON of a crossover study equals studies.stats called directly on the same vectors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studies.results.table import NO_TUMOUR_SCORE, model_category
from studies.stats.binary import binary_metrics, reader_mean_sd
from studies.stats.imrmc import MrmcData
from studies.stats.kappa import cohens_kappa, fleiss_kappa, kappa_matrix
from studies.stats.mcnemar import compare_paired_accuracy, mcnemar_exact
from studies.stats.mrmc import obuchowski_rockette
from studies.stats.results import jsonable
from studies.stats.roc import auc_with_ci
from studies.stats.segmentation import segmentation_agreement
from studies.stats.standalone import model_vs_readers_auc

from .conftest import SPACING, build_crossover

pytestmark = pytest.mark.django_db
POS = {"positive", "close"}
SESSIONS = ("unaided", "aided")
SECTIONS = ("schema", "study", "model", "methods", "completeness", "cases", "accuracy", "per_face", "roc",
            "agreement", "comparisons", "segmentation", "not_computable")


def strict_json(response) -> dict:
    def refuse(value):
        raise AssertionError(f"non-finite number {value} in the JSON")

    return json.loads(response.content, parse_constant=refuse)


def label(positive: bool) -> str:
    return "positive" if positive else "negative"


@pytest.fixture
def crossover(users):
    return build_crossover(users)


@pytest.fixture
def report(crossover, client_for):
    response = client_for("study_admin").get(f"/api/studies/{crossover.study.pk}/results/")
    assert response.status_code == 200, response.content
    return strict_json(response)


def test_every_section_is_present(report, crossover):
    assert all(key in report for key in SECTIONS)
    assert report["study"]["design"] == "crossover"
    assert [s["key"] for s in report["study"]["sessions"]] == ["unaided", "aided"]
    assert report["model"]["label"] == "fake:1"
    codes = [c.code for c in crossover.cases]
    assert [c["code"] for c in report["cases"]] == codes
    completeness = report["completeness"]
    assert completeness["n_cases"] == 10 and completeness["n_with_truth"] == 9
    assert list(completeness["missing_truth"]) == [codes[8]]  # only an unsigned draft
    assert completeness["pending_truth_correction"] == [codes[9]]
    assert report["cases"][9]["truth"]["status"] == "negative" and report["cases"][9]["truth"]["version"] == 1
    assert completeness["reads"] == {s: {r: 10 for r in crossover.readers} for s in SESSIONS}
    # The amended calls: the latest version counts.
    case0 = report["cases"][0]["reads"]["unaided"]["reader1"]
    assert (case0["status"], case0["confidence"]) == crossover.calls[("unaided", "reader1", codes[0])]
    assert case0["version"] == 2
    assert report["cases"][2]["reads"]["aided"]["reader1"]["version"] == 3


def _vectors(d):
    codes = [c.code for c in d.cases]
    truth_codes = [c for c in codes if d.truth[c] is not None]
    truth = [d.truth[c] in POS for c in truth_codes]

    def model_call(code):
        return model_category(d.model_mm[code], 1.0) in POS

    def model_score(code):
        mm = d.model_mm[code]
        return NO_TUMOUR_SCORE if mm is None else -mm

    def call(session, reader, code):
        return d.calls[(session, reader, code)][0] in POS

    def score(session, reader, code):
        status, confidence = d.calls[(session, reader, code)]
        return float(5 + confidence if status in POS else 6 - confidence)

    return codes, truth_codes, truth, model_call, model_score, call, score


def test_accuracy_roc_and_agreement_equal_the_statistics_package(report, crossover):
    d = crossover
    codes, truth_codes, truth, model_call, model_score, call, score = _vectors(d)
    model_calls = [model_call(c) for c in truth_codes]
    assert report["accuracy"]["model"] == jsonable(binary_metrics(truth=truth, calls=model_calls))
    assert report["roc"]["model"]["auc"] == jsonable(auc_with_ci(truth=truth,
                                                                 scores=[model_score(c) for c in truth_codes]))
    assert report["agreement"]["model_vs_truth"] == jsonable(cohens_kappa(
        calls_a=[label(x) for x in model_calls], calls_b=[label(x) for x in truth],
        categories=("positive", "negative")))
    for s in SESSIONS:
        per_reader = {}
        for r in d.readers:
            calls = [call(s, r, c) for c in truth_codes]
            per_reader[r] = binary_metrics(truth=truth, calls=calls)
            assert report["accuracy"]["sessions"][s]["readers"][r] == jsonable(per_reader[r])
            entry = report["roc"]["sessions"][s]["readers"][r]
            assert entry["auc"] == jsonable(auc_with_ci(truth=truth, scores=[score(s, r, c) for c in truth_codes]))
            assert entry["curve"][0] == {"threshold": None, "fpr": 0.0, "tpr": 0.0}
            assert entry["curve"][-1]["fpr"] == 1.0 and entry["curve"][-1]["tpr"] == 1.0
            m = per_reader[r]
            assert entry["operating_point"]["tpr"] == pytest.approx(m.counts.tp / (m.counts.tp + m.counts.fn))
            assert report["agreement"]["sessions"][s]["reader_vs_truth"][r] == jsonable(cohens_kappa(
                calls_a=[label(x) for x in calls], calls_b=[label(x) for x in truth],
                categories=("positive", "negative")))
            assert report["agreement"]["sessions"][s]["reader_vs_model"][r] == jsonable(cohens_kappa(
                calls_a=[label(call(s, r, c)) for c in codes], calls_b=[label(model_call(c)) for c in codes],
                categories=("positive", "negative")))
        assert report["accuracy"]["sessions"][s]["reader_mean_sd"] == jsonable(reader_mean_sd(per_reader=per_reader))
        by_rater = {r: [label(call(s, r, c)) for c in codes] for r in d.readers}
        agreement = report["agreement"]["sessions"][s]
        assert agreement["reader_pairs"] == jsonable(kappa_matrix(calls_by_rater=by_rater,
                                                                  categories=("positive", "negative")))
        assert agreement["fleiss"] == jsonable(fleiss_kappa(calls_by_rater=by_rater,
                                                            categories=("positive", "negative")))
        assert agreement["n_common_cases"] == 10


def test_comparisons_equal_the_statistics_package(report, crossover):
    d = crossover
    codes, truth_codes, truth, model_call, model_score, call, score = _vectors(d)
    comparisons = report["comparisons"]
    for s in SESSIONS:
        for r in d.readers:
            pair = comparisons["model_vs_reader"][s][r]
            assert pair["correctness"] == jsonable(compare_paired_accuracy(
                truth=truth, calls_a=[model_call(c) for c in truth_codes], calls_b=[call(s, r, c) for c in truth_codes]))
            assert pair["calls"] == jsonable(mcnemar_exact(a=[model_call(c) for c in codes],
                                                           b=[call(s, r, c) for c in codes]))
        mvr = model_vs_readers_auc(truth=truth, model_scores=[model_score(c) for c in truth_codes],
                                   reader_scores={r: [score(s, r, c) for c in truth_codes] for r in d.readers})
        assert comparisons["model_vs_readers_auc"][s] == {"n_cases": 9, "result": jsonable(mvr)}
    for r in d.readers:
        assert comparisons["aided_vs_unaided"][r]["correctness"] == jsonable(compare_paired_accuracy(
            truth=truth, calls_a=[call("unaided", r, c) for c in truth_codes],
            calls_b=[call("aided", r, c) for c in truth_codes]))
    data = MrmcData(truth=dict(zip(truth_codes, truth, strict=True)),
                    scores={r: {s: {c: score(s, r, c) for c in truth_codes} for s in ("aided", "unaided")}
                            for r in d.readers})
    mrmc = comparisons["mrmc"]
    assert mrmc["n_crossed_cases"] == 9 and mrmc["difference"] == "aided - unaided"
    assert mrmc["result"] == jsonable(obuchowski_rockette(data=data))
    assert mrmc["result"]["modalities"] == ["aided", "unaided"]


def test_per_face_pools_faces_with_truth(report, crossover):
    d = crossover
    truth, model = [], []
    for code, faces in d.truth_faces.items():
        for face, status in faces.items():
            distance = d.model_faces[code].get(face)
            if distance is not None:
                truth.append(status in POS)
                model.append(model_category(distance, 1.0) in POS)
    assert report["per_face"]["model"] == jsonable(binary_metrics(truth=truth, calls=model))
    for s in SESSIONS:
        for r in d.readers:
            t, c = [], []
            for code, faces in d.truth_faces.items():
                calls = d.face_calls.get((s, r, code), {})
                for face, status in faces.items():
                    if face in calls:
                        t.append(status in POS)
                        c.append(calls[face] in POS)
            assert report["per_face"]["sessions"][s]["readers"][r] == jsonable(binary_metrics(truth=t, calls=c))


def test_segmentation_on_the_pathology_slice_between_readers_and_vs_the_model(report, crossover):
    d = crossover
    seg = report["segmentation"]
    for code, k in d.slices.items():
        assert seg["truth_slices"][code]["slice_index"] == k and seg["truth_slices"][code]["mode"] == "2d"
        gt = d.masks[("truth", code)]
        expected = segmentation_agreement(reference=gt[k], test=d.masks[("model", code)][k], spacing=SPACING[1:])
        got = seg["vs_ground_truth"]["model"]["cases"][code]
        assert {key: got[key] for key in expected.to_dict()} == jsonable(expected)
        for s in SESSIONS:
            for r in d.readers:
                mask = d.masks.get(((s, r), code))
                if mask is None:
                    assert code not in seg["vs_ground_truth"]["sessions"][s][r]["cases"]
                    continue
                expected = segmentation_agreement(reference=gt[k], test=mask[k], spacing=SPACING[1:])
                got = seg["vs_ground_truth"]["sessions"][s][r]["cases"][code]
                assert {key: got[key] for key in expected.to_dict()} == jsonable(expected)
    model_summary = seg["vs_ground_truth"]["model"]["summary"]["dice"]
    dices = [segmentation_agreement(reference=d.masks[("truth", c)][k], test=d.masks[("model", c)][k],
                                    spacing=SPACING[1:]).dice for c, k in d.slices.items()]
    assert model_summary["mean"] == pytest.approx(float(np.mean(dices)))
    assert model_summary["n"] == len(d.slices)
    # Between readers (3D) and against the model mask the reader started from (3D).
    code = d.cases[0].code
    a, b = d.readers[0], d.readers[1]
    expected = segmentation_agreement(reference=d.masks[(("unaided", a), code)],
                                      test=d.masks[(("unaided", b), code)], spacing=SPACING)
    got = seg["between_readers"]["unaided"][f"{a}|{b}"]["cases"][code]
    assert got["dice"] == expected.dice and got["spacing_mm"] == list(SPACING)
    moved = seg["reader_vs_model_start"]["aided"][a]
    assert moved["n_cases"] == 4 and "unaided" not in seg["reader_vs_model_start"]
    expected = segmentation_agreement(reference=d.masks[("model", code)], test=d.masks[(("aided", a), code)],
                                      spacing=SPACING)
    assert moved["cases"][code]["dice"] == expected.dice
    assert moved["cases"][code]["hausdorff_mm"] == expected.hausdorff_mm


def test_numbers_update_as_reads_arrive(users, client_for):
    from studies.services import read_submit

    from .conftest import make_case

    cases = [make_case() for _ in range(2)]
    from studies.services import study_create

    study = study_create(user=users["study_admin"], name="Live", design="crossover",
                         case_codes=[c.code for c in cases], reader_usernames=["reader1", "reader2"], washout_days=0,
                         seed=3, enforce_order=False)
    admin = client_for("study_admin")
    url = f"/api/studies/{study.pk}/results/"
    before = strict_json(admin.get(url))
    assert before["completeness"]["reads"]["unaided"] == {"reader1": 0, "reader2": 0}
    assert before["cases"][0]["reads"] == {}
    read_submit(user=users["reader"], case=cases[0], status="positive", confidence=4, time_spent_s=3)
    after = strict_json(admin.get(url))
    assert after["completeness"]["reads"]["unaided"] == {"reader1": 1, "reader2": 0}
    assert after["cases"][0]["reads"]["unaided"]["reader1"]["score"] == 9
