"""A specimen surface a person corrects: versions, masks, and a re-run of only the margin analysis."""

from __future__ import annotations

import json

import numpy as np
import pytest

from audit.models import AuditEvent
from cases.models import SpecimenSurface
from inference.maskcodec import ENCODING, decode_rle, encode_rle
from inference.models import MarginResult, Segmentation

from .specimen_world import FACE_I, SHAPE, make_case_with_result, specimen_block

pytestmark = pytest.mark.django_db


def _strict(response) -> dict:
    def refuse(constant):
        raise AssertionError(f"non-strict JSON constant {constant}")

    return json.loads(response.content, parse_constant=refuse)


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to load or run a network fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError("the network was used")

    monkeypatch.setattr("inference.registry.predictor_for", refuse)
    monkeypatch.setattr("inference.engine.predictor.EnsemblePredictor.predict", refuse)
    monkeypatch.setattr("inference.engine.predictor.EnsemblePredictor.from_bundle", refuse)


def _body(mask: np.ndarray, parent_id) -> dict:
    return {"parent_id": parent_id, "shape": list(mask.shape), "encoding": ENCODING, "data": encode_rle(mask)}


def test_version_one_is_listed_and_its_mask_round_trips(client_for):
    case = make_case_with_result()
    admin = client_for("study_admin")
    listing = _strict(admin.get(f"/api/cases/{case.code}/specimen-surfaces/"))
    assert [(s["version"], s["source"], s["parent_id"]) for s in listing["results"]] == [(1, "auto", None)]
    assert listing["latest_id"] == listing["results"][0]["id"]
    got = _strict(admin.get(listing["results"][0]["mask_url"]))
    assert got["encoding"] == ENCODING and got["shape"] == list(SHAPE)
    np.testing.assert_array_equal(decode_rle(data=got["data"], shape=SHAPE), specimen_block())


def test_version_one_is_backfilled_from_the_ingest_mask(client_for):
    case = make_case_with_result(with_result=False)
    SpecimenSurface.objects.filter(case=case).delete()  # a case imported before surfaces were versioned
    listing = _strict(client_for("study_admin").get(f"/api/cases/{case.code}/specimen-surfaces/"))
    assert [(s["version"], s["source"]) for s in listing["results"]] == [(1, "auto")]
    assert SpecimenSurface.objects.get(case=case).voxel_count == int(specimen_block().sum())


