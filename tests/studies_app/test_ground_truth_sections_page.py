"""The ground-truth page's pathology-section rows (slice index + status): saved through the same service
as the API's section_status, with a clear message and nothing written when a row is wrong."""

from __future__ import annotations

import pytest

from studies.models import GroundTruth
from studies.services import study_create

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    return response.content.decode()


def _post(client, code: str, rows: list[tuple[str, str]], units: list[str] | None = None, **extra):
    body = {"action": "save_sign_off", "margin_status": "positive", "closest_distance_mm": "0", "slice_index": "1",
            "section_slice": [k for k, _ in rows], "section_status": [s for _, s in rows],
            "section_unit": units if units is not None else ["" for _ in rows], **extra}
    return client.post(f"/studies/ground-truth/{code}/", body, follow=True)


def test_section_rows_are_saved_signed_off_and_shown(cases, client_for):
    pathologist = client_for("pathologist")
    code = cases[0].code
    response = _post(pathologist, code, [("3", "close"), ("", ""), ("2", "negative")])
    page = _html(response)
    gt = GroundTruth.objects.get(case=cases[0])
    assert gt.signed_off and gt.section_status == {"2": "negative", "3": "close"}
    assert 'data-testid="gt-version-sections"' in page and "2 negative, 3 close" in page
    # The form offers the recorded sections again (sorted), then blank rows.
    assert page.split("<template")[0].count('data-testid="gt-section-row"') == 4
    assert 'name="section_slice" type="number" min="0" max="3" value="2"' in page


@pytest.mark.parametrize("rows, message", [
    ([("2", "")], "section row 1: choose positive, close or negative for slice 2"),
    ([("", "negative")], "section row 1: give the slice index of the negative section"),
    ([("two", "negative")], "the slice index &#x27;two&#x27; must be a whole number"),
    ([("2", "negative"), ("2", "close")], "section slice 2 is listed twice"),
    ([("9", "negative")], "section slice 9 is out of range: the working grid has axial slices 0 to 3"),
    ([("-1", "negative")], "section slice -1 is out of range"),
    ([("2", "unsure")], "section row 1: status must be positive, close or negative"),
])
def test_a_wrong_row_is_refused_with_its_reason_and_kept_for_correction(cases, client_for, rows, message):
    response = _post(client_for("pathologist"), cases[0].code, rows)
    page = _html(response)
    assert message in page
    assert not GroundTruth.objects.exists()
    # What was typed comes back, so the pathologist corrects rather than re-enters it.
    assert f'value="{rows[0][0]}"' in page


def test_lamella_rows_are_offered_and_may_stay_blank(cases, client_for, users):
    study_create(user=users["study_admin"], name="Lamellae", design="unaided", case_codes=[cases[0].code],
                 reader_usernames=["reader1"], reading_unit="lamella",
                 units=[{"case": cases[0].code, "slice_index": 2, "label": "L-two"}])
    pathologist = client_for("pathologist")
    page = _html(pathologist.get(f"/studies/ground-truth/{cases[0].code}/"))
    assert "L-two (Lamellae)" in page
    assert 'value="2" readonly' in page and "not recorded" in page
    # Blank status on the study's lamella: accepted, no section status recorded (the outline's slice is 1).
    _post(pathologist, cases[0].code, [("2", ""), ("", "")], units=["1", ""])
    gt = GroundTruth.objects.get(case=cases[0])
    assert gt.signed_off and gt.section_status == {}
    # Later a correction names its status.
    _post(pathologist, cases[0].code, [("2", "negative")], units=["1"], correction_reason="section 2 reviewed")
    latest = GroundTruth.objects.filter(case=cases[0]).latest("version")
    assert (latest.version, latest.section_status) == (2, {"2": "negative"})


def test_a_draft_edit_replaces_the_sections_and_readers_cannot_post(cases, client_for):
    pathologist = client_for("pathologist")
    url = f"/studies/ground-truth/{cases[0].code}/"
    pathologist.post(url, {"action": "save", "margin_status": "negative", "section_slice": ["0"],
                           "section_status": ["close"], "section_unit": [""]})
    assert GroundTruth.objects.get().section_status == {"0": "close"}
    pathologist.post(url, {"action": "save", "margin_status": "negative", "section_slice": ["1"],
                           "section_status": ["positive"], "section_unit": [""]})
    assert GroundTruth.objects.get().section_status == {"1": "positive"}
    refused = client_for("reader").post(url, {"action": "save", "margin_status": "negative",
                                              "section_slice": ["1"], "section_status": ["negative"]})
    assert refused.status_code == 403
    assert GroundTruth.objects.get().section_status == {"1": "positive"}
