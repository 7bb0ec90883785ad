"""Fixtures shared by all tests: users per role, API clients, isolated storage, generated phantoms."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# The public Van Dyke MRMC reference data ship with the tests, so they never skip.
VANDYKE = REPO / "tests" / "data" / "mrmc-vandyke" / "vandyke.imrmc"


@pytest.fixture(scope="session")
def vandyke_path() -> Path:
    return VANDYKE


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory) -> Path:
    """Two small generated specimens (DICOM + truth), made once per test session."""
    from cases.phantoms.generator import generate_phantoms

    out = tmp_path_factory.mktemp("phantoms")
    generate_phantoms(out_dir=out, n=2, seed=11, size="small")
    return out


@pytest.fixture
def one_case_dir(phantom_dir, tmp_path) -> Path:
    """A copy of one generated case folder (ct/, pet/, truth/) that a test may modify."""
    target = tmp_path / "case"
    shutil.copytree(phantom_dir / "case_0000", target)
    return target


@pytest.fixture(scope="session")
def tiny_bundle(phantom_dir, tmp_path_factory) -> Path:
    """A tiny 2-fold ensemble trained here for one epoch on the session's phantoms.

    Its outputs are only used to test mechanics (states, storage, exports), never as results.
    """
    from inference.engine.config import ModelConfig, NetworkConfig, PreprocessConfig
    from training.loop.ensemble import train_ensemble
    from training.loop.sources import cases_from_phantoms

    config = ModelConfig(network=NetworkConfig(channels=(4, 8), strides=(2,), num_res_units=1))
    cases = cases_from_phantoms(path=phantom_dir, config=PreprocessConfig())
    out = tmp_path_factory.mktemp("tiny-bundle")
    train_ensemble(cases=cases, config=config, folds=2, epochs=1, batch_size=8, lr=1e-3, seed=0, device="cpu",
                   test_cases=None, out_dir=out, slice_size=64, max_tumour_slices_per_case=4, augment=False,
                   name="tiny", version="test", show_progress=False)
    return out


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path):
    """Each test stores volumes and models in its own folder; inference waits to be asked for."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PETCTWEB_MODEL_ROOT = tmp_path / "media" / "models"
    settings.PETCTWEB_AUTO_INFERENCE = False
    settings.PETCTWEB_THROTTLE_RATES = {"anon": None, "user": None}  # tests/security sets its own


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle counters and lockout state live in the cache; every test starts from zero."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def report_worker_inline(monkeypatch):
    """A worker that computes a requested study report at once: the dashboard API answers with it at once.

    tests/studies_results/test_stored_report.py undoes this to test the queue itself.
    """
    from studies.results import stored

    def compute_now(*, study, model_label: str = "") -> bool:
        stored.study_report_compute(study_id=study.pk, model_label=model_label)
        return True

    monkeypatch.setattr(stored, "study_report_request", compute_now)


def make_user(django_user_model, username: str, *roles: str, superuser: bool = False):
    from django.contrib.auth.models import Group

    user = django_user_model.objects.create_user(username=username, password="pw-" + username)
    if superuser:
        user.is_superuser = user.is_staff = True
        user.save()
    for role in roles:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


@pytest.fixture
def users(db, django_user_model, settings):
    from petctweb.roles import PATHOLOGIST, READER, STUDY_ADMIN

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast, tests only
    return {
        "superuser": make_user(django_user_model, "root", superuser=True),
        "study_admin": make_user(django_user_model, "admin1", STUDY_ADMIN),
        "reader": make_user(django_user_model, "reader1", READER),
        "reader2": make_user(django_user_model, "reader2", READER),
        "reader3": make_user(django_user_model, "reader3", READER),
        "pathologist": make_user(django_user_model, "path1", PATHOLOGIST),
        "no_role": make_user(django_user_model, "nobody"),
    }


@pytest.fixture
def client_for(users):
    """An API client logged in as the user of a role (None: anonymous)."""
    from rest_framework.test import APIClient

    def make(role: str | None) -> APIClient:
        client = APIClient()
        if role is not None:
            client.force_login(users[role])
        return client

    return make


# --- Playwright driving Debian's Chromium (browser tests) ------------------------------------

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "test-results" / "screenshots"

# Playwright's sync API runs an event loop; Django must allow ORM calls from this thread.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's chromium is not installed at {CHROMIUM} (scripts/test.sh installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    yield page
    context.close()


@pytest.fixture
def shot():
    SHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        return path

    return take
