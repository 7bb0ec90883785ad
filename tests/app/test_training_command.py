"""train_ensemble: bad input is refused before training; a short run registers a model."""

from __future__ import annotations

import io
import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from inference.models import ModelVersion

pytestmark = pytest.mark.django_db


def test_too_few_patients_for_the_folds(phantom_dir, tmp_path):
    with pytest.raises(CommandError, match="(?i)patients"):
        call_command("train_ensemble", "--data", str(phantom_dir), "--folds", "5", "--out", str(tmp_path / "o"))
    assert not ModelVersion.objects.exists()


def test_unreadable_files_are_named(phantom_dir, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(phantom_dir, data)
    bad = data / "case_0001" / "ct" / "broken.dcm"
    bad.write_bytes(b"DICM but not really")
    with pytest.raises(CommandError, match="broken.dcm"):
        call_command("train_ensemble", "--data", str(data), "--folds", "2", "--out", str(tmp_path / "o"))


def test_missing_data_folder(tmp_path):
    with pytest.raises(CommandError, match="--data"):
        call_command("train_ensemble", "--data", str(tmp_path / "nope"))
    with pytest.raises(CommandError, match="NAME:VERSION"):
        call_command("train_ensemble", "--data", str(tmp_path), "--register", "noversion")


@pytest.mark.slow
def test_short_training_registers_a_model(phantom_dir, tmp_path):
    out = io.StringIO()
    call_command("train_ensemble", "--data", str(phantom_dir), "--folds", "2", "--epochs", "1", "--batch-size", "8",
                 "--device", "cpu", "--out", str(tmp_path / "run"), "--register", "short:1", "--min-focus-volume-mm3", "3",
                 stdout=out)
    text = out.getvalue()
    summary = json.loads(text[: text.rindex("}") + 1])
    assert 0.0 <= summary["cv_dice_mean"] <= 1.0
    model = ModelVersion.objects.get(name="short", version="1")
    assert model.folds.count() == 2
    assert (tmp_path / "run" / "report.json").is_file() and (tmp_path / "run" / "report.png").is_file()
    manifest = json.loads((tmp_path / "run" / "model.json").read_text())
    assert manifest["config"]["min_focus_volume_mm3"] == 3.0  # the option reached the saved configuration
