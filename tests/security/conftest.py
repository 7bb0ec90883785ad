"""Fixtures for the security tests: a tiny case without DICOM and a study around it."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cases.imaging.volume import Grid
from cases.models import Case, CaseVolume
from cases.volume_store import store_array

SHAPE = (4, 6, 8)
_codes = itertools.count(1)


def make_case() -> Case:
    code = f"PC-S{next(_codes):05d}"
    grid = Grid(shape=SHAPE, spacing=(1.0, 0.5, 0.5), origin=(0.0, 0.0, 0.0))
    case = Case.objects.create(
        code=code, patient_key=f"p-{code}", study_key=f"s-{code}", source=Case.Source.IMPORT,
        ct_acquired=grid.to_dict(), pet_acquired=grid.to_dict(), working_grid=grid.to_dict(), pet_units="BQML",
        suv_factor=None, suv_unavailable_reason="test case",
    )
    ct = (np.arange(np.prod(SHAPE), dtype=np.int16).reshape(SHAPE) - 500)
    for kind, array in {"ct": ct, "specimen": np.ones(SHAPE, np.uint8)}.items():
        name, sha, size = store_array(array=array, name=f"volumes/{code}/{kind}.raw.gz")
        CaseVolume.objects.create(case=case, kind=kind, file=name, dtype=str(array.dtype), shape=list(SHAPE),
                                  sha256=sha, size_bytes=size)
    return case


@pytest.fixture
def case(db) -> Case:
    return make_case()


@pytest.fixture
def study(users, case):
    from studies.services import study_create

    return study_create(user=users["study_admin"], name="Security study", design="unaided", case_codes=[case.code],
                        reader_usernames=["reader1"], washout_days=0, seed=1, enforce_order=False)
