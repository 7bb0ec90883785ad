"""The specimen surface from CT, to sub-voxel precision, without wrappings, and failing safe.

Output: a boolean ``mask`` and an ``occupancy`` field in [0, 1] whose 0.5 iso-surface is the
specimen surface (``mask == occupancy >= 0.5``), plus QC flags. Lengths are in mm throughout, so
the method behaves the same at any voxel spacing. docs/specimen-surface.md has the measured error.

Method:

1. Levels. Air is the median of the clearly-air voxels (< -700 HU; -1000 if there are too few).
2. Holder plate / tray: :func:`cases.imaging.specimen_plate.find_holder_plate` (dense, large,
   flat). The specimen core is found away from the plate and grown back by ``plate_margin_mm``.
3. Thin things - bag film tails, gauze fibres, wires, threads: tissue candidates (> ``tissue_hu``)
   are opened with a ball of ``open_radius_mm`` (1 mm): whatever is thinner than 2 mm and not part
   of the bulk goes. The largest 6-connected component is the specimen core.
4. Container walls (rigid, smooth, -150..+100 HU, plane or cylinder), see
   :mod:`cases.imaging.specimen_walls`: a large sheet clearly above air (> air + 150 HU: a thin
   near-water wall blurs far below the tissue threshold), far from the specimen and the plate, at
   least 10 mm wide and 225 mm2 (often a long narrow strip beside the specimen that hides the rest),
   is fitted with a plane or a cylinder (on its ridge); the two pieces a pressed specimen splits a wall
   into are fitted together. The plate gets a plane the same way.
5. Edge profiles. Across each wall the HU is fitted with a slab blurred by a Gaussian (face,
   thickness, HU, blur), first on the binned profile, then together with the shape on the voxels
   themselves: its inner face to a few hundredths of a mm, also for walls too thin to reach their
   plateau (the old half-way level sat 0.1-0.25 mm inside them). The plate's face comes from the
   same slab fit of its profile. The fitted profile is subtracted from the CT everywhere, so a
   voxel shared by tissue and wall reads as its tissue fraction (HU - profile = air +
   t (tissue - air)); everything beyond the inner face minus ``wall_margin_mm`` (default 0: the
   face is unbiased) is cut, and occupancy there follows the fitted face.
6. Film lying on the specimen cannot be told from tissue by its HU. When free film is found
   (voxels > air + 150 HU, > 1.5 mm from the core, not within 3 mm of plate or walls, a sheet of
   >= 20 mm2) its tissue-equivalent thickness is measured on it (integrated HU excess over air in
   units of the tissue level, per unit area) and the whole surface - a bag goes all round, under
   the specimen too - is moved inward by that thickness: inward when in doubt, never outward.
7. Sub-voxel surface. Occupancy is the linear HU fraction (after step 5) between air and the local
   tissue level (Gaussian-weighted mean of the specimen interior, sigma 2 mm, clips excluded): its
   0.5 crossing is the partial-volume surface. Next to removed thin things (step 3) the HU says
   nothing about the surface, so there occupancy is the minimum of that fraction and the smoothed
   binary mask: it can only move the surface inward.
8. Clips inside tissue stay specimen (dense voxels are tissue candidates; enclosed holes and air
   pockets are filled). A wire or clip sticking out into air is thin and goes in step 3.

Speed: every distance is exact but computed over the bounding box it can reach (openings and
erosions by the Euclidean ball, tested only near the boundary; one distance transform per
structure for all thresholds; wall distances from the fitted shape), and the occupancy over the
core's box: about 0.2-0.7 s per full-size case on one core (docs/specimen-surface.md).

QC flags (:mod:`cases.imaging.specimen_qc`): the specimen touches the field-of-view edge,
its volume is implausible, a leak into a container or bag is suspected (more than 5 % of the
specimen's volume is in parts thinner than 4 mm: an opening with a 2 mm ball removes them; a
blobby specimen, even pressed on a wall or wrapped, stays under 1.5 %), the peeled "film" is
thicker than 0.5 mm (bag film is 0.1-0.3 mm: it is an unfitted wall the specimen kept at the
contact, so that side reads too wide), wrappings were removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from cases.imaging.components import largest_component
from cases.imaging.specimen_plate import (
    FACE_CONNECTIVITY,
    bounding_box,
    distance_up_to,
    ellipsoid_element,
    eroded,
    filled,
    find_holder_plate,
    opened,
    within_mm,
)
from cases.imaging.specimen_qc import qc_flags
from cases.imaging.specimen_walls import WallModel, film_thickness_mm, find_container_walls, plate_model

DEFAULT_AIR_HU = -1000.0
DENSE_HU = 1000.0  # clips and wires: never part of the tissue level
LEVEL_SIGMA_MM = 2.0
LEAK_SHEET_RADIUS_MM = 2.0
CROP_PAD_VOXELS = 4  # dilations (2), the 0.5-voxel Gaussians (2) and the peel's smoothing stay inside


@dataclass(frozen=True)
class SpecimenSurface:
    """The specimen in CT: ``mask`` (bool), ``occupancy`` (float32, 0.5 iso = surface), ``qc``."""

    mask: np.ndarray
    occupancy: np.ndarray
    qc: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)  # levels, volume, wrappings found (plain JSON)

    @property
    def qc_codes(self) -> list[str]:
        return [flag["code"] for flag in self.qc]


def _checked(ct_hu: np.ndarray, spacing) -> tuple[np.ndarray, tuple[float, float, float]]:
    ct = np.asarray(ct_hu, dtype=np.float32)
    if ct.ndim != 3 or min(ct.shape) < 3:
        raise ValueError(f"ct_hu must be a 3D array of at least 3 voxels per axis, got shape {ct.shape}")
    if not np.isfinite(ct).all():
        raise ValueError("ct_hu contains NaN or infinite values")
    try:
        spacing = tuple(float(s) for s in spacing)
    except TypeError as exc:
        raise ValueError("spacing must be three numbers (sz, sy, sx) in mm") from exc
    if len(spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing):
        raise ValueError(f"spacing must be three positive numbers (sz, sy, sx) in mm, got {spacing}")
    return ct, spacing


def _air_level(ct: np.ndarray) -> float:
    air = ct[ct < -700.0]
    return float(np.median(air)) if air.size >= 1000 else DEFAULT_AIR_HU


def _local_tissue_level(ct: np.ndarray, core: np.ndarray, spacing, air: float) -> np.ndarray:
    """Local tissue HU (float32): Gaussian-weighted mean of the interior, clips excluded.

    Computed over the core's box grown by ``CROP_PAD_VOXELS`` + 1, where the surface is looked for
    (exact there: the interior lies inside the box, the filters see zeros beyond it); elsewhere, as
    where the weight vanishes, the level is the interior's median."""
    inside = eroded(core, radius_mm=1.0, spacing=spacing)  # deeper than 1 mm
    inside &= ct < DENSE_HU
    if not inside.any():
        inside = core & (ct < DENSE_HU)
    fallback = float(np.median(ct[inside])) if inside.any() else -100.0
    level = np.full(ct.shape, np.clip(fallback, air + 300.0, 300.0), dtype=np.float32)
    box = bounding_box(core, pad=(CROP_PAD_VOXELS + 1,) * 3)
    if box is None or not inside.any():
        return level
    sigma = [LEVEL_SIGMA_MM / s for s in spacing]
    local = inside[box]
    weight = ndimage.gaussian_filter(local.astype(np.float32), sigma=sigma, mode="nearest")
    total = ndimage.gaussian_filter(np.where(local, ct[box], np.float32(0.0)), sigma=sigma, mode="nearest")
    local_level = np.where(weight > 1e-3, total / np.maximum(weight, 1e-6), fallback)
    level[box] = np.clip(local_level, air + 300.0, 300.0)  # never a level near air
    return level


