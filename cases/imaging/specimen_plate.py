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
SMALL_BALL_VOXELS = 2.5  # up to this radius a dilation with the ball beats a distance transform
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
        # Over the plate's box grown by the steps and the filter's reach (2 voxels): the same voxels.
        steps = max(1, int(np.ceil(2 * DETECTION_SIGMA_MM / min(spacing))))
        box = bounding_box(plate, pad=(steps + 3,) * 3)
        lightly = ndimage.gaussian_filter(np.asarray(ct_hu, dtype=np.float32)[box], sigma=0.5, mode="nearest")
        plate[box] = ndimage.binary_dilation(
            plate[box], structure=FACE_CONNECTIVITY, iterations=steps, mask=lightly > plate_min_hu
        )
    return plate


def bounding_box(mask: np.ndarray, *, pad: tuple[int, int, int] = (0, 0, 0)) -> tuple[slice, ...] | None:
    """The slices of ``mask``'s bounding box grown by ``pad`` voxels per axis (None when empty)."""
    box = []
    for axis, (p, n) in enumerate(zip(pad, mask.shape, strict=True)):
        hit = np.flatnonzero(mask.any(axis=tuple(a for a in range(mask.ndim) if a != axis)))
        if hit.size == 0:
            return None
        box.append(slice(max(int(hit[0]) - p, 0), min(int(hit[-1]) + 1 + p, n)))
    return tuple(box)


def _pad_voxels(radius_mm: float, spacing) -> tuple[int, ...]:
    return tuple(int(np.ceil(radius_mm / s)) + 1 for s in spacing)


def within_mm(mask: np.ndarray, *, radius_mm: float, spacing) -> np.ndarray:
    """Voxels at most ``radius_mm`` from ``mask`` (exact Euclidean distance), the mask included.

    Same as ``distance_transform_edt(~mask, sampling=spacing) <= radius_mm``, computed only over the
    mask's bounding box grown by the radius (nothing beyond it can be that close): a dilation with
    the ball when it is small, else the distance transform."""
    out = np.zeros(mask.shape, dtype=bool)
    box = bounding_box(mask, pad=_pad_voxels(radius_mm, spacing))
    if box is None:
        return out
    if radius_mm <= SMALL_BALL_VOXELS * min(spacing):
        out[box] = ndimage.binary_dilation(mask[box], structure=_ball(radius_mm, spacing))
    else:
        out[box] = ndimage.distance_transform_edt(~mask[box], sampling=spacing) <= radius_mm
    return out


def distance_up_to(mask: np.ndarray, *, reach_mm: float, spacing) -> np.ndarray:
    """Euclidean distance (mm, float32) to ``mask`` where it is at most ``reach_mm``, else +inf.

    One transform over the mask's box grown by the reach serves every threshold up to it."""
    out = np.full(mask.shape, np.inf, dtype=np.float32)
    box = bounding_box(mask, pad=_pad_voxels(reach_mm, spacing))
    if box is not None:
        local = ndimage.distance_transform_edt(~mask[box], sampling=spacing).astype(np.float32)
        out[box] = np.where(local <= reach_mm, local, np.inf)
    return out


def filled(mask: np.ndarray) -> np.ndarray:
    """``binary_fill_holes`` over the mask's box grown by one voxel (the same holes)."""
    out = np.zeros(mask.shape, dtype=bool)
    box = bounding_box(mask, pad=(1, 1, 1))
    if box is not None:
        out[box] = ndimage.binary_fill_holes(mask[box])
    return out


def opened(mask: np.ndarray, *, radius_mm: float, spacing: tuple[float, float, float]) -> np.ndarray:
    """Morphological opening with a Euclidean ball of ``radius_mm`` (any spacing).

    The same voxels as thresholding distance transforms (outside the array counts as inside, as for
    the transform), over the mask's bounding box, and each step only where its answer is not
    already known: a voxel whose surrounding cube lies inside the mask survives the erosion, and a
    voxel kept by the erosion stays in the dilation."""
    out = np.zeros(mask.shape, dtype=bool)
    box = bounding_box(mask, pad=(1, 1, 1))
    if box is None or radius_mm <= 0:
        return mask.copy() if radius_mm <= 0 else out
    local = mask[box]
    ball = _ball(radius_mm, spacing)
    kept = _eroded_by(local, ball)
    if kept.any():
        out[box] = ndimage.binary_dilation(kept, structure=ball, mask=local & ~kept) & local
    return out


def eroded(mask: np.ndarray, *, radius_mm: float, spacing) -> np.ndarray:
    """Voxels deeper than ``radius_mm`` inside ``mask``: ``distance_transform_edt(mask) > radius_mm``."""
    out = np.zeros(mask.shape, dtype=bool)
    box = bounding_box(mask, pad=(1, 1, 1))
    if box is not None:
        out[box] = _eroded_by(mask[box], _ball(radius_mm, spacing))
    return out


def _eroded_by(mask: np.ndarray, ball: np.ndarray) -> np.ndarray:
    # Only voxels near the boundary are tested against the ball: a voxel whose whole cube around
    # the ball is inside the mask survives (chessboard distance, a cheap transform).
    deep = ndimage.distance_transform_cdt(mask, metric="chessboard") > max(ball.shape) // 2
    return ndimage.binary_erosion(mask, structure=ball, border_value=1, mask=mask & ~deep)


def _ball(radius_mm: float, spacing) -> np.ndarray:
    """Offsets whose Euclidean length is at most ``radius_mm`` (the distance transforms' ball)."""
    radii = [int(np.floor(radius_mm / s + 1e-9)) for s in spacing]
    grids = np.meshgrid(*[np.arange(-r, r + 1) * s for r, s in zip(radii, spacing, strict=True)], indexing="ij")
    return sum(g * g for g in grids) <= radius_mm * radius_mm * (1.0 + 1e-9)
