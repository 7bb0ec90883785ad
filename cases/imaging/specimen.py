"""The specimen in CT: the binary mask callers have always used, now a view of the surface.

The method lives in :mod:`cases.imaging.specimen_surface` (sub-voxel surface, wrappings removed,
QC flags); the holder plate in :mod:`cases.imaging.specimen_plate`.
"""

from __future__ import annotations

import numpy as np

from cases.imaging.components import largest_component
from cases.imaging.specimen_plate import find_holder_plate
from cases.imaging.specimen_surface import SpecimenSurface, specimen_surface_from_ct

__all__ = [
    "SpecimenSurface",
    "find_holder_plate",
    "largest_component",
    "specimen_mask_from_ct",
    "specimen_surface_from_ct",
]


def specimen_mask_from_ct(*, ct_hu: np.ndarray, spacing: tuple[float, float, float], **options) -> np.ndarray:
    """Boolean (Z, Y, X) mask of the specimen; ``options`` go to :func:`specimen_surface_from_ct`."""
    return specimen_surface_from_ct(ct_hu=ct_hu, spacing=spacing, **options).mask
