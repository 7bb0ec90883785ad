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
   :mod:`cases.imaging.specimen_walls`: a large sheet left after a 2 mm opening, far from the
   specimen and the plate, is fitted with a plane or a cylinder (algebraic circle fit refined by
   robust least squares). The plate gets a plane the same way.
5. Edge profiles. For each wall and the plate the mean HU across its free part (0.05 mm bins of
   the signed distance to the fitted surface) is its measured edge profile, blur included. Its
   inner (top) face is where that profile crosses half-way between air and its plateau (sub-voxel).
   The profile is subtracted from the CT everywhere, so a voxel shared by tissue and wall reads as
   its tissue fraction (HU - profile = air + t (tissue - air)); everything beyond the inner face
   minus ``wall_margin_mm`` (0.1 mm) is cut, and occupancy there follows the fitted face.
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

QC flags (:mod:`cases.imaging.specimen_qc`): the specimen touches the field-of-view edge,
its volume is implausible, a leak into a container or bag is suspected (more than 5 % of the
specimen's volume is in parts thinner than 4 mm: an opening with a 2 mm ball removes them; a
blobby specimen, even pressed on a wall or wrapped, stays under 1.5 %), wrappings were removed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from cases.imaging.components import largest_component
from cases.imaging.specimen_plate import (
    FACE_CONNECTIVITY,
    ellipsoid_element,
    find_holder_plate,
    opened,
)
from cases.imaging.specimen_qc import qc_flags
from cases.imaging.specimen_walls import WallModel, film_thickness_mm, find_container_walls, plate_model

DEFAULT_AIR_HU = -1000.0
DENSE_HU = 1000.0  # clips and wires: never part of the tissue level
LEVEL_SIGMA_MM = 2.0
LEAK_SHEET_RADIUS_MM = 2.0


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
    """Local tissue HU (float32): Gaussian-weighted mean of the interior, clips excluded."""
    inside = ndimage.distance_transform_edt(core, sampling=spacing) > 1.0
    inside &= ct < DENSE_HU
    if not inside.any():
        inside = core & (ct < DENSE_HU)
    fallback = float(np.median(ct[inside])) if inside.any() else -100.0
    sigma = [LEVEL_SIGMA_MM / s for s in spacing]
    weight = ndimage.gaussian_filter(inside.astype(np.float32), sigma=sigma, mode="nearest")
    total = ndimage.gaussian_filter(np.where(inside, ct, 0.0).astype(np.float32), sigma=sigma, mode="nearest")
    level = np.where(weight > 1e-3, total / np.maximum(weight, 1e-6), fallback)
    return np.clip(level, air + 300.0, 300.0).astype(np.float32)  # never a level near air


