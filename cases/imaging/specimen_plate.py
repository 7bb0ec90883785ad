"""The specimen mask from CT: tissue, without air and without the holder plate it lies on.

Method (all lengths in mm, so it behaves the same at any voxel spacing):

1. Tissue = CT above ``tissue_hu`` (default -350 HU: fat is about -100 HU, air -1000 HU).
2. Holder plate: the CT is lightly smoothed (Gaussian, sigma 0.5 mm, so CT noise in dense
   breast tissue does not reach the plate threshold), then voxels above ``plate_min_hu``
   (default +100 HU; tissue stays below about +80 HU) are grouped into 26-connected components.
   A component is the plate when it is large (>= ``plate_min_volume_ml``) and flat: a principal
   component analysis of its voxel positions gives a thickness sqrt(12 * smallest variance) of at
   most ``plate_max_thickness_mm`` and an in-plane width sqrt(12 * middle variance) of at least
   ``plate_min_width_mm`` (for a uniform slab these are its true thickness and width). A plate
   tilted against the scanner axes is found as well. Smoothing shaves the plate's edges, so the
   detected plate is then grown back (a few 6-connected steps, up to 2 x 0.5 mm) through voxels
   still above ``plate_min_hu`` after a light 0.5-voxel denoising: where the plate touches
   tissue its boundary then lies where the HU crosses ``plate_min_hu`` (within half a voxel of
   the true interface for fat or glandular tissue on a +200 HU plate). Surgical clips (+3000 HU)
   are dense but tiny, so they are never taken for the plate and stay part of the specimen.
3. The plate's partial-volume skin (voxels between air and plate, whose HU lands in the tissue
   range) would otherwise stay attached to the specimen as a thin sheet. So the largest tissue
   component is found after also removing everything within ``plate_margin_mm`` of the plate,
   and is then grown back by the same margin inside tissue-minus-plate: the specimen's own
   contact layer returns, while the skin returns only as a lip of at most that margin at the
   edge of the contact area.
4. Largest 6-connected component, then enclosed holes (air pockets, clip streak artefacts) filled.

Known limits: a clip lying on the plate is removed with it; a curved tray or tube wall touching
the specimen is not recognised as a holder.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

FACE_CONNECTIVITY = ndimage.generate_binary_structure(3, 1)
FULL_CONNECTIVITY = ndimage.generate_binary_structure(3, 3)
DETECTION_SIGMA_MM = 0.5  # smoothing before plate detection, so tissue noise never looks dense


def _ellipsoid(radius_mm: float, spacing: tuple[float, float, float]) -> np.ndarray:
    """Structuring element: an ellipsoid of ``radius_mm``, at least one voxel along every axis."""
    semi_axes = [max(radius_mm, s) for s in spacing]  # mm; never thinner than the 6 neighbours
    radii = [int(np.floor(a / s + 1e-9)) for a, s in zip(semi_axes, spacing, strict=True)]
    grids = np.meshgrid(
        *[np.arange(-r, r + 1) * s for r, s in zip(radii, spacing, strict=True)], indexing="ij"
    )
    return sum((g / a) ** 2 for g, a in zip(grids, semi_axes, strict=True)) <= 1.0 + 1e-9


def largest_component(*, mask: np.ndarray, structure: np.ndarray = FACE_CONNECTIVITY) -> np.ndarray:
    labels, count = ndimage.label(mask, structure=structure)
    if count == 0:
        return np.zeros(mask.shape, dtype=bool)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


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


def specimen_mask_from_ct(
    *,
    ct_hu: np.ndarray,
    spacing: tuple[float, float, float],
    tissue_hu: float = -350.0,
    plate_min_hu: float = 100.0,
    plate_max_thickness_mm: float = 8.0,
    plate_min_width_mm: float = 20.0,
    plate_margin_mm: float = 1.0,
) -> np.ndarray:
    """Boolean (Z, Y, X) mask of the specimen in ``ct_hu`` (spacing (sz, sy, sx) mm)."""
    ct_hu = np.asarray(ct_hu)
    spacing = tuple(float(s) for s in spacing)
    tissue = ct_hu > tissue_hu
    plate = find_holder_plate(
        ct_hu=ct_hu,
        spacing=spacing,
        plate_min_hu=plate_min_hu,
        plate_max_thickness_mm=plate_max_thickness_mm,
        plate_min_width_mm=plate_min_width_mm,
    )
    if plate.any():
        candidate = tissue & ~plate
        ball = _ellipsoid(plate_margin_mm, spacing)
        near_plate = ndimage.binary_dilation(plate, structure=ball)
        core = largest_component(mask=candidate & ~near_plate)
        specimen = candidate & ndimage.binary_dilation(core, structure=ball)
    else:
        specimen = tissue
    specimen = largest_component(mask=specimen)
    return ndimage.binary_fill_holes(specimen)
