"""A result stored before the interval included the ensemble's distance (a demo case read 3.58 mm with
folds 2.51-3.55 mm) is shown with an interval that holds the distance: API, case list, exports and SR."""

from __future__ import annotations

import csv
import io
import json

import pytest

from inference.models import MarginResult, Segmentation
from inference.pacs.documents import margin_report_input

from .specimen_world import make_case_with_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_before(users):
    case = make_case_with_result()
    MarginResult.objects.filter(segmentation__case=case).update(
        status="negative", closest_margin_mm=3.58, interval_low_mm=2.51, interval_high_mm=3.55,
        detail={"folds": [{"fold": 0, "closest_mm": 2.51, "status": "negative"},
                          {"fold": 1, "closest_mm": 3.55, "status": "negative"}], "interval_mm": [2.51, 3.55]})
    return case


def test_every_view_of_an_old_result_shows_an_interval_holding_its_distance(stored_before, client_for):
    case = stored_before
    admin = client_for("study_admin")
    detail = json.loads(admin.get(f"/api/cases/{case.code}/").content)
    assert detail["margin"]["closest_margin_mm"] == 3.58 and detail["margin"]["interval_mm"] == [2.51, 3.58]
    exported = json.loads(admin.get(f"/api/cases/{case.code}/results/json/").content)["margin"]
    assert exported["interval_mm"] == [2.51, 3.58]
    overall = next(csv.DictReader(io.StringIO(admin.get(f"/api/cases/{case.code}/results/csv/").content.decode())))
    assert (overall["interval_low_mm"], overall["interval_high_mm"]) == ("2.51", "3.58")
    segmentation = Segmentation.objects.get(case=case, source="model")
    assert list(margin_report_input(segmentation).interval_mm) == [2.51, 3.58]


def test_an_interval_that_already_holds_the_distance_is_unchanged(stored_before):
    margin = MarginResult.objects.get(segmentation__case=stored_before)
    margin.closest_margin_mm = 3.0
    assert margin.interval_mm == [2.51, 3.55]
    margin.closest_margin_mm = None
    assert margin.interval_mm == [2.51, 3.55]
