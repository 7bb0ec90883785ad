"""The specimen surface is found once, at ingest, and every inference run reuses it."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.management import call_command

from cases.imaging.specimen import specimen_surface_from_ct
from cases.models import Case, CaseVolume
from cases.selectors import case_volume_array
from inference.models import MarginResult
from inference.registry import model_version_register, predictor_cache_clear
from inference.services import inference_run_request
from inference.tasks import run_inference

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(one_case_dir) -> Case:
    call_command("import_dicom", str(one_case_dir), stdout=io.StringIO())
    return Case.objects.get()


def test_ingest_stores_the_occupancy_of_the_specimen_surface(case):
    stored = case_volume_array(case=case, kind=CaseVolume.Kind.SPECIMEN_OCCUPANCY)
    assert stored.dtype == np.uint8
    ct = case_volume_array(case=case, kind="ct")
    surface = specimen_surface_from_ct(ct_hu=ct, spacing=case.grid.spacing)
    # uint8 quantisation: within half a step of the float occupancy everywhere.
    assert np.abs(stored / 255.0 - surface.occupancy).max() <= 0.5 / 255 + 1e-6
    mask = case_volume_array(case=case, kind="specimen")
    np.testing.assert_array_equal(mask, surface.mask.astype(np.uint8))
    assert case.metadata["specimen_surface_qc"] == [dict(flag) for flag in surface.qc]


def test_inference_reuses_the_stored_surface_without_recomputing_it(case, tiny_bundle, monkeypatch):
    predictor_cache_clear()
    model = model_version_register(source_dir=tiny_bundle, name="tiny", version="reuse", make_default=True)

    def refuse(*args, **kwargs):
        raise AssertionError("the specimen surface was computed again")

    monkeypatch.setattr("inference.engine.pipeline.specimen_surface_from_ct", refuse)
    run = inference_run_request(case=case, model_version=model)
    assert run_inference.apply(args=[run.pk]).get() == "done"
    result = MarginResult.objects.get(segmentation__inference_run=run)
    assert result.status in ("positive", "negative", "indeterminate", "no_tumour_detected")


def test_a_case_without_a_stored_occupancy_still_gets_its_surface_from_the_ct(case, tiny_bundle):
    CaseVolume.objects.filter(case=case, kind=CaseVolume.Kind.SPECIMEN_OCCUPANCY).delete()
    predictor_cache_clear()
    model = model_version_register(source_dir=tiny_bundle, name="tiny", version="old", make_default=True)
    run = inference_run_request(case=case, model_version=model)
    assert run_inference.apply(args=[run.pk]).get() == "done"
