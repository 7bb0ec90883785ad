"""Reading as physicians expect (issue 14): OHIF / Slicer mouse bindings, layouts with a MIP view and
maximise, cine, on-image readout, SUV colour bar, ellipse ROI; the reading flow fitting 1024x768 to
1920x1080 without page scrolling; a specimen orientation renaming faces in the viewer and on the case
page; and the specimen surface edited and saved from the viewer, with the margin panel refreshed."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from cases.models import SpecimenOrientation, SpecimenSurface
from petctweb.roles import READER, STUDY_ADMIN
from tests.app.specimen_world import make_case_with_result
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _user(django_user_model, name: str, role: str):
    user = django_user_model.objects.create_user(username=name, password=f"{name}-pass-1")
    user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def _open(page, live_server, name: str, case) -> list[str]:
    """Log in, open the case and wait for the viewer; returns the list console errors are collected in."""
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    login(page, live_server, name, f"{name}-pass-1")
    page.goto(f"{live_server.url}/cases/{case.code}/")
    page.evaluate("window.petctViewer.ready")
    return errors


def _state(page) -> dict:
    return page.evaluate("window.petctViewer.state")


def _centre(page, view="axial", kji=(20, 20, 20)) -> dict:
    return page.evaluate(f"window.petctViewer.voxelToClient('{view}', {list(kji)})")


def test_ohif_bindings_layouts_cine_readout_colour_bar_and_roi(page, live_server, django_user_model, shot):
    _user(django_user_model, "dr_bind", READER)
    case = make_case_with_result()
    errors = _open(page, live_server, "dr_bind", case)
    assert _state(page)["tool"] == "wl"
    p = _centre(page)

    # Left drag = window/level, not the crosshair.
    before = _state(page)
    page.mouse.move(p["x"], p["y"])
    page.mouse.down()
    page.mouse.move(p["x"] + 40, p["y"] + 25, steps=4)
    page.mouse.up()
    after = _state(page)
    assert (after["window"], after["level"]) != (before["window"], before["level"])
    assert after["cursor"] == before["cursor"]

    # Right drag = zoom, middle drag = pan, wheel = slice.
    page.mouse.move(p["x"], p["y"])
    page.mouse.down(button="right")
    page.mouse.move(p["x"], p["y"] - 60, steps=4)
    page.mouse.up(button="right")
    assert _state(page)["zoom"]["axial"] > 1.2
    page.mouse.down(button="middle")
    page.mouse.move(p["x"] + 30, p["y"], steps=3)
    page.mouse.up(button="middle")
    assert _state(page)["pan"]["axial"][0] > 10
    slice_before = _state(page)["slices"]["axial"]
    page.mouse.wheel(0, 120)
    page.wait_for_timeout(100)
    assert _state(page)["slices"]["axial"] != slice_before

    # Shift+click sets the crosshair.
    page.get_by_test_id("reset-views").click()
    q = _centre(page, kji=(_state(page)["slices"]["axial"], 10, 30))
    page.keyboard.down("Shift")
    page.mouse.click(q["x"], q["y"])
    page.keyboard.up("Shift")
    assert _state(page)["cursor"][1:] == [10, 30]

    # On-image readout under the pointer (CT HU; this case has no SUV, so Bq/ml).
    page.mouse.move(q["x"], q["y"])
    assert "HU" in page.get_by_test_id("readout-axial").inner_text()
    assert "Bq/ml" in page.get_by_test_id("readout-axial").inner_text()

    # The colour bar carries value ticks with their units.
    ticks = page.get_by_test_id("pet-colorbar-ticks").inner_text()
    assert "Bq/ml" in ticks and len(ticks.split()) >= 5

    # Help lists the bindings.
    help_text = page.get_by_test_id("help-panel").text_content()
    assert "Right drag" in help_text and "Middle drag" in help_text and "Shift + click" in help_text

    # Layouts: 2x2 shows the MIP; double-click maximises a view and restores it.
    page.get_by_test_id("layout-2x2").click()
    assert page.get_by_test_id("view-mip").is_visible()
    box = page.get_by_test_id("canvas-mip").bounding_box()
    assert box["width"] > 150 and box["height"] > 100
    page.get_by_test_id("layout-1x3").click()
    assert not page.get_by_test_id("view-mip").is_visible()
    page.get_by_test_id("canvas-coronal").dblclick()
    assert _state(page)["layout"]["maximised"] == "coronal"
    assert not page.get_by_test_id("view-axial").is_visible()
    page.get_by_test_id("canvas-coronal").dblclick()
    assert _state(page)["layout"]["maximised"] == ""
    assert page.get_by_test_id("view-axial").is_visible()
    page.get_by_test_id("layout-main").click()

    # Cine plays through the active view's slices and pauses.
    page.get_by_test_id("canvas-axial").click(modifiers=["Shift"])
    start = _state(page)["slices"]["axial"]
    page.get_by_test_id("cine-fps").fill("20")
    page.get_by_test_id("cine-fps").press("Enter")
    page.get_by_test_id("cine-toggle").click()
    page.wait_for_function(f"() => window.petctViewer.state.slices.axial !== {start}")
    page.get_by_test_id("cine-toggle").click()
    assert _state(page)["cinePlaying"] is False

    # Ellipse ROI over the tumour gives max, mean, peak and area.
    page.get_by_test_id("tool-roi").click()
    page.get_by_test_id("slider-axial").fill("20")
    a = _centre(page, kji=(20, 16, 16))
    b = _centre(page, kji=(20, 24, 24))
    page.mouse.move(a["x"], a["y"])
    page.mouse.down()
    page.mouse.move(b["x"], b["y"], steps=4)
    page.mouse.up()
    rois = _state(page)["rois"]
    assert len(rois) == 1
    roi = rois[0]
    assert roi["max"] >= roi["peak"] > 0 and roi["max"] >= roi["mean"] > 0 and roi["areaMm2"] > 5
    assert "peak" in page.get_by_test_id("roi-1").inner_text()
    shot(page, "reading-tools")
    assert errors == []


@pytest.mark.parametrize("width,height", [(1024, 768), (1366, 768), (1920, 1080)])
def test_reading_flow_fits_the_screen(browser, live_server, django_user_model, width, height, shot):
    _user(django_user_model, f"dr_fit{width}", READER)
    case = make_case_with_result()
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        errors = _open(page, live_server, f"dr_fit{width}", case)
        page.wait_for_timeout(300)
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        submit = page.get_by_test_id("submit-call")
        assert submit.is_visible()
        box = submit.bounding_box()
        assert 0 <= box["y"] and box["y"] + box["height"] <= height and box["x"] + box["width"] <= width
        for view in ("axial", "coronal", "sagittal"):
            canvas = page.get_by_test_id(f"canvas-{view}").bounding_box()
            assert canvas["width"] >= 180 and canvas["height"] >= 140, (view, canvas)
            assert canvas["y"] + canvas["height"] <= height
        # The tools drawer opens where the side panel does not fit.
        if width < 1500:
            assert not page.get_by_test_id("tool-brush").is_visible()
            page.get_by_test_id("drawer-toggle").click()
        assert page.get_by_test_id("tool-brush").is_visible()
        assert page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")
        # The case page's result card does not repeat the viewer's margin panel beside it.
        assert page.locator("#result-panel").evaluate("el => el.tagName === 'DETAILS' && !el.open")
        shot(page, f"fit-{width}x{height}")
        assert errors == []
    finally:
        context.close()


def test_orientation_renames_faces_in_viewer_and_case_page(page, live_server, django_user_model, shot):
    _user(django_user_model, "admin_orient", STUDY_ADMIN)
    case = make_case_with_result()
    errors = _open(page, live_server, "admin_orient", case)
    page.get_by_test_id("tab-margin").click()
    assert page.get_by_test_id("margin-face--x").inner_text() == "-x"
    page.locator("#result-panel summary").click()
    assert page.get_by_test_id("page-face--x").inner_text() == "Face -x"

    page.get_by_test_id("orientation-panel").locator("summary").click()
    page.get_by_test_id("orientation-superior").select_option("+z")
    page.get_by_test_id("orientation-lateral").select_option("-x")
    page.get_by_test_id("orientation-save").click()
    page.wait_for_function("() => document.querySelector('[data-testid=\"margin-face--x\"]').textContent.includes('Lateral')")
    assert page.get_by_test_id("margin-face--x").inner_text() == "Lateral (-x)"
    assert page.get_by_test_id("page-face--x").inner_text() == "Face lateral (-x)"
    assert SpecimenOrientation.objects.get(case=case).mapping["-x"] == "lateral"

    # A new version by suture convention; after a reload the names come from the server.
    page.get_by_test_id("orientation-convention").select_option("short-superior-long-lateral")
    page.get_by_test_id("orientation-short-suture").select_option("-z")
    page.get_by_test_id("orientation-long-suture").select_option("+x")
    page.get_by_test_id("orientation-save").click()
    page.wait_for_function("() => document.querySelector('[data-testid=\"margin-face--x\"]').textContent.includes('Medial')")
    page.reload()
    page.evaluate("window.petctViewer.ready")
    page.get_by_test_id("tab-margin").click()
    assert page.get_by_test_id("margin-face--x").inner_text() == "Medial (-x)"
    assert page.get_by_test_id("margin-face-+z").inner_text() == "Inferior (+z)"
    page.locator("#result-panel summary").click()
    assert page.get_by_test_id("page-face--x").inner_text() == "Face medial (-x)"
    assert "Version 2" in page.get_by_test_id("orientation-current").text_content()
    shot(page, "orientation")
    assert errors == []


def test_specimen_surface_is_edited_and_saved_from_the_viewer(page, live_server, django_user_model, shot):
    _user(django_user_model, "admin_surface", STUDY_ADMIN)
    case = make_case_with_result()
    errors = _open(page, live_server, "admin_surface", case)
    assert page.get_by_test_id("surface-state").get_attribute("data-version") == "1"
    page.get_by_test_id("edit-target-specimen").click()
    assert _state(page)["editTarget"] == "specimen"
    mask_before = page.evaluate("window.petctViewer.getMaskVoxelCount()")

    # Paint tissue onto the -x face next to the tumour, on the tumour's slice.
    page.get_by_test_id("tool-brush").click()
    page.get_by_test_id("brush-radius").fill("2")
    page.get_by_test_id("brush-radius").press("Enter")
    page.get_by_test_id("slider-axial").fill("20")
    p = _centre(page, kji=(20, 20, 10))
    page.mouse.move(p["x"], p["y"])
    page.mouse.down()
    page.mouse.move(p["x"], p["y"] + 20, steps=4)
    page.mouse.up()
    assert _state(page)["specimenRevision"] == 1
    assert page.evaluate("window.petctViewer.getMaskVoxelCount()") == mask_before, "my mask is not the target"
    assert page.get_by_test_id("surface-state").get_attribute("data-dirty") == "true"

    page.get_by_test_id("save-surface").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=\"surface-state\"]').dataset.version === '2'")
    latest = SpecimenSurface.objects.filter(case=case).order_by("-version").first()
    assert (latest.version, latest.source, latest.parent.version) == (2, "manual", 1)
    page.get_by_test_id("tab-margin").click()
    assert "version 2 (corrected)" in page.get_by_test_id("margin-fact-specimen-surface").inner_text()
    assert page.get_by_test_id("surface-state").get_attribute("data-dirty") == "false"
    shot(page, "surface-saved")
    assert errors == []
