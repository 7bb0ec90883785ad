"""A lamella reader study end to end in the browser (issue 15, "done when"): the administrator creates it on
/studies/new/, two readers call each lamella in both arms of the crossover (washout 0), the pathologist signs
off the truth per section, the dashboard shows per-unit statistics beside the published column, and the
exports (reads CSV, JSON, iMRMC) carry the unit. No page logs a console error.

Three units on two tiny cases (4 x 6 x 8 working grid); the model's call per unit is its in-plane distance
on that slice (close counts as positive):

unit      truth                     model          reader_a (both arms)   reader_b unaided / aided
LA-k1     positive (outlined)       0.0 mm  TP     positive TP            positive TP / positive TP
LA-k2     negative (section row)    3.0 mm  TN     negative TN            close FP    / negative TN
LB-k1     negative (outlined)       2.0 mm  TN     negative TN            negative TN / negative TN
"""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.contrib.auth.models import Group

from inference.models import MarginResult
from petctweb.roles import PATHOLOGIST, READER, STUDY_ADMIN
from studies.models import GroundTruth, Read, ReadingUnit, Study
from tests.browser.conftest import login
from tests.studies_app.conftest import make_case, make_model_result

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MODEL_SLICES = {"LA": [{"k": 1, "distance_mm": 0.0}, {"k": 2, "distance_mm": 3.0}], "LB": [{"k": 1, "distance_mm": 2.0}]}
CALLS = {  # reader -> session -> unit label -> status
    "reader_a": {1: {"LA-k1": "positive", "LA-k2": "negative", "LB-k1": "negative"},
                 2: {"LA-k1": "positive", "LA-k2": "negative", "LB-k1": "negative"}},
    "reader_b": {1: {"LA-k1": "positive", "LA-k2": "close", "LB-k1": "negative"},
                 2: {"LA-k1": "positive", "LA-k2": "negative", "LB-k1": "negative"}},
}


def _user(django_user_model, name: str, role: str):
    user = django_user_model.objects.create_user(username=name, password=f"{name}-pass-1")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def _switch(page, live_server, name: str) -> None:
    page.context.clear_cookies()
    login(page, live_server, name, f"{name}-pass-1")


def _create_study(page, live_server) -> Study:
    page.goto(f"{live_server.url}/studies/new/")
    page.get_by_test_id("study-name").fill("Lamellae as published")
    page.get_by_test_id("study-design").select_option("crossover")
    page.get_by_test_id("study-washout").fill("0")
    page.get_by_test_id("study-reading-unit").select_option("lamella")
    page.get_by_test_id("study-units").fill("LA 1 LA-k1\nLA 2 LA-k2\nLB 1 LB-k1")
    for code in ("LA", "LB"):
        page.get_by_test_id(f"case-option-{code}").check()
    for reader in ("reader_a", "reader_b"):
        page.get_by_test_id(f"reader-option-{reader}").check()
    page.get_by_test_id("study-create-submit").click()
    page.wait_for_url("**/studies/*/")
    study = Study.objects.get(name="Lamellae as published")
    assert (study.reading_unit, study.allow_context, study.washout_days) == ("lamella", False, 0)
    assert sorted(ReadingUnit.objects.filter(study=study).values_list("label", flat=True)) == ["LA-k1", "LA-k2",
                                                                                                "LB-k1"]
    return study


def _read_all(page, live_server, study: Study, reader: str) -> None:
    """Call every unit of both sessions in the order the worklist gives, through the viewer."""
    units = {u.pk: u for u in ReadingUnit.objects.filter(study=study)}
    for session in (1, 2):
        for _ in units:
            page.goto(f"{live_server.url}/studies/{study.pk}/worklist/")
            page.get_by_test_id("next-case").click()
            page.wait_for_url("**/cases/**")
            page.evaluate("window.petctViewer.ready")
            unit = units[int(parse_qs(urlparse(page.url).query)["unit"][0])]
            # The lamella opens on its slice and, without context, stays there.
            assert unit.label in page.get_by_test_id("lamella-info").inner_text()
            assert page.evaluate("window.petctViewer.state.slices.axial") == unit.slice_index
            assert page.get_by_test_id("slider-axial").is_disabled()
            page.get_by_test_id(f"call-{CALLS[reader][session][unit.label]}").check()
            page.get_by_test_id("confidence-4").check()
            page.get_by_test_id("submit-call").click()
            page.wait_for_selector('[data-testid="call-form"][data-state="submitted"]')
    page.goto(f"{live_server.url}/studies/{study.pk}/worklist/")
    assert page.get_by_test_id("worklist-count").inner_text().startswith("6 of 6")


def _sign_off(page, live_server, code: str, *, status: str, distance: str, sections: dict[str, str]) -> None:
    page.goto(f"{live_server.url}/studies/ground-truth/{code}/")
    page.get_by_test_id("gt-margin-status").select_option(status)
    page.get_by_test_id("gt-distance").fill(distance)
    page.get_by_test_id("gt-slice").fill("1")
    rows = page.get_by_test_id("gt-section-row")
    for k, section_status in sections.items():
        row = rows.filter(has=page.locator(f'input[name="section_slice"][value="{k}"]'))
        row.get_by_test_id("gt-section-status").select_option(section_status)
    page.get_by_test_id("gt-save-sign-off").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("gt-state").inner_text() == "signed off"


