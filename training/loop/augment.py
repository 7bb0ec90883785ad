"""Seeded 2D augmentation for PET/CT slices (MONAI dictionary transforms).

The data are tiny (the paper trained on 53 images), so augmentation is strong but physically
plausible: specimens lie on the tray in any orientation (flips, 90-degree turns, small rotations),
vary in size and softness (small affine and elastic deformation), and uptake varies between patients
and scanners (per-channel intensity scale and shift). Geometry is applied identically to image and
mask; the mask is always resampled with nearest neighbour so it stays binary.
"""

from __future__ import annotations

import math

from monai.transforms import (
    Compose,
    Rand2DElasticd,
    RandAffined,
    RandFlipd,
    RandRotate90d,
    RandScaleIntensityd,
    RandShiftIntensityd,
)

IMAGE = "image"  # (C, H, W) float32 channels in [0, 1]
LABEL = "label"  # (1, H, W) tumour mask


def build_augmentation(*, seed: int, slice_size: int = 160, strength: float = 1.0) -> Compose:
    """A fresh, seeded augmentation pipeline for {"image": (C,H,W), "label": (1,H,W)} samples."""
    keys = (IMAGE, LABEL)
    modes = ("bilinear", "nearest")
    transforms = Compose(
        [
            RandFlipd(keys=keys, prob=0.5, spatial_axis=0),
            RandFlipd(keys=keys, prob=0.5, spatial_axis=1),
            RandRotate90d(keys=keys, prob=0.5, max_k=3),
            RandAffined(
                keys=keys,
                prob=0.5 * strength,
                rotate_range=(math.pi / 12 * strength,),  # +/- 15 degrees
                scale_range=(0.1 * strength, 0.1 * strength),
                translate_range=(0.05 * slice_size * strength, 0.05 * slice_size * strength),
                mode=modes,
                padding_mode="zeros",  # 0 = air in every scaled channel
            ),
            Rand2DElasticd(
                keys=keys,
                prob=0.15 * strength,
                spacing=(max(slice_size // 5, 4),) * 2,  # control points: coarse, tissue-like warps
                magnitude_range=(0.0, 1.5 * strength),
                mode=modes,
                padding_mode="zeros",
            ),
            # PET (SUV) and CT (HU) are quantitative: keep intensity changes modest (+/-10% gain, tiny
            # offset; 0.01 = 0.15 SUV or 14 HU) so low-uptake tumour stays distinguishable from hot
            # fibroglandular tissue (in the demo experiment an offset of 0.05 left false-positive blobs
            # of hot fibroglandular tissue at the specimen surface that 0.01 did not).
            RandScaleIntensityd(keys=IMAGE, factors=0.1 * strength, prob=0.5, channel_wise=True),
            RandShiftIntensityd(keys=IMAGE, offsets=0.01 * strength, prob=0.5, channel_wise=True),
        ]
    )
    transforms.set_random_state(seed=seed)
    return transforms
