"""Tiny synthetic in-memory specimens for the training tests (no DICOM, no generator)."""

from __future__ import annotations

import numpy as np

from training.loop.data import TrainingCase


def synthetic_case(
    *,
    case_id: str,
    patient_id: str,
    seed: int,
    shape: tuple[int, int, int] = (8, 40, 40),
    spacing: float = 1.0,
) -> TrainingCase:
    """An ellipsoid 'specimen' of fat with one hot spherical 'tumour' (PET in Bq/ml, SUV factor known)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape, dtype=np.float32)
    centre = np.array(shape, dtype=np.float32) / 2
    radii = np.array([shape[0] * 0.45, shape[1] * 0.35, shape[2] * 0.35])
    specimen = ((z - centre[0]) / radii[0]) ** 2 + ((y - centre[1]) / radii[1]) ** 2 + (
        (x - centre[2]) / radii[2]
    ) ** 2 <= 1
    tumour_centre = centre + rng.uniform(-0.15, 0.15, 3) * np.array(shape)
    tumour_radius = rng.uniform(0.12, 0.2) * shape[1]
    tumour = (
        (z - tumour_centre[0]) ** 2 + (y - tumour_centre[1]) ** 2 + (x - tumour_centre[2]) ** 2
    ) <= tumour_radius**2
    tumour &= specimen
    ct = np.where(specimen, -100.0, -1000.0) + rng.normal(0, 10, shape)
    ct[tumour] = 40.0
    pet = np.where(specimen, 1000.0, 0.0) + np.where(tumour, 8000.0, 0.0) + rng.normal(0, 50, shape).clip(0)
    return TrainingCase(
        case_id=case_id,
        patient_id=patient_id,
        tumour_mask=tumour.astype(np.uint8),
        spacing=(spacing, spacing, spacing),
        ct_hu=ct.astype(np.float32),
        pet=pet.astype(np.float32),
        suv_factor=1e-3,  # 1000 Bq/ml fat -> SUV 1, tumour -> SUV 9
        specimen_mask=specimen.astype(np.uint8),
    )
