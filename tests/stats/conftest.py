"""Fixtures for the statistics tests: the public Van Dyke MRMC reference data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
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