def test_a_corrected_surface_reruns_only_the_margin_analysis(client_for, no_network):
    case = make_case_with_result()
    client = client_for("reader")  # a free case: readers see the model's output
    before = _strict(client.get(f"/api/cases/{case.code}/"))["margin"]
    assert before["status"] == "indeterminate"  # folds at about 1.65 / 1.25 / 0.85 mm around 1 mm
    low, high = before["interval_mm"]
    assert low < 1.0 < high and len(before["folds"]) == 3
    assert 1.15 <= before["closest_margin_mm"] <= 1.35
    parent = before["specimen_surface"]["id"]

    corrected = specimen_block()
    corrected[:, :, FACE_I:FACE_I + 2] = 0  # the surface moves 1 mm closer to the tumour on -x
    response = client.post(f"/api/cases/{case.code}/specimen-surfaces/", _body(corrected, parent), format="json")
    assert response.status_code == 201, response.content
    answer = _strict(response)
    assert answer["surface"]["version"] == 2 and answer["surface"]["parent_id"] == parent
    assert answer["surface"]["source"] == "manual" and answer["surface"]["author"] == "reader1"
    after = answer["margin"]
    assert after["status"] == "positive"
    assert after["closest_margin_mm"] == pytest.approx(before["closest_margin_mm"] - 1.0, abs=0.1)
    assert after["interval_mm"][1] < 1.0
    assert after["specimen_surface"]["version"] == 2
    assert {"code": "specimen_corrected"}.items() <= after["qc"][0].items()

    # The case shows the newest result; the network's result stays stored, linked to version 1.
    shown = _strict(client.get(f"/api/cases/{case.code}/"))
    assert shown["margin"]["status"] == "positive" and shown["margin"]["specimen_surface"]["version"] == 2
    assert shown["specimen_surface"]["latest"]["version"] == 2
    assert MarginResult.objects.filter(segmentation__case=case).count() == 2
    reanalysis = Segmentation.objects.get(case=case, inference_run__isnull=True)
    assert reanalysis.parent.inference_run is not None and reanalysis.source == "model"
    event = AuditEvent.objects.get(action="margin.reanalyse")
    assert event.detail["previous_status"] == "indeterminate" and event.detail["status"] == "positive"
    assert AuditEvent.objects.filter(action="specimen_surface.correct").count() == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda body, case: body.update(shape=[2, 2, 2]), "shape"),
        (lambda body, case: body.update(encoding="png"), "encoding"),
        (lambda body, case: body.update(data="!!not base64!!"), "base64"),
        (lambda body, case: body.update(data=encode_rle(np.ones(10, np.uint8))), "run lengths"),
        (lambda body, case: body.update(data=encode_rle(np.zeros(SHAPE, np.uint8))), "empty"),
        (lambda body, case: body.pop("parent_id"), "parent_id"),
        (lambda body, case: body.update(parent_id=999999), "no specimen surface"),
    ],
)
def test_bad_corrections_are_refused_clearly_and_store_nothing(client_for, change, message):
    case = make_case_with_result()
    parent = SpecimenSurface.objects.get(case=case).pk
    body = _body(specimen_block(), parent)
    change(body, case)
    response = client_for("study_admin").post(f"/api/cases/{case.code}/specimen-surfaces/", body, format="json")
    assert response.status_code in (400, 404), response.content
    assert message in json.dumps(_strict(response))
    assert SpecimenSurface.objects.filter(case=case).count() == 1
    assert MarginResult.objects.filter(segmentation__case=case).count() == 1


def test_a_stale_parent_is_refused(client_for, no_network):
    case = make_case_with_result()
    admin = client_for("study_admin")
    first = SpecimenSurface.objects.get(case=case).pk
    corrected = specimen_block()
    corrected[:, :, FACE_I] = 0
    assert admin.post(f"/api/cases/{case.code}/specimen-surfaces/", _body(corrected, first),
                      format="json").status_code == 201
    response = admin.post(f"/api/cases/{case.code}/specimen-surfaces/", _body(specimen_block(), first), format="json")
    assert response.status_code == 400 and _strict(response)["code"] == "stale_parent"
    assert SpecimenSurface.objects.filter(case=case).count() == 2


def test_a_case_without_a_model_result_cannot_be_reanalysed(client_for):
    case = make_case_with_result(with_result=False)
    parent = SpecimenSurface.objects.get(case=case).pk
    response = client_for("study_admin").post(f"/api/cases/{case.code}/specimen-surfaces/",
                                              _body(specimen_block(), parent), format="json")
    assert response.status_code == 400 and _strict(response)["code"] == "no_model_result"
    assert SpecimenSurface.objects.filter(case=case).count() == 1


def test_pathologists_may_not_see_or_correct_the_surface(client_for):
    case = make_case_with_result()
    pathologist = client_for("pathologist")
    assert pathologist.get(f"/api/cases/{case.code}/specimen-surfaces/").status_code == 403
    parent = SpecimenSurface.objects.get(case=case).pk
    assert pathologist.post(f"/api/cases/{case.code}/specimen-surfaces/", _body(specimen_block(), parent),
                            format="json").status_code == 403
    assert pathologist.get(f"/api/cases/{case.code}/").json()["specimen_surface"] is None


def test_the_case_page_shows_the_margin_summary(client_for):
    case = make_case_with_result()
    page = client_for("study_admin").get(f"/cases/{case.code}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="page-margin-status">Indeterminate' in html
    assert "(ensemble and folds 0." in html and "folds disagree" in html
    assert 'data-testid="page-margin-foci">1<' in html
    assert 'data-testid="page-margin-pet-mode">uptake_ratio' in html
