"""The holder plate (or tray) a specimen lies on, found in CT; shared morphology helpers.

Method (all lengths in mm, so it behaves the same at any voxel spacing): the CT is lightly
smoothed (Gaussian, sigma 0.5 mm, so CT noise in dense breast tissue does not reach the plate
threshold), then voxels above ``plate_min_hu`` (default +100 HU; tissue stays below about +80 HU)
are grouped into 26-connected components. A component is the plate when it is large
(>= ``plate_min_volume_ml``) and flat: a principal component analysis of its voxel positions
gives a thickness sqrt(12 * smallest variance) of at most ``plate_max_thickness_mm`` and an
in-plane width sqrt(12 * middle variance) of at least ``plate_min_width_mm`` (for a uniform slab
these are its true thickness and width), at any tilt. Smoothing shaves the plate's edges, so the
detected plate is grown back (a few 6-connected steps, up to 2 x 0.5 mm) through voxels still
above ``plate_min_hu`` after a light 0.5-voxel denoising. Surgical clips (+3000 HU) are dense but
tiny, so they are never taken for the plate.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

FACE_CONNECTIVITY = ndimage.generate_binary_structure(3, 1)
FULL_CONNECTIVITY = ndimage.generate_binary_structure(3, 3)
DETECTION_SIGMA_MM = 0.5  # smoothing before plate detection, so tissue noise never looks dense


def ellipsoid_element(radius_mm: float, spacing: tuple[float, float, float]) -> np.ndarray:
    """Structuring element: an ellipsoid of ``radius_mm``, at least one voxel along every axis."""
    semi_axes = [max(radius_mm, s) for s in spacing]  # mm; never thinner than the 6 neighbours
    radii = [int(np.floor(a / s + 1e-9)) for a, s in zip(semi_axes, spacing, strict=True)]
    grids = np.meshgrid(
        *[np.arange(-r, r + 1) * s for r, s in zip(radii, spacing, strict=True)], indexing="ij"
    )
    return sum((g / a) ** 2 for g, a in zip(grids, semi_axes, strict=True)) <= 1.0 + 1e-9


def find_holder_plate(
    *,
    ct_hu: np.ndarray,
    spacing: tuple[float, float, float],
    plate_min_hu: float = 100.0,
    plate_max_thickness_mm: float = 8.0,
    plate_min_width_mm: float = 20.0,
    plate_min_volume_ml: float = 0.5,
) -> np.ndarray:
    """Boolean mask of the holder plate (empty when there is none). See the module docstring."""
    spacing = tuple(float(s) for s in spacing)
    sigma = [DETECTION_SIGMA_MM / s for s in spacing]
    smoothed = ndimage.gaussian_filter(np.asarray(ct_hu, dtype=np.float32), sigma=sigma, mode="nearest")
    dense = smoothed > plate_min_hu
    labels, count = ndimage.label(dense, structure=FULL_CONNECTIVITY)
    plate = np.zeros(dense.shape, dtype=bool)
    if count == 0:
        return plate
    voxel_ml = float(np.prod(spacing)) / 1000.0
    sizes = np.bincount(labels.ravel())
    for label, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None or sizes[label] * voxel_ml < plate_min_volume_ml:
            continue
        local = labels[box] == label
        points = np.argwhere(local) * np.asarray(spacing)
        variances = np.sort(np.linalg.eigvalsh(np.cov(points, rowvar=False)))
        thickness = np.sqrt(12.0 * max(variances[0], 0.0))
        width = np.sqrt(12.0 * max(variances[1], 0.0))
        if thickness <= plate_max_thickness_mm and width >= plate_min_width_mm:
            plate[box] |= local
    if plate.any():
        # The detection smoothing shaved the plate's edges; grow it back, only through voxels that
        # are still above the plate threshold after a light (0.5 voxel) denoising.
        lightly = ndimage.gaussian_filter(np.asarray(ct_hu, dtype=np.float32), sigma=0.5, mode="nearest")
        steps = max(1, int(np.ceil(2 * DETECTION_SIGMA_MM / min(spacing))))
        plate = ndimage.binary_dilation(
            plate, structure=FACE_CONNECTIVITY, iterations=steps, mask=lightly > plate_min_hu
        )
    return plate


def opened(mask: np.ndarray, *, radius_mm: float, spacing: tuple[float, float, float]) -> np.ndarray:
    """Morphological opening with a ball of ``radius_mm``, via distance transforms (any spacing)."""
    eroded = ndimage.distance_transform_edt(mask, sampling=spacing) > radius_mm
    if not eroded.any():
        return eroded
    return (ndimage.distance_transform_edt(~eroded, sampling=spacing) <= radius_mm) & mask
