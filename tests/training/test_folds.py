"""Patient-grouped folds: no leakage, balance, determinism, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from training.loop.folds import assign_folds, fold_indices
from training.loop.validation import TrainingInputError


@pytest.mark.parametrize("seed", [0, 1, 7, 123])
@pytest.mark.parametrize("n_patients,folds", [(5, 5), (6, 5), (13, 5), (19, 5), (4, 2), (10, 3)])
def test_no_patient_in_two_folds(seed: int, n_patients: int, folds: int) -> None:
    rng = np.random.default_rng(seed)
    counts = {f"patient-{i}": int(rng.integers(1, 12)) for i in range(n_patients)}
    # Samples of each patient, in shuffled order, as a SliceSet would list them.
    patient_ids = [p for p, n in counts.items() for _ in range(n)]
    rng.shuffle(patient_ids)
    fold_patients = assign_folds(slice_counts=counts, folds=folds, seed=seed)

    assert len(fold_patients) == folds
    flat = [p for fold in fold_patients for p in fold]
    assert sorted(flat) == sorted(counts), "every patient in exactly one fold"
    assert all(fold_patients), "no empty fold"
    seen_in_validation = []
    for fold in range(folds):
        train, val = fold_indices(patient_ids=patient_ids, fold_patients=fold_patients, fold=fold)
        train_patients = {patient_ids[i] for i in train}
        val_patients = {patient_ids[i] for i in val}
        assert not train_patients & val_patients
        assert len(train) + len(val) == len(patient_ids)
        seen_in_validation += list(val)
    assert sorted(seen_in_validation) == list(range(len(patient_ids))), "each sample validated exactly once"


def test_folds_are_deterministic_and_balanced() -> None:
    counts = {f"p{i}": n for i, n in enumerate([10, 9, 8, 7, 6, 5, 4, 3, 2, 2, 1, 1])}
    first = assign_folds(slice_counts=counts, folds=5, seed=3)
    assert first == assign_folds(slice_counts=counts, folds=5, seed=3)
    totals = [sum(counts[p] for p in fold) for fold in first]
    assert max(totals) - min(totals) <= max(counts.values()) // 2


def test_too_few_patients() -> None:
    with pytest.raises(TrainingInputError, match="need at least 5 patients for 5 folds, got 3"):
        assign_folds(slice_counts={"a": 3, "b": 2, "c": 5}, folds=5)