def _separate_from_plate(candidate, near_plate, spacing, margin_mm: float) -> np.ndarray:
    """Largest piece found away from the plate (``near_plate``: within ``margin_mm`` of it), grown
    back by ``margin_mm`` inside tissue."""
    core = largest_component(mask=candidate & ~near_plate)
    return candidate & within_mm(core, radius_mm=margin_mm, spacing=spacing)


def _peel(occupancy: np.ndarray, *, thickness_mm: float, spacing) -> np.ndarray:
    """Move the 0.5 iso-surface inward by ``thickness_mm`` (first order: occ - t |grad occ|)."""
    if thickness_mm <= 0:
        return occupancy
    smooth = ndimage.gaussian_filter(occupancy, sigma=0.5, mode="nearest")
    grads = np.gradient(smooth, *spacing)
    slope = np.sqrt(sum(g * g for g in grads))
    # Thicker than the ramp: erode whole voxels first, then the sub-voxel rest.
    whole = np.floor(thickness_mm / min(spacing))
    peeled = occupancy
    if whole > 0:
        peeled = ndimage.grey_erosion(occupancy, footprint=ellipsoid_element(whole * min(spacing), spacing))
    rest = thickness_mm - whole * min(spacing)
    peeled = np.clip(peeled - rest * slope, 0.0, 1.0).astype(np.float32)
    return np.minimum(peeled, occupancy).astype(np.float32)


