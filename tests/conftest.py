"""Fixtures shared by the app-level tests: users per role, clients, storage, generated phantoms."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


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
