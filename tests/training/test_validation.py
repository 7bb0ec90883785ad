"""Bad training input is refused before training, naming the case or file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cases.imaging.volume import Grid
from tests.training.synthetic import synthetic_case
from training.loop.ensemble import train_ensemble
from training.loop.validation import (
    TrainingInputError,
    check_mask_geometry,
    check_readable_folder,
    validate_cases,
)


def test_no_cases() -> None:
    with pytest.raises(TrainingInputError, match="no training cases"):
        validate_cases(cases=[], folds=5)


def test_too_few_patients_before_training(tiny_config, tmp_path: Path) -> None:
    cases = [synthetic_case(case_id=f"c{i}", patient_id=f"p{i % 3}", seed=i) for i in range(6)]
    with pytest.raises(TrainingInputError, match="need at least 5 patients for 5 folds, got 3"):
        train_ensemble(
            cases=cases,
            config=tiny_config,
            folds=5,
            epochs=1,
            batch_size=2,
            lr=1e-3,
            seed=0,
            device="cpu",
            test_cases=None,
            out_dir=tmp_path / "out",
        )
    assert not (tmp_path / "out").exists(), "nothing written when the input is refused"


def test_mask_shape_mismatch_names_case() -> None:
    case = synthetic_case(case_id="bad-one", patient_id="p", seed=0)
    case.tumour_mask = case.tumour_mask[:, :-2]
    with pytest.raises(TrainingInputError, match="'bad-one'.*tumour mask shape"):
        validate_cases(cases=[case])


def test_mask_geometry_mismatch() -> None:
    image = Grid(shape=(4, 10, 10), spacing=(1.0, 0.5, 0.5), origin=(0.0, 0.0, 0.0))
    check_mask_geometry(case_id="ok", mask_grid=image, image_grid=image)
    shifted = Grid(shape=(4, 10, 10), spacing=(1.0, 0.5, 0.5), origin=(3.0, 0.0, 0.0))
    with pytest.raises(TrainingInputError, match="'moved'.*does not match"):
        check_mask_geometry(case_id="moved", mask_grid=shifted, image_grid=image)


def test_empty_mask_names_case_unless_allowed() -> None:
    good = synthetic_case(case_id="good", patient_id="p1", seed=0)
    empty = synthetic_case(case_id="no-tumour", patient_id="p2", seed=1)
    empty.tumour_mask = np.zeros_like(empty.tumour_mask)
    with pytest.raises(TrainingInputError, match="'no-tumour'.*empty"):
        validate_cases(cases=[good, empty])
    validate_cases(cases=[good, empty], allow_empty_masks=True)


def test_several_problems_reported_together() -> None:
    a = synthetic_case(case_id="a", patient_id="p", seed=0)
    a.tumour_mask = np.zeros_like(a.tumour_mask)
    b = synthetic_case(case_id="b", patient_id="p", seed=1)
    b.pet = b.pet[:-1]
    with pytest.raises(TrainingInputError) as error:
        validate_cases(cases=[a, b], folds=2)
    message = str(error.value)
    assert "'a'" in message and "'b'" in message and "need at least 2 patients" in message


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    case = tmp_path / "case_0001"
    (case / "ct").mkdir(parents=True)
    (case / "ct" / "slice1.dcm").write_bytes(b"this is not dicom")
    (case / "truth").mkdir()
    (case / "truth" / "truth.json").write_text("{not json")
    (case / "truth" / "tumour_mask.nii.gz").write_bytes(b"\x1f\x8b broken gzip")
    (case / "notes.txt").write_text("ignored")
    with pytest.raises(TrainingInputError) as error:
        check_readable_folder(path=tmp_path)
    message = str(error.value)
    assert "3 unreadable" in message
    for name in ("slice1.dcm", "truth.json", "tumour_mask.nii.gz"):
        assert name in message
    assert "notes.txt" not in message


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(TrainingInputError, match="does not exist"):
        check_readable_folder(path=tmp_path / "nope")
