"""The specimen surface as its own overlay in the viewer, and the margin panel's indeterminate call."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from petctweb.roles import READER
from tests.app.specimen_world import make_case_with_result
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_specimen_overlay_toggles_and_the_panel_explains_indeterminate(page, live_server, django_user_model, shot):
    user = django_user_model.objects.create_user(username="dr_specimen", password="specimen-pass-1")
    user.groups.add(Group.objects.get_or_create(name=READER)[0])
    case = make_case_with_result()
    login(page, live_server, "dr_specimen", "specimen-pass-1")
    page.goto(f"{live_server.url}/cases/{case.code}/")
    page.evaluate("window.petctViewer.ready")

    panel = page.get_by_test_id("margin-summary")
    assert panel.get_by_test_id("margin-status").inner_text() == "Indeterminate"
    assert "straddle the threshold" in page.get_by_test_id("margin-explanation").inner_text()
    assert "folds 0." in page.get_by_test_id("margin-distance").inner_text()
    assert page.get_by_test_id("margin-fact-tumour-foci").inner_text() == "1"

    toggle = page.get_by_test_id("overlay-specimen")
    assert toggle.is_visible()
    before = page.evaluate("window.petctViewer.state.overlays.specimen.visible")
    toggle.click()
    assert page.evaluate("window.petctViewer.state.overlays.specimen.visible") is (not before)
    toggle.click()
    assert page.evaluate("window.petctViewer.state.overlays.specimen.visible") is before
    shot(page, "specimen-overlay")