def _separate_from_plate(candidate, plate, spacing, margin_mm: float) -> np.ndarray:
    """Largest piece found away from the plate, grown back by ``margin_mm`` inside tissue."""
    ball = ellipsoid_element(margin_mm, spacing)
    near_plate = ndimage.binary_dilation(plate, structure=ball)
    core = largest_component(mask=candidate & ~near_plate)
    return candidate & ndimage.binary_dilation(core, structure=ball)


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
    wall_margin_mm: float = 0.1,
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
    body = opened(candidate, radius_mm=open_radius_mm, spacing=spacing)
    if plate.any():
        body = _separate_from_plate(body, plate, spacing, plate_margin_mm)
    core = largest_component(mask=body)
    walls: list[WallModel] = find_container_walls(
        ct=ct, candidate=candidate, core=core, plate=plate, spacing=spacing, air_hu=air
    )
    beyond_walls = np.zeros(ct.shape, bool)
    for wall in walls:
        beyond_walls |= wall.signed_depth_mm(shape=ct.shape, spacing=spacing) > -wall_margin_mm
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
    plate_face = plate_model(ct=ct, plate=plate, core=core, spacing=spacing, air_hu=air)
    models = [*walls, *filter(None, [plate_face])]
    if plate_face is not None:  # its top face, found like a wall's, cuts the contact to sub-voxel precision
        walls_and_plate = [*walls, plate_face]
        beyond_walls |= plate_face.signed_depth_mm(shape=ct.shape, spacing=spacing) > -wall_margin_mm
    else:
        walls_and_plate = walls
    corrected = ct.copy()
    for model in models:
        corrected -= model.hu_contribution(shape=ct.shape, spacing=spacing, air_hu=air)
    fraction = np.clip((corrected - air) / (level - air), 0.0, 1.0).astype(np.float32)
    near_core = ndimage.binary_dilation(core, structure=FACE_CONNECTIVITY)
    raw = near_core & ((fraction >= 0.5) | core) & ~plate & ~beyond_walls
    mask = ndimage.binary_fill_holes(largest_component(mask=raw))

    # Structures the HU cannot separate from the surface: everything taken off that was tissue-like.
    # Tissue-like things not explained by plate or walls (film tails, gauze, wires, debris).
    structures = plate | beyond_walls
    near_structures = (
        ndimage.distance_transform_edt(~structures, sampling=spacing) <= 1.5 if structures.any() else structures
    )
    removed = candidate & ~ndimage.binary_dilation(mask, structure=FACE_CONNECTIVITY) & ~near_structures
    near_removed = ndimage.binary_dilation(removed, structure=FACE_CONNECTIVITY, iterations=2)
    occupancy = fraction.copy()
    occupancy[ndimage.binary_erosion(mask, structure=FACE_CONNECTIVITY)] = 1.0
    occupancy[~ndimage.binary_dilation(mask, structure=FACE_CONNECTIVITY)] = 0.0
    smoothed_mask = ndimage.gaussian_filter(mask.astype(np.float32), sigma=0.5, mode="nearest")
    occupancy = np.where(near_removed, np.minimum(occupancy, smoothed_mask), occupancy)
    for wall in walls_and_plate:
        occupancy = np.minimum(occupancy, wall.occupancy(shape=ct.shape, spacing=spacing, margin_mm=wall_margin_mm))

    # The plate's and walls' own partial-volume skins are not film.
    exclude = (
        ndimage.distance_transform_edt(~structures, sampling=spacing) <= 3.0 if structures.any() else structures
    )
    film_mm = film_thickness_mm(ct=ct, exclude=exclude, core=core, spacing=spacing, air_hu=air, level=level)
    if film_mm > 0:
        # A bag goes all round, under the specimen too: peel everywhere.
        occupancy = _peel(occupancy, thickness_mm=film_mm, spacing=spacing)

    occupancy = occupancy.astype(np.float32)
    mask = ndimage.binary_fill_holes(largest_component(mask=occupancy >= 0.5))
    occupancy[mask] = np.maximum(occupancy[mask], 0.5)
    occupancy[~mask] = np.minimum(occupancy[~mask], np.float32(0.4999))

    # Leak: a specimen is blobby; a sheet under 4 mm thick attached to it is a wall, bag or
    # fluid that was not separated (normal and wrapped phantoms: <= 1.4 % of the volume).
    appendage = mask & ~opened(mask, radius_mm=LEAK_SHEET_RADIUS_MM, spacing=spacing)
    leak_fraction = float(appendage.sum()) / max(int(mask.sum()), 1)
    voxel_ml = float(np.prod(spacing)) / 1000.0
    details = {
        "air_hu": air,
        "tissue_level_hu": float(np.median(level[mask])),
        "volume_ml": float(occupancy.sum()) * voxel_ml,
        "film_thickness_mm": film_mm,
        "container_walls": [wall.to_dict() for wall in walls],
        "holder_plate": bool(plate.any()),
    }
    qc = qc_flags(mask=mask, spacing=spacing, walls=walls, leak_fraction=leak_fraction, film_mm=film_mm)
    return SpecimenSurface(mask=mask, occupancy=occupancy, qc=qc, details=details)
