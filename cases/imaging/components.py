"""Connected components of binary masks: the one largest-component helper (over scipy.ndimage).

Connectivity follows ``scipy.ndimage.generate_binary_structure``: 1 = faces only (6 neighbours in
3D, scipy's default); 3 = faces, edges and corners (26 neighbours in 3D, 8 in 2D).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

FACES = 1
ALL_NEIGHBOURS = 3  # in 3D: faces, edges and corners (26-connected)


def largest_component(*, mask: np.ndarray, connectivity: int = FACES) -> np.ndarray:
    """Boolean mask of the largest connected component of ``mask`` (all False when it is empty).

    Ties go to the component scipy labels first (the first in C order).
    """
    binary = np.asarray(mask, dtype=bool)
    structure = ndimage.generate_binary_structure(binary.ndim, connectivity)
    labels, count = ndimage.label(binary, structure=structure)
    if count == 0:
        return np.zeros(binary.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))
