"""Loading cases from a folder of NIfTI volumes onto the working grid."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel
import numpy as np
import pytest

from cases.imaging.volume import Grid
from inference.engine.config import PreprocessConfig
from tests.training.synthetic import synthetic_case
from training.loop.sources import cases_from_folder, read_nifti
from training.loop.validation import TrainingInputError


def _write(path: Path, array_kji: np.ndarray, grid: Grid) -> None:
    nibabel.save(nibabel.Nifti1Image(array_kji.transpose(2, 1, 0), grid.affine_ras()), str(path))


def _write_case(root: Path, name: str, *, patient: str, seed: int, mask_grid: Grid | None = None) -> Grid:
    case = synthetic_case(case_id=name, patient_id=patient, seed=seed)
    grid = Grid(shape=case.shape, spacing=(1.0, 1.0, 1.0), origin=(-20.0, -20.0, 5.0))
    folder = root / name
    folder.mkdir(parents=True)
    _write(folder / "ct.nii.gz", case.ct_hu, grid)
    _write(folder / "pet.nii.gz", case.pet, grid)
    _write(folder / "tumour_mask.nii.gz", case.tumour_mask, mask_grid or grid)
    (folder / "case.json").write_text(
        json.dumps({"patient_id": patient, "suv_factor": 1e-3, "closest_margin_mm": 2.5})
    )
    return grid


def test_nifti_round_trip_geometry(tmp_path: Path) -> None:
    grid = Grid(shape=(3, 4, 5), spacing=(2.0, 0.5, 0.25), origin=(1.0, 2.0, 3.0))
    array = np.arange(60, dtype=np.float32).reshape(3, 4, 5)
    _write(tmp_path / "v.nii.gz", array, grid)
    volume = read_nifti(path=tmp_path / "v.nii.gz")
    assert np.array_equal(volume.array, array)
    assert np.allclose(volume.grid.affine(), grid.affine())


def test_cases_from_nifti_folder(tmp_path: Path) -> None:
    _write_case(tmp_path, "A", patient="P1", seed=0)
    _write_case(tmp_path, "B", patient="P1", seed=1)
    cases = cases_from_folder(path=tmp_path, config=PreprocessConfig(working_spacing_mm=2.0))
    assert [c.case_id for c in cases] == ["A", "B"]
    assert {c.patient_id for c in cases} == {"P1"}
    case = cases[0]
    assert case.spacing == (2.0, 2.0, 2.0)
    assert case.tumour_mask.shape == case.ct_hu.shape == case.pet.shape == (4, 20, 20)
    assert case.tumour_mask.any() and set(np.unique(case.tumour_mask)) <= {0, 1}
    assert case.suv_factor == pytest.approx(1e-3) and case.truth_closest_margin_mm == 2.5


def test_mask_on_another_grid_is_refused(tmp_path: Path) -> None:
    shifted = Grid(shape=(8, 40, 40), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))
    _write_case(tmp_path, "moved", patient="P1", seed=0, mask_grid=shifted)
    with pytest.raises(TrainingInputError, match="'moved'.*tumour mask does not match its image"):
        cases_from_folder(path=tmp_path, config=PreprocessConfig(working_spacing_mm=2.0))


def test_case_without_mask_is_named(tmp_path: Path) -> None:
    _write_case(tmp_path, "A", patient="P1", seed=0)
    (tmp_path / "A" / "tumour_mask.nii.gz").unlink()
    with pytest.raises(TrainingInputError, match="A: no tumour_mask.nii.gz"):
        cases_from_folder(path=tmp_path, config=PreprocessConfig())
