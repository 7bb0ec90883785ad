"""The one preprocessing path shared by training and inference.

Input: CT (HU) and PET (rescaled pixel values, Bq/ml for BQML data) already resampled onto the
same working grid. Output: float32 channels (C, Z, Y, X) scaled to [0, 1], in the order named by
the configuration. PET is used as SUVbw when the scale factor is known; otherwise as an uptake
ratio (PET divided by the median uptake of the specimen tissue), a self-normalised fallback that
keeps tumour contrast without inventing an SUV.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.engine.config import PreprocessConfig

TISSUE_HU_THRESHOLD = -400.0  # fat is about -100 HU, air -1000 HU


@dataclass(frozen=True)
class PreparedInput:
    channels: np.ndarray  # (C, Z, Y, X) float32 in [0, 1]
    pet_mode: str  # "suv" or "uptake_ratio"


def _scale(values: np.ndarray, clip: tuple[float, float]) -> np.ndarray:
    low, high = clip
    return ((np.clip(values, low, high) - low) / (high - low)).astype(np.float32)


def pet_in_model_units(*, pet: np.ndarray, ct_hu: np.ndarray, suv_factor: float | None) -> tuple[np.ndarray, str]:
    """PET as SUV when possible, else as uptake ratio to the median tissue uptake."""
    pet = pet.astype(np.float32, copy=False)
    if suv_factor is not None:
        return pet * np.float32(suv_factor), "suv"
    tissue = ct_hu > TISSUE_HU_THRESHOLD
    reference = float(np.median(pet[tissue])) if tissue.any() else 0.0
    if reference <= 0:
        positive = pet[pet > 0]
        reference = float(np.median(positive)) if positive.size else 1.0
    return pet / np.float32(reference), "uptake_ratio"


def prepare_channels(
    *, ct_hu: np.ndarray, pet: np.ndarray, suv_factor: float | None, config: PreprocessConfig
) -> PreparedInput:
    if ct_hu.shape != pet.shape:
        raise ValueError(f"CT {ct_hu.shape} and PET {pet.shape} are not on the same grid")
    pet_values, pet_mode = pet_in_model_units(pet=pet, ct_hu=ct_hu, suv_factor=suv_factor)
    pet_clip = config.suv_clip if pet_mode == "suv" else config.uptake_ratio_clip
    by_name = {
        "pet": lambda: _scale(pet_values, pet_clip),
        "ct": lambda: _scale(ct_hu.astype(np.float32, copy=False), config.ct_clip_hu),
    }
    unknown = [name for name in config.channels if name not in by_name]
    if unknown:
        raise ValueError(f"unknown input channel(s) {unknown}; known: {sorted(by_name)}")
    channels = np.stack([by_name[name]() for name in config.channels])
    return PreparedInput(channels=channels, pet_mode=pet_mode)
