"""The margin analysis again, without the network, against a specimen surface a person corrected.

A corrected surface arrives as a binary mask on the working grid. Its voxel faces are only good to
about +-0.25 mm, so it becomes an occupancy field (0.5 iso-surface = specimen surface) that keeps
the CT's sub-voxel partial-volume surface wherever the person left the surface alone at a
tissue/air boundary, and follows the (lightly smoothed) mask wherever they moved it or the CT says
nothing (a removed bag, container wall, tray). Django-free.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cases.imaging.volume import Grid
from inference.engine.margins import analyse_margins

CLEAR_AIR_HU = -700.0  # below this a voxel is clearly air (for the air level)
DENSE_HU = 1000.0  # clips and wires: not part of the tissue level
MIN_CONTRAST_HU = 100.0  # less tissue/air contrast than this: the CT cannot place the surface
NEIGHBOURS = np.ones((3, 3, 3), dtype=bool)
FOLD_SCALE = 255.0  # fold probabilities are stored as uint8 p * 255


def quantise_folds(fold_probabilities: np.ndarray) -> np.ndarray:
    """(K, Z, Y, X) probabilities in [0, 1] -> uint8 (p * 255, rounded): 4x smaller than float32."""
    folds = np.asarray(fold_probabilities, dtype=np.float32)
    return np.rint(np.clip(folds, 0.0, 1.0) * FOLD_SCALE).astype(np.uint8)


def dequantise_folds(quantised: np.ndarray) -> np.ndarray:
    return np.asarray(quantised, dtype=np.float32) / np.float32(FOLD_SCALE)


def occupancy_from_mask(*, mask: np.ndarray, ct_hu: np.ndarray) -> np.ndarray:
    """Occupancy in [0, 1] (float32) whose 0.5 iso-surface encloses exactly the voxels of ``mask``."""
    inside = np.asarray(mask) > 0
    if inside.shape != np.shape(ct_hu):
        raise ValueError(f"specimen mask {inside.shape} and CT {np.shape(ct_hu)} differ in shape")
    ct = np.asarray(ct_hu, dtype=np.float32)
    smoothed = ndimage.gaussian_filter(inside.astype(np.float32), sigma=0.5, mode="nearest")
    occupancy = smoothed
    interior = ndimage.binary_erosion(inside, structure=NEIGHBOURS)
    clear_air = ct < CLEAR_AIR_HU
    air = float(np.median(ct[clear_air])) if clear_air.sum() >= 100 else -1000.0
    tissue = interior & (ct < DENSE_HU)
    if tissue.any():
        level = float(np.median(ct[tissue]))
        if level - air >= MIN_CONTRAST_HU:
            fraction = np.clip((ct - air) / (level - air), 0.0, 1.0).astype(np.float32)
            # The CT places the surface only where it agrees with the mask all around the voxel.
            disagrees = (fraction >= 0.5) != inside
            trusted = ~ndimage.binary_dilation(disagrees, structure=NEIGHBOURS)
            occupancy = np.where(trusted, fraction, smoothed).astype(np.float32)
    occupancy[interior] = 1.0
    occupancy[~ndimage.binary_dilation(inside, structure=NEIGHBOURS)] = 0.0
    # The mask decides which voxels are specimen; the CT only moves the surface within them.
    occupancy[inside] = np.maximum(occupancy[inside], 0.5)
    occupancy[~inside] = np.minimum(occupancy[~inside], np.float32(0.4999))
    return occupancy.astype(np.float32)


def reanalyse_margins(
    *,
    ct_hu: np.ndarray,
    fold_probabilities: np.ndarray,
    specimen_mask: np.ndarray,
    grid: Grid,
    threshold_mm: float,
    tumour_level: float,
    min_focus_volume_mm3: float,
    suv: np.ndarray | None,
    inputs: dict,
    specimen_qc: list[dict] | None = None,
) -> dict:
    """MarginResult.to_dict() of the stored folds (K, Z, Y, X, float in [0, 1]) in ``specimen_mask``."""
    folds = np.asarray(fold_probabilities, dtype=np.float32)
    if folds.ndim != 4 or folds.shape[1:] != tuple(grid.shape):
        raise ValueError(f"fold probabilities {folds.shape} do not match the grid {tuple(grid.shape)}")
    if not np.any(np.asarray(specimen_mask)):
        raise ValueError("the specimen surface is empty")
    occupancy = occupancy_from_mask(mask=specimen_mask, ct_hu=ct_hu)
    result = analyse_margins(
        tumour_probability=folds.mean(axis=0),
        fold_probabilities=list(folds),
        tumour_level=tumour_level,
        specimen_occupancy=occupancy,
        spacing=grid.spacing,
        grid=grid,
        threshold_mm=threshold_mm,
        min_focus_volume_mm3=min_focus_volume_mm3,
        suv=suv,
        specimen_qc=list(specimen_qc or []),
        inputs=inputs,
    )
    return result.to_dict()
