"""Fixtures shared by the app-level tests: users per role, clients, storage, generated phantoms."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# shared/ sits beside the repository clone (../shared); some checkouts carry it inside.
_CANDIDATES = [REPO / ".." / "shared", REPO / "shared"]
VANDYKE_RELATIVE = Path("reference") / "mrmc-vandyke" / "vandyke.imrmc"


@pytest.fixture(scope="session")
def vandyke_path() -> Path:
    for base in _CANDIDATES:
        path = (base / VANDYKE_RELATIVE).resolve()
        if path.is_file():
            return path
    tried = ", ".join(str(b / VANDYKE_RELATIVE) for b in _CANDIDATES)
    pytest.skip(f"Van Dyke reference data not found (looked for {tried}); shared/ is not beside the repo")



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