def specimen_surface_from_ct(
    *,
    ct_hu: np.ndarray,
    spacing: tuple[float, float, float],
    tissue_hu: float = -350.0,
    open_radius_mm: float = 1.0,
    plate_min_hu: float = 100.0,
    plate_max_thickness_mm: float = 8.0,
    plate_min_width_mm: float = 20.0,
    plate_margin_mm: float = 1.0,
    wall_margin_mm: float = 0.0,
) -> SpecimenSurface:
    """The specimen surface in ``ct_hu`` (Z, Y, X; spacing (sz, sy, sx) mm). See the module doc."""
    ct, spacing = _checked(ct_hu, spacing)
    air = _air_level(ct)
    plate = find_holder_plate(
        ct_hu=ct,
        spacing=spacing,
        plate_min_hu=plate_min_hu,
        plate_max_thickness_mm=plate_max_thickness_mm,
        plate_min_width_mm=plate_min_width_mm,
    )
    candidate = (ct > tissue_hu) & ~plate
    # Distances to the plate, computed once up to the farthest threshold used below.
    plate_distance = distance_up_to(plate, reach_mm=max(3.0, plate_margin_mm), spacing=spacing)
    body = opened(candidate, radius_mm=open_radius_mm, spacing=spacing)
    if plate.any():
        body = _separate_from_plate(body, plate_distance <= plate_margin_mm, spacing, plate_margin_mm)
    core = largest_component(mask=body)
    core_distance = distance_up_to(core, reach_mm=3.0, spacing=spacing)
    far_from_core = core_distance > 3.0
    near_plate = plate_distance <= 2.0
    far = far_from_core & ~near_plate
    walls: list[WallModel] = find_container_walls(ct=ct, core=core, far=far, spacing=spacing, air_hu=air)
    depths = [wall.signed_depth_mm(shape=ct.shape, spacing=spacing) for wall in walls]
    beyond_walls = np.zeros(ct.shape, bool)
    for depth in depths:
        beyond_walls |= depth > -wall_margin_mm
    if walls:
        core = largest_component(mask=core & ~beyond_walls)
    if not core.any():
        empty = np.zeros(ct.shape, bool)
        return SpecimenSurface(
            mask=empty,
            occupancy=np.zeros(ct.shape, np.float32),
            qc=qc_flags(mask=empty, spacing=spacing, walls=walls, leak_fraction=0.0, film_mm=0.0),
            details={"air_hu": air, "volume_ml": 0.0},
        )

    level = _local_tissue_level(ct, core, spacing, air)
    # Plate and walls: subtract their own measured edge profile, so a voxel shared by tissue and
    # plate/wall reads as its tissue fraction (HU - contribution = air + t (tissue - air)).
    plate_face = plate_model(ct=ct, plate=plate, core=core, near=near_plate & far_from_core, spacing=spacing,
                             air_hu=air)
    if plate_face is not None:  # its top face, found like a wall's, cuts the contact to sub-voxel precision
        walls_and_plate = [*walls, plate_face]
        depths.append(plate_face.signed_depth_mm(shape=ct.shape, spacing=spacing))
        beyond_walls |= depths[-1] > -wall_margin_mm
    else:
        walls_and_plate = walls
    # The surface lies within a voxel of the core: occupancy is computed over the core's box grown by
    # CROP_PAD_VOXELS (every filter below reaches at most that far, and occupancy beyond it is zero).
    box = bounding_box(core, pad=(CROP_PAD_VOXELS,) * 3)
    corrected = ct[box].copy()
    for model, depth in zip(walls_and_plate, depths, strict=True):
        corrected -= model.hu_contribution_from_depth(depth[box], air_hu=air)
    fraction = np.clip((corrected - air) / (level[box] - air), 0.0, 1.0).astype(np.float32)
    near_core = ndimage.binary_dilation(core[box], structure=FACE_CONNECTIVITY)
    raw = near_core & ((fraction >= 0.5) | core[box]) & ~plate[box] & ~beyond_walls[box]
    mask = filled(largest_component(mask=raw))

    # Structures the HU cannot separate from the surface: everything taken off that was tissue-like.
    # Tissue-like things not explained by plate or walls (film tails, gauze, wires, debris).
    # Distances to what lies beyond a plane or cylinder face are its depth (exact for both shapes).
    def near_structures_mm(radius_mm: float, where=(slice(None),) * 3) -> np.ndarray:
        near = plate_distance[where] <= radius_mm
        for depth in depths:
            near |= depth[where] > -wall_margin_mm - radius_mm
        return near

    around_mask = ndimage.binary_dilation(mask, structure=FACE_CONNECTIVITY)
    removed = candidate[box] & ~around_mask & ~near_structures_mm(1.5, box)
    near_removed = ndimage.binary_dilation(removed, structure=FACE_CONNECTIVITY, iterations=2)
    occupancy = fraction
    occupancy[ndimage.binary_erosion(mask, structure=FACE_CONNECTIVITY)] = 1.0
    occupancy[~around_mask] = 0.0
    if near_removed.any():
        smoothed_mask = ndimage.gaussian_filter(mask.astype(np.float32), sigma=0.5, mode="nearest")
        occupancy = np.where(near_removed, np.minimum(occupancy, smoothed_mask), occupancy)
    for wall, depth in zip(walls_and_plate, depths, strict=True):
        occupancy = np.minimum(occupancy, wall.occupancy_from_depth(depth[box], spacing=spacing,
                                                                    margin_mm=wall_margin_mm))

    # The plate's and walls' own partial-volume skins are not film.
    exclude = near_structures_mm(3.0)
    film_mm = film_thickness_mm(ct=ct, exclude=exclude, far=core_distance > 1.5, spacing=spacing,
                                air_hu=air, level=level)
    if film_mm > 0:
        # A bag goes all round, under the specimen too: peel everywhere.
        occupancy = _peel(occupancy, thickness_mm=film_mm, spacing=spacing)

    local_occupancy = occupancy.astype(np.float32)
    local_mask = filled(largest_component(mask=local_occupancy >= 0.5))
    local_occupancy[local_mask] = np.maximum(local_occupancy[local_mask], 0.5)
    local_occupancy[~local_mask] = np.minimum(local_occupancy[~local_mask], np.float32(0.4999))
    occupancy = np.zeros(ct.shape, np.float32)
    occupancy[box] = local_occupancy
    mask = np.zeros(ct.shape, bool)
    mask[box] = local_mask

    # Leak: a specimen is blobby; a sheet under 4 mm thick attached to it is a wall, bag or
    # fluid that was not separated (normal and wrapped phantoms: <= 1.4 % of the volume).
    appendage = local_mask & ~opened(local_mask, radius_mm=LEAK_SHEET_RADIUS_MM, spacing=spacing)
    leak_fraction = float(appendage.sum()) / max(int(local_mask.sum()), 1)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    details = {
        "air_hu": air,
        "tissue_level_hu": float(np.median(level[mask])) if mask.any() else None,
        "volume_ml": float(occupancy.sum()) * voxel_ml,
        "film_thickness_mm": film_mm,
        "container_walls": [wall.to_dict() for wall in walls],
        "holder_plate": bool(plate.any()),
    }
    qc = qc_flags(mask=mask, spacing=spacing, walls=walls, leak_fraction=leak_fraction, film_mm=film_mm)
    return SpecimenSurface(mask=mask, occupancy=occupancy, qc=qc, details=details)
