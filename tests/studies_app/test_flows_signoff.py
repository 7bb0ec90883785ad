"""The pathologist's sign-off flow through the pages: one clear step, unsigned truth visible everywhere."""

from __future__ import annotations

import pytest

from studies.models import GroundTruth
from studies.services import study_create

pytestmark = pytest.mark.django_db


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _study(users, cases):
    return study_create(user=users["study_admin"], name="Sign-off", design="unaided",
                        case_codes=[c.code for c in cases], reader_usernames=["reader1"])


def test_save_and_sign_off_is_the_primary_action_and_explains_itself(users, client_for, cases):
    _study(users, cases)
    pathologist = client_for("pathologist")
    url = f"/studies/ground-truth/{cases[0].code}/"
    page = _html(pathologist.get(url))
    assert 'value="save_sign_off"' in page and "Save and sign off" in page
    assert 'data-testid="gt-sign-off-explain"' in page and "final ground truth" in page
    assert "creates a new version" in page
    assert "does not count yet" in page  # the draft button says what it does not do
    done = pathologist.post(url, {"action": "save_sign_off", "margin_status": "close", "closest_distance_mm": "0.4"})
    assert done.status_code == 302
    gt = GroundTruth.objects.get()
    assert gt.signed_off and gt.signed_off_by == users["pathologist"] and gt.version == 1
    page = _html(pathologist.get(url))
    assert "final truth used for statistics and training" in page
    assert 'data-testid="gt-unsigned-banner"' not in page
    # The study's statistics count it at once.
    report = client_for("study_admin").get(f"/api/studies/{cases[0].study_links.get().study_id}/results/").json()
    assert report["completeness"]["n_with_truth"] == 1 and cases[0].code not in report["completeness"]["missing_truth"]


def test_a_draft_is_flagged_on_the_case_the_worklist_and_for_the_administrator(users, client_for, cases):
    study = _study(users, cases)
    pathologist = client_for("pathologist")
    url = f"/studies/ground-truth/{cases[0].code}/"
    saved = pathologist.post(url, {"action": "save", "margin_status": "negative", "closest_distance_mm": "3"},
                             follow=True)
    page = _html(saved)
    assert "does not count until it is signed off" in page  # the message after saving
    assert 'data-testid="gt-unsigned-banner"' in page and 'data-testid="gt-sign-off"' in page
    assert not GroundTruth.objects.get().signed_off

    worklist = _html(pathologist.get("/studies/ground-truth/"))
    assert 'data-testid="gt-unsigned-banner"' in worklist and "1 case(s) have ground truth" in worklist
    assert worklist.count("not signed off</span>") == 1
    assert worklist.count('data-testid="gt-row-state">missing') == len(cases) - 1

    admin = client_for("study_admin")
    detail = _html(admin.get(f"/studies/{study.pk}/"))
    assert 'data-testid="lacking-truth"' in detail and f"{len(cases)} case(s) lack signed-off ground truth" in detail
    for case in cases:
        assert f'href="/studies/ground-truth/{case.code}/" data-testid="lacking-truth-case"' in detail
    assert 'data-state="draft">' in detail
    report = admin.get(f"/api/studies/{study.pk}/results/").json()
    assert set(report["completeness"]["missing_truth"]) == {c.code for c in cases}
    dashboard = _html(admin.get(f"/studies/{study.pk}/results/"))
    assert '"gtCaseUrl": "/studies/ground-truth/__code__/"' in dashboard

    # Signing off from the banner clears the flag for that case only.
    gt = GroundTruth.objects.get()
    pathologist.post(url, {"action": "sign_off", "ground_truth_id": gt.pk})
    detail = _html(admin.get(f"/studies/{study.pk}/"))
    assert f"{len(cases) - 1} case(s) lack signed-off ground truth" in detail
    assert f'href="/studies/ground-truth/{cases[0].code}/" data-testid="lacking-truth-case"' not in detail


def test_every_case_signed_off_says_so(users, client_for, cases):
    study = _study(users, cases[:1])
    client_for("pathologist").post(f"/studies/ground-truth/{cases[0].code}/",
                                   {"action": "save_sign_off", "margin_status": "negative"})
    detail = _html(client_for("study_admin").get(f"/studies/{study.pk}/"))
    assert 'data-testid="lacking-truth-none"' in detail and 'data-testid="lacking-truth"' not in detail


def test_save_and_sign_off_writes_nothing_when_refused(users, client_for, cases):
    _study(users, cases)
    pathologist = client_for("pathologist")
    url = f"/studies/ground-truth/{cases[0].code}/"
    refused = pathologist.post(url, {"action": "save_sign_off", "margin_status": "positive", "closest_distance_mm": "2"})
    assert "tumour at ink" in _html(refused) and not GroundTruth.objects.exists()
    pathologist.post(url, {"action": "save_sign_off", "margin_status": "close", "closest_distance_mm": "0.5"})
    # A correction needs a reason: refused, and version 1 stays the only (signed-off) version.
    no_reason = pathologist.post(url, {"action": "correct_sign_off", "margin_status": "negative",
                                       "closest_distance_mm": "2"})
    assert "needs a reason" in _html(no_reason)
    assert list(GroundTruth.objects.values_list("version", "margin_status")) == [(1, "close")]
    page = _html(pathologist.get(url))
    assert 'value="correct_sign_off"' in page and "Save correction and sign off" in page
    pathologist.post(url, {"action": "correct_sign_off", "margin_status": "negative", "closest_distance_mm": "2",
                           "correction_reason": "second opinion"})
    versions = list(GroundTruth.objects.order_by("version"))
    assert [(g.version, g.margin_status, g.signed_off) for g in versions] == [(1, "close", True),
                                                                             (2, "negative", True)]
    assert versions[1].supersedes_id == versions[0].pk and versions[1].correction_reason == "second opinion"


def test_a_draft_correction_says_the_signed_version_still_counts(users, client_for, cases):
    _study(users, cases)
    pathologist = client_for("pathologist")
    url = f"/studies/ground-truth/{cases[0].code}/"
    pathologist.post(url, {"action": "save_sign_off", "margin_status": "close", "closest_distance_mm": "0.5"})
    pathologist.post(url, {"action": "correct", "margin_status": "negative", "closest_distance_mm": "2",
                           "correction_reason": "recut"})
    page = _html(pathologist.get(url))
    assert "Version 2 is not signed off" in page and "Statistics still use signed-off version 1" in page
    # Finishing the draft with "Save and sign off" edits version 2 and signs it; no version 3.
    pathologist.post(url, {"action": "save_sign_off", "margin_status": "negative", "closest_distance_mm": "2.5"})
    assert list(GroundTruth.objects.order_by("version").values_list("version", "closest_distance_mm")) == [
        (1, 0.5), (2, 2.5)]
    assert GroundTruth.objects.get(version=2).signed_off


def test_only_pathologists_sign_off(users, client_for, cases):
    _study(users, cases)
    url = f"/studies/ground-truth/{cases[0].code}/"
    assert client_for("study_admin").post(url, {"action": "save_sign_off", "margin_status": "negative"}).status_code == 403
    assert client_for("reader").post(url, {"action": "save_sign_off", "margin_status": "negative"}).status_code == 403
    assert not GroundTruth.objects.exists()
