"""CT synthesis: Hounsfield units from the label map, system blur, noise and storage.

Stored values follow RescaleSlope 1 / RescaleIntercept -1024 as unsigned 16-bit
(HU below -1024 are clipped, as scanners do).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi

from cases.phantoms.config import LABEL_AIR, LABEL_CLIP, LABEL_FAT, LABEL_FIBRO, LABEL_PLATE, LABEL_TUMOUR

CT_RESCALE_INTERCEPT = -1024.0
CT_RESCALE_SLOPE = 1.0


def synthesise_ct(
    *,
    labels: np.ndarray,
    hu: dict[int, float],
    noise_sd_hu: float,
    tumour_texture: np.ndarray | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """HU volume (float32): per-label value, mild tumour texture, 3-tap blur, Gaussian noise."""
    lut = np.zeros(256, np.float32)
    for label in (LABEL_AIR, LABEL_FAT, LABEL_FIBRO, LABEL_TUMOUR, LABEL_PLATE, LABEL_CLIP):
        lut[label] = hu[label]
    image = lut[labels]
    if tumour_texture is not None:
        image += tumour_texture
    # partial-volume / system blur: small separable kernels (in-plane and across slices)
    image = ndi.correlate1d(image, [0.25, 0.5, 0.25], axis=2, mode="nearest")
    image = ndi.correlate1d(image, [0.25, 0.5, 0.25], axis=1, mode="nearest")
    image = ndi.correlate1d(image, [0.15, 0.7, 0.15], axis=0, mode="nearest")
    image += rng.standard_normal(labels.shape, dtype=np.float32) * np.float32(noise_sd_hu)
    return image


def store_ct(hu: np.ndarray) -> np.ndarray:
    """Stored pixel values (uint16) for slope 1 / intercept -1024."""
    stored = np.rint(hu - CT_RESCALE_INTERCEPT)
    return np.clip(stored, 0, 65535).astype(np.uint16)
