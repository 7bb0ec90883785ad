"""A pathologist's sign-off in the browser: the worklist flags unsigned truth, "Save and sign off" is one
step, the administrator's list of cases lacking truth empties, and no page logs a console error."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from petctweb.roles import PATHOLOGIST, STUDY_ADMIN
from studies.models import GroundTruth
from studies.services import study_create
from tests.browser.conftest import login
from tests.studies_app.conftest import make_case

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _user(django_user_model, name: str, role: str):
    user = django_user_model.objects.create_user(username=name, password=f"{name}-pass-1")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def test_pathologist_signs_off_in_one_step(page, live_server, django_user_model, settings, tmp_path, shot):
    settings.MEDIA_ROOT = tmp_path / "media"
    admin = _user(django_user_model, "dr_admin", STUDY_ADMIN)
    _user(django_user_model, "dr_path", PATHOLOGIST)
    _user(django_user_model, "dr_reader", "reader")
    cases = [make_case(), make_case()]
    study = study_create(user=admin, name="Sign-off walk", design="unaided",
                         case_codes=[c.code for c in cases], reader_usernames=["dr_reader"])
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"{page.url}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"{page.url}: {e}"))

    login(page, live_server, "dr_path", "dr_path-pass-1")
    page.goto(f"{live_server.url}/studies/ground-truth/")
    assert page.get_by_test_id("gt-counts").inner_text().startswith("0 signed off")
    page.get_by_test_id("gt-case-link").first.click()
    code = cases[0].code
    page.wait_for_url(f"**/studies/ground-truth/{code}/")
    assert "final ground truth" in page.get_by_test_id("gt-sign-off-explain").inner_text()

    # A draft first: the page says plainly that it does not count.
    page.get_by_test_id("gt-margin-status").select_option("close")
    page.get_by_test_id("gt-distance").fill("0.4")
    page.get_by_test_id("gt-save").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("gt-unsigned-banner").is_visible()
    assert page.get_by_test_id("gt-state").inner_text() == "not signed off"
    page.goto(f"{live_server.url}/studies/ground-truth/")
    assert page.get_by_test_id("gt-unsigned-banner").is_visible()
    shot(page, "pathologist-worklist-unsigned")

    # The viewer opens without a missing-draft error.
    page.goto(f"{live_server.url}/cases/{code}/")
    page.wait_for_load_state("networkidle")

    # One step: save and sign off.
    page.goto(f"{live_server.url}/studies/ground-truth/{code}/")
    page.get_by_test_id("gt-distance").fill("0.5")
    page.get_by_test_id("gt-save-sign-off").click()
    page.wait_for_load_state()
    assert page.get_by_test_id("gt-state").inner_text() == "signed off"
    assert page.get_by_test_id("gt-unsigned-banner").count() == 0
    shot(page, "pathologist-signed-off")
    gt = GroundTruth.objects.get(case=cases[0])
    assert gt.signed_off and gt.closest_distance_mm == 0.5 and gt.version == 1

    # The administrator sees the one case still lacking truth, with a link to it, on both pages.
    page.context.clear_cookies()
    login(page, live_server, "dr_admin", "dr_admin-pass-1")
    page.goto(f"{live_server.url}/studies/{study.pk}/")
    links = page.get_by_test_id("lacking-truth-case")
    assert links.count() == 1 and links.first.inner_text() == cases[1].code
    page.goto(f"{live_server.url}/studies/{study.pk}/results/")
    page.get_by_test_id("missing-truth-link").first.wait_for()
    assert page.get_by_test_id("missing-truth-link").all_inner_texts() == [cases[1].code]
    with page.expect_download() as svg:
        page.get_by_test_id("download-svg-roc-chart-unaided").click()
    assert svg.value.suggested_filename == f"study-{study.pk}-roc-unaided.svg"
    with page.expect_download() as png:
        page.get_by_test_id("download-png-forest-plot").click()
    assert png.value.suggested_filename == f"study-{study.pk}-forest.png"
    assert open(png.value.path(), "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    shot(page, "admin-dashboard-lacking-truth")
    assert not problems, "console errors:\n" + "\n".join(problems)
