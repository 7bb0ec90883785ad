"""A model run stores the new margin result (interval, folds, foci, QC, inputs, fold probabilities) and the
API, the case list and the exports carry it as strict JSON."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from django.core.management import call_command

from cases.models import Case, SpecimenSurface
from cases.volume_store import load_array
from inference.models import Segmentation
from inference.registry import model_version_register, predictor_cache_clear
from inference.services import inference_run_request
from inference.tasks import run_inference

from .specimen_world import make_case_with_result

pytestmark = pytest.mark.django_db

MARGIN_KEYS = {"status", "closest_margin_mm", "interval_mm", "folds", "threshold_mm", "faces", "closest_point",
               "n_foci", "foci", "tumour_outside_specimen_mm3", "qc", "inputs", "pet_mode", "spacing_matches",
               "specimen_surface", "model_version"}


def _strict(content: bytes):
    def refuse(constant):
        raise AssertionError(f"non-strict JSON constant {constant}")

    return json.loads(content, parse_constant=refuse)


@pytest.fixture
def stored_run(tiny_bundle, one_case_dir):
    predictor_cache_clear()
    model = model_version_register(source_dir=tiny_bundle, name="tiny", version="test", make_default=True)
    call_command("import_dicom", str(one_case_dir), stdout=io.StringIO())
    case = Case.objects.get()
    run = inference_run_request(case=case, model_version=model)
    assert run_inference.apply(args=[run.pk]).get() == "done"
    return case, Segmentation.objects.get(inference_run=run)


@pytest.mark.slow
def test_a_run_stores_fold_probabilities_and_the_confidence_fields(stored_run):
    case, segmentation = stored_run
    assert segmentation.fold_count == 2
    folds = load_array(name=segmentation.fold_probability_file.name, dtype="uint8",
                       shape=[2, *case.grid.shape])
    mean = load_array(name=segmentation.probability_file.name, dtype="float16", shape=case.grid.shape)
    # Quantised to 1/255: the folds' mean is the stored ensemble mean.
    assert np.abs(folds.astype(np.float32).mean(axis=0) / 255.0 - mean.astype(np.float32)).max() < 0.01
    margin = segmentation.margin
    assert margin.status in {"positive", "negative", "indeterminate", "no_tumour_detected"}
    assert margin.pet_mode and margin.detail["inputs"]["pet_mode"] == margin.pet_mode
    assert margin.specimen_surface == SpecimenSurface.objects.get(case=case, version=1)
    if margin.closest_margin_mm is not None:
        assert margin.interval_low_mm <= margin.interval_high_mm
        assert margin.n_foci >= 1


@pytest.mark.slow
def test_the_case_api_and_list_carry_the_margin_as_strict_json(stored_run, client_for):
    case, _ = stored_run
    admin = client_for("study_admin")
    detail = _strict(admin.get(f"/api/cases/{case.code}/").content)
    assert MARGIN_KEYS <= set(detail["margin"])
    assert isinstance(detail["margin"]["folds"], list) and len(detail["margin"]["folds"]) == 2
    assert detail["margin"]["inputs"]["spacing_matches"] in (True, False)
    assert detail["specimen_surface"]["latest"]["version"] == 1
    listing = _strict(admin.get("/api/cases/").content)
    row = next(item for item in (listing["results"] if isinstance(listing, dict) else listing)
               if item["code"] == case.code)
    assert {"margin_status", "margin_interval_mm", "n_foci"} <= set(row)


def test_margin_exports_carry_interval_folds_and_indeterminate(client_for):
    case = make_case_with_result()
    admin = client_for("study_admin")
    response = admin.get(f"/api/cases/{case.code}/results/json/")
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    exported = _strict(response.content)["margin"]
    assert exported["status"] == "indeterminate" and len(exported["folds"]) == 3
    assert exported["interval_mm"][0] < 1.0 < exported["interval_mm"][1]
    response = admin.get(f"/api/cases/{case.code}/results/csv/")
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    overall = rows[0]
    assert overall["scope"] == "overall" and overall["status"] == "indeterminate"
    assert overall["indeterminate"] == "yes" and float(overall["interval_low_mm"]) < 1.0
    assert [r["name"] for r in rows if r["scope"] == "fold"] == ["0", "1", "2"]
    assert admin.get(f"/api/cases/{case.code}/results/xml/").status_code == 404