def test_lamella_study_end_to_end(page, live_server, django_user_model, shot):
    _user(django_user_model, "dr_admin", STUDY_ADMIN)
    _user(django_user_model, "dr_path", PATHOLOGIST)
    for reader in CALLS:
        _user(django_user_model, reader, READER)
    for code, per_slice in MODEL_SLICES.items():
        seg = make_model_result(make_case(code=code))
        MarginResult.objects.filter(segmentation=seg).update(per_slice=per_slice)
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))

    _switch(page, live_server, "dr_admin")
    study = _create_study(page, live_server)
    shot(page, "lamella-study-created")

    for reader in CALLS:
        _switch(page, live_server, reader)
        _read_all(page, live_server, study, reader)
    shot(page, "lamella-worklist-done")
    assert Read.objects.filter(study=study).count() == 12

    # The pathologist: the lamellae read in the study are offered as section rows; a half-filled extra row
    # is refused with its reason (nothing saved), then the truth is signed off per section.
    _switch(page, live_server, "dr_path")
    page.goto(f"{live_server.url}/studies/ground-truth/LA/")
    assert page.get_by_test_id("gt-section-unit").all_inner_texts()[:2] == [
        "LA-k1 (Lamellae as published)", "LA-k2 (Lamellae as published)"]
    page.get_by_test_id("gt-add-section").click()
    page.get_by_test_id("gt-section-slice").last.fill("3")
    page.get_by_test_id("gt-margin-status").select_option("positive")
    page.get_by_test_id("gt-distance").fill("0")
    page.get_by_test_id("gt-save-sign-off").click()
    page.wait_for_load_state()
    assert "choose positive, close or negative for slice 3" in page.get_by_test_id("messages").inner_text()
    assert not GroundTruth.objects.exists()
    _sign_off(page, live_server, "LA", status="positive", distance="0", sections={"2": "negative"})
    assert "sections: 2 negative" in page.get_by_test_id("gt-version-sections").inner_text()
    shot(page, "lamella-ground-truth-sections")
    _sign_off(page, live_server, "LB", status="negative", distance="2", sections={})
    assert GroundTruth.objects.get(case__code="LA").section_status == {"2": "negative"}

    # The dashboard: per-unit statistics and the published column beside them.
    _switch(page, live_server, "dr_admin")
    page.goto(f"{live_server.url}/studies/{study.pk}/results/")
    page.get_by_test_id("accuracy-table").wait_for()
    assert page.get_by_test_id("completeness-summary").inner_text().startswith("3 case(s); signed-off ground "
                                                                               "truth for 3")
    assert set(page.get_by_test_id("reads-count").all_inner_texts()) == {"3 / 3"}

    def counts(rater: str, session: str) -> list[str]:
        row = page.locator(f'[data-testid="accuracy-row"][data-rater="{rater}"][data-session="{session}"]')
        return row.locator("td").all_inner_texts()[2:6]  # TP FP TN FN

    assert counts("AI model", "") == ["1", "0", "2", "0"]
    assert counts("reader_a", "unaided") == ["1", "0", "2", "0"]
    assert counts("reader_b", "unaided") == ["1", "1", "1", "0"]
    assert counts("reader_b", "aided") == ["1", "0", "2", "0"]
    assert "another data set" in page.get_by_test_id("published-note").inner_text()
    assert "per lamella unit" in page.get_by_test_id("published-table").inner_text()
    f1 = page.locator('[data-testid="published-row"][data-key="model_f1"]')
    assert f1.get_by_test_id("published-value").inner_text() == "84%"
    assert f1.get_by_test_id("published-ours").inner_text().startswith("100%")
    shot(page, "lamella-dashboard")

    # The exports carry the unit.
    def export(testid: str) -> str:
        response = page.request.get(live_server.url + page.get_by_test_id(testid).get_attribute("href"))
        assert response.ok, (testid, response.status)
        return response.text()

    reads = list(csv.DictReader(io.StringIO(export("export-reads-csv"))))
    assert len(reads) == 12
    assert {(r["unit"], r["case_code"], r["slice_index"]) for r in reads} == {
        ("LA-k1", "LA", "1"), ("LA-k2", "LA", "2"), ("LB-k1", "LB", "1")}
    fp = [r for r in reads if r["reader"] == "reader_b" and r["unit"] == "LA-k2" and r["status"] == "close"]
    assert len(fp) == 1 and fp[0]["truth_status"] == "negative"
    report = json.loads(export("export-json"))
    assert [c["unit"] for c in report["cases"]] == ["LA-k1", "LA-k2", "LB-k1"]
    imrmc = export("export-study-imrmc")
    assert "-1,LA-k1,truth,1" in imrmc and "-1,LA-k2,truth,0" in imrmc and "-1,LB-k1,truth,0" in imrmc
    assert not problems, "console errors:\n" + "\n".join(problems)
