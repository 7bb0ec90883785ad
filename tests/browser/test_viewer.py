"""A reader's full read in the browser: open, scroll, window/level, paint with every tool,
undo/redo, save, reload (mask identical), and submit a margin call."""

from __future__ import annotations

import io
import zlib

import numpy as np
import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command

from cases.models import Case
from cases.volume_store import load_array
from inference.models import Segmentation
from inference.registry import model_version_register, predictor_cache_clear
from inference.services import inference_run_request
from inference.tasks import run_inference
from petctweb.roles import READER
from tests.browser.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def reader(django_user_model):
    user = django_user_model.objects.create_user(username="dr_reader", password="reader-pass-1")
    user.groups.add(Group.objects.get_or_create(name=READER)[0])
    return user


@pytest.fixture
def case_with_model(one_case_dir, tiny_bundle, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PETCTWEB_MODEL_ROOT = tmp_path / "media" / "models"
    settings.PETCTWEB_AUTO_INFERENCE = False
    call_command("import_dicom", str(one_case_dir), stdout=io.StringIO())
    case = Case.objects.get()
    predictor_cache_clear()
    model = model_version_register(source_dir=tiny_bundle, name="tiny", version="browser", make_default=True)
    run_inference.apply(args=[inference_run_request(case=case, model_version=model).pk])
    return case


def state(page) -> dict:
    return page.evaluate("window.petctViewer.state")


def voxels(page) -> int:
    return page.evaluate("window.petctViewer.getMaskVoxelCount()")


def centre_of(page, case, dk=0, dj=0, di=0):
    z, y, x = case.grid.shape
    k = state(page)["slices"]["axial"]
    return page.evaluate(f"window.petctViewer.voxelToClient('axial', [{k}, {y // 2 + dj}, {x // 2 + di}])")


def test_reader_full_read(page, live_server, reader, case_with_model, shot):
    case = case_with_model
    login(page, live_server, "dr_reader", "reader-pass-1")
    page.get_by_test_id("case-link").first.click()
    page.wait_for_url(f"**/cases/{case.code}/")
    timings = page.evaluate("window.petctViewer.ready")
    assert timings["firstImageMs"] > 0
    shot(page, "01-opened")

    # Scroll with the wheel over the axial view.
    before = state(page)["slices"]["axial"]
    page.get_by_test_id("canvas-axial").hover()
    page.mouse.wheel(0, 300)
    page.wait_for_timeout(200)
    assert state(page)["slices"]["axial"] != before

    # Window/level typed in.
    page.get_by_test_id("wl-window").fill("800")
    page.get_by_test_id("wl-window").press("Enter")
    page.get_by_test_id("wl-level").fill("-20")
    page.get_by_test_id("wl-level").press("Enter")
    assert state(page)["window"] == 800 and state(page)["level"] == -20

    # Move to the middle slice so every tool paints on tissue.
    middle = case.grid.shape[0] // 2
    page.get_by_test_id("slider-axial").fill(str(middle))
    page.wait_for_timeout(100)

    # Brush.
    page.get_by_test_id("tool-brush").click()
    page.get_by_test_id("brush-radius").fill("1.5")
    page.get_by_test_id("brush-radius").press("Enter")
    start = centre_of(page, case)
    page.mouse.move(start["x"], start["y"])
    page.mouse.down()
    page.mouse.move(start["x"] + 30, start["y"] + 10, steps=5)
    page.mouse.up()
    painted = voxels(page)
    assert painted > 0

    # Eraser removes part of it.
    page.get_by_test_id("tool-eraser").click()
    page.mouse.click(start["x"], start["y"])
    erased = voxels(page)
    assert 0 < erased < painted

    # PET threshold brush paints only voxels at or above the threshold.
    page.get_by_test_id("tool-petbrush").click()
    page.get_by_test_id("pet-threshold").fill("0")
    page.get_by_test_id("pet-threshold").press("Enter")
    other = centre_of(page, case, dj=-15)
    page.mouse.click(other["x"], other["y"])
    after_pet = voxels(page)
    assert after_pet > erased

    # Polygon fill.
    page.get_by_test_id("tool-polygon").click()
    corner = centre_of(page, case, dj=10, di=-20)
    for dx, dy in ((0, 0), (40, 0), (40, 30), (0, 30)):
        page.mouse.click(corner["x"] + dx, corner["y"] + dy)
    page.keyboard.press("Enter")
    after_polygon = voxels(page)
    assert after_polygon > after_pet
    shot(page, "02-painted")

    # Undo and redo.
    page.get_by_test_id("undo").click()
    assert voxels(page) == after_pet
    page.get_by_test_id("redo").click()
    assert voxels(page) == after_polygon

    # Save, then reload: the mask must be exactly what was painted.
    checksum = page.evaluate("window.petctViewer.getMaskChecksum()")
    page.get_by_test_id("save-mask").click()
    page.wait_for_function("() => !window.petctViewer.state.dirty")  # a function: CSP forbids eval of strings
    saved = Segmentation.objects.filter(case=case, author=reader, is_draft=False).latest("version")
    stored = load_array(name=saved.mask_file.name, dtype="uint8", shape=case.grid.shape)
    assert zlib.crc32(stored.astype(np.uint8).tobytes()) == checksum
    assert int(stored.sum()) == after_polygon

    page.reload()
    page.evaluate("window.petctViewer.ready")
    assert page.evaluate("window.petctViewer.getMaskChecksum()") == checksum
    shot(page, "03-reloaded")

    # Margin call: positive, confidence 4, submitted once; the mask version is attached.
    page.get_by_test_id("call-positive").check()
    page.get_by_test_id("confidence-4").check()
    page.get_by_test_id("submit-call").click()
    page.wait_for_selector('[data-testid="call-form"][data-state="submitted"]')
    from studies.models import Read

    read = Read.objects.get(case=case, reader=reader)
    assert (read.status, read.confidence) == ("positive", 4)
    assert read.segmentation_id == saved.pk
    assert read.time_spent_s > 0
    shot(page, "04-called")
