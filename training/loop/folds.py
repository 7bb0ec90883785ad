"""Patient-grouped K-fold split for cross-validation.

All slices of one patient land in the same fold, so no validation fold ever sees a patient the model
trained on (slices of one specimen are strongly correlated; leaking them inflates Dice). Folds are
balanced by slice count with a greedy largest-first assignment; ties are broken by a seeded shuffle,
so the split is deterministic for a given seed. Pure Python: no scikit-learn.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

import numpy as np

from training.loop.validation import TrainingInputError


def assign_folds(*, slice_counts: Mapping[str, int], folds: int = 5, seed: int = 0) -> list[tuple[str, ...]]:
    """Patients per fold, each patient in exactly one fold, folds balanced by total slice count."""
    if folds < 2:
        raise TrainingInputError(f"cross-validation needs at least 2 folds, got {folds}")
    patients = sorted(slice_counts)
    if len(patients) < folds:
        raise TrainingInputError(f"need at least {folds} patients for {folds} folds, got {len(patients)}")
    random.Random(seed).shuffle(patients)
    # Stable sort after the shuffle: biggest patients first, ties in seeded random order.
    patients.sort(key=lambda patient: -int(slice_counts[patient]))
    members: list[list[str]] = [[] for _ in range(folds)]
    totals = [0] * folds
    for patient in patients:
        # Lightest fold first; among equals the one with fewest patients, then the lowest index.
        target = min(range(folds), key=lambda f: (totals[f], len(members[f]), f))
        members[target].append(patient)
        totals[target] += int(slice_counts[patient])
    return [tuple(sorted(fold)) for fold in members]


def fold_indices(
    *, patient_ids: Sequence[str], fold_patients: Sequence[Sequence[str]], fold: int
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) sample indices for one fold, given each sample's patient id."""
    held_out = set(fold_patients[fold])
    is_val = np.array([patient in held_out for patient in patient_ids], dtype=bool)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val)
