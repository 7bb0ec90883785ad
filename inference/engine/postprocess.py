"""Connected-component clean-up of a binary tumour mask.

Components are 3D and 26-connected (an irregular tumour touching itself only at a corner is
still one lesion). Removing specks smaller than a minimum volume suppresses isolated false
positives; "largest only" is the paper's largest-component post-processing.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from cases.imaging.components import ALL_NEIGHBOURS, largest_component

FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


def clean_components(
    *,
    mask: np.ndarray,
    voxel_volume_ml: float,
    min_component_ml: float,
    keep_largest_only: bool = False,
) -> np.ndarray:
    """Return a uint8 copy of ``mask`` without components under ``min_component_ml``.

    With ``keep_largest_only`` only the largest remaining component is kept.
    """
    binary = np.asarray(mask).astype(bool, copy=False)
    labels, count = ndimage.label(binary, structure=FULL_CONNECTIVITY)
    if count == 0:
        return np.zeros(binary.shape, dtype=np.uint8)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    sizes[0] = 0
    # A component survives when its volume reaches the minimum (compare in voxels to avoid rounding).
    min_voxels = min_component_ml / voxel_volume_ml if voxel_volume_ml > 0 else 0.0
    keep = sizes >= min_voxels - 1e-9
    keep[0] = False
    kept = keep[labels]
    if keep_largest_only:
        # The largest survivor is the largest component overall (if that one survives at all).
        kept = largest_component(mask=kept, connectivity=ALL_NEIGHBOURS)
    return kept.astype(np.uint8)
