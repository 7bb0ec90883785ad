"""seed_demo: what the run command does on a fresh install, and again on every start."""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from cases.models import Case
from inference.models import InferenceRun, ModelVersion
from inference.registry import model_version_register

pytestmark = [pytest.mark.django_db, pytest.mark.slow]


@pytest.fixture
def var_dir(settings, tmp_path):
    settings.VAR_DIR = tmp_path / "var"
    settings.PETCTWEB_AUTO_INFERENCE = False  # the worker's part is tested in test_worker
    return settings.VAR_DIR


def test_fresh_install_gets_users_the_demo_model_and_cases_once(var_dir):
    out = io.StringIO()
    call_command("seed_demo", "--cases", "1", "--size", "small", stdout=out)
    demo = ModelVersion.objects.get(is_default=True)
    assert demo.name == "demo" and demo.folds.count() == 5
    assert demo.config["min_focus_volume_mm3"] == 5.0
    assert Case.objects.count() == 1
    saved = json.loads((var_dir / "demo-credentials.json").read_text())
    assert (var_dir / "demo-credentials.json").stat().st_mode & 0o077 == 0  # owner-only
    reader = get_user_model().objects.get(username="reader1")
    assert reader.check_password(saved["reader1"]) and reader.groups.filter(name="reader").exists()
    assert saved["reader1"] in out.getvalue()

    call_command("seed_demo", "--cases", "1", "--size", "small", stdout=io.StringIO())  # every start
    assert ModelVersion.objects.count() == 1 and Case.objects.count() == 1
    assert get_user_model().objects.get(username="reader1").check_password(saved["reader1"])
    assert not InferenceRun.objects.exists()


def test_a_model_an_admin_chose_stays_the_default(var_dir, tiny_bundle):
    own = model_version_register(source_dir=tiny_bundle, name="ours", version="1", make_default=True)
    call_command("seed_demo", "--cases", "0", stdout=io.StringIO())
    assert ModelVersion.objects.get(is_default=True) == own
    assert ModelVersion.objects.filter(name="demo").exists()


def test_bad_options_are_refused(var_dir):
    with pytest.raises(CommandError, match="--cases"):
        call_command("seed_demo", "--cases", "-1")
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("seed_demo", "--size", "huge")
    assert not Case.objects.exists()
