"""The statistics package stays free of Django and documents what it offers."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import studies.stats
from studies.stats.results import Estimate, NotComputable, jsonable

REPO = Path(__file__).resolve().parents[2]
MODULES = [
    "binary",
    "imrmc",
    "kappa",
    "mcnemar",
    "mrmc",
    "proportion",
    "results",
    "roc",
    "segmentation",
    "standalone",
]


def test_modules_import_without_django() -> None:
    code = (
        "import sys\n"
        + "".join(f"import studies.stats.{m}\n" for m in MODULES)
        + "assert not any(name == 'django' or name.startswith('django.') for name in sys.modules), 'django imported'\n"
        + "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


def test_package_docstring_lists_every_module() -> None:
    doc = studies.stats.__doc__ or ""
    for module in MODULES:
        assert f"{module}" in doc


def test_jsonable_plain_types_and_no_nan() -> None:
    out = jsonable(
        {
            "a": np.float64(0.5),
            "b": np.int64(3),
            "c": (1, np.bool_(True)),
            "d": NotComputable(reason="why"),
            "e": Estimate(value=0.5, ci_low=0.1, ci_high=0.9, method="m", numerator=1, denominator=2),
            "f": math.inf,
        }
    )
    assert out == {
        "a": 0.5,
        "b": 3,
        "c": [1, True],
        "d": {"not_computable": True, "reason": "why"},
        "e": {"value": 0.5, "ci95": [0.1, 0.9], "method": "m", "numerator": 1, "denominator": 2},
        "f": None,
    }
    assert type(out["a"]) is float and type(out["b"]) is int
    with pytest.raises(ValueError, match="NaN"):
        jsonable({"x": float("nan")})
