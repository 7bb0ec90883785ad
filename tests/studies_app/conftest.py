"""Fixtures for the reader-study tests: users per role (two readers), clients and tiny cases.

Cases are made directly on a tiny working grid (no DICOM, no phantoms): the study logic never
needs real pixels, and the volume endpoints only stream what is stored.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cases.imaging.volume import Grid
from cases.models import Case, CaseVolume
from cases.volume_store import store_array
from inference.maskcodec import encode_rle
from inference.models import InferenceRun, MarginResult, ModelVersion, Segmentation

SHAPE = (4, 6, 8)
_codes = itertools.count(1)


def make_case(code: str | None = None, shape=SHAPE) -> Case:
    code = code or f"PC-T{next(_codes):05d}"
    grid = Grid(shape=shape, spacing=(0.5, 0.5, 0.5), origin=(0.0, 0.0, 0.0))
    case = Case.objects.create(
        code=code, patient_key=f"p-{code}", study_key=f"s-{code}", source=Case.Source.IMPORT,
        ct_acquired=grid.to_dict(), pet_acquired=grid.to_dict(), working_grid=grid.to_dict(), pet_units="BQML",
        suv_factor=None, suv_unavailable_reason="test case",
    )
    rng = np.random.default_rng(len(code))
    arrays = {"ct": rng.integers(-1000, 200, shape).astype(np.int16), "pet": rng.random(shape).astype(np.float32),
              "specimen": np.ones(shape, np.uint8)}
    for kind, array in arrays.items():
        name, sha, size = store_array(array=array, name=f"volumes/{code}/{kind}.raw.gz")
        CaseVolume.objects.create(case=case, kind=kind, file=name, dtype=str(array.dtype), shape=list(shape),
                                  sha256=sha, size_bytes=size)
    return case


def make_model_result(case: Case) -> Segmentation:
    """A finished model run with its mask, uncertainty and margin, without running a network."""
    model, _ = ModelVersion.objects.get_or_create(name="fake", version="1", defaults={
        "architecture": "none", "config": {}, "bundle_dir": "fake"})
    run = InferenceRun.objects.create(case=case, model_version=model, status="done", progress=100.0,
                                      threshold_mm=1.0)
    mask = np.zeros(case.grid.shape, np.uint8)
    mask[1:3, 2:4, 2:5] = 1
    mask_name, _, _ = store_array(array=mask, name=f"masks/{case.code}/model-mask.raw.gz")
    unc_name, _, _ = store_array(array=np.zeros(case.grid.shape, np.float16), name=f"masks/{case.code}/unc.raw.gz")
    segmentation = Segmentation.objects.create(case=case, source="model", model_version=model, inference_run=run,
                                               mask_file=mask_name, uncertainty_file=unc_name,
                                               voxel_count=int(mask.sum()))
    MarginResult.objects.create(segmentation=segmentation, threshold_mm=1.0, status="positive",
                                closest_margin_mm=0.0, faces={"+x": 0.0})
    return segmentation


def mask_body(case: Case, parent_id=None) -> dict:
    mask = np.zeros(case.grid.shape, np.uint8)
    mask[1:3, 1:4, 2:6] = 1
    return {"parent_id": parent_id, "shape": list(case.grid.shape), "encoding": "rle-u8-v1", "data": encode_rle(mask)}


def call_body(status: str = "positive", **extra) -> dict:
    return {"status": status, "confidence": 4, "comment": "", "time_spent_s": 12.5, "segmentation_id": None,
            **extra}


@pytest.fixture
def cases(db):
    made = [make_case() for _ in range(3)]
    for case in made:
        make_model_result(case)
    return made
