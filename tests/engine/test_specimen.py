"""Specimen mask from CT: air and holder plate removed, holes filled, clips kept."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from cases.imaging.specimen import find_holder_plate, specimen_mask_from_ct

SPACING = (0.5, 0.5, 0.5)
SHAPE = (50, 64, 64)  # 25 x 32 x 32 mm
PLATE_ROWS = slice(46, 52)  # a 3 mm slab across the whole field of view, y (rows) 46..51


def _ellipsoid(centre, radii) -> np.ndarray:
    k, j, i = np.meshgrid(*[np.arange(n) for n in SHAPE], indexing="ij")
    return ((k - centre[0]) / radii[0]) ** 2 + ((j - centre[1]) / radii[1]) ** 2 + (
        (i - centre[2]) / radii[2]
    ) ** 2 <= 1.0


def _dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * (a & b).sum() / (a.sum() + b.sum())


def _scene(*, plate: np.ndarray, above: np.ndarray, seed: int = 0):
    """CT of a fat/fibroglandular specimen resting on a plate, with an air pocket and a clip.

    ``above`` is the half-space on the specimen's side of the plate; the specimen's bottom is
    flattened against the plate, as a soft specimen is.
    """
    specimen = _ellipsoid((25, 30, 32), (18, 17, 22)) & above & ~plate
    ct = np.full(SHAPE, -1000.0, dtype=np.float32)
    ct[specimen] = -100.0  # fat
    ct[_ellipsoid((25, 30, 26), (8, 6, 8)) & specimen] = 40.0  # fibroglandular tissue
    ct[_ellipsoid((20, 44, 40), (5, 4, 5)) & specimen] = 40.0  # ... also resting on the plate
    ct[plate] = 200.0
    pocket = _ellipsoid((25, 30, 40), (3, 3, 3))  # enclosed air
    ct[pocket] = -1000.0
    ct = ndimage.gaussian_filter(ct, sigma=0.7)  # partial volume at every edge
    clip = np.zeros(SHAPE, dtype=bool)
    clip[24:26, 16:18, 30:32] = True  # inside, just under the top surface
    ct[clip] = 3000.0
    ct += np.random.default_rng(seed).normal(0.0, 20.0, SHAPE).astype(np.float32)
    return ct, specimen, pocket, clip


def _check_specimen(mask, truth, pocket, clip):
    assert mask.dtype == bool and mask.shape == SHAPE
    assert _dice(mask, truth) > 0.95
    # Voxels lost only in the outermost layer (partial volume decides there) ...
    assert not (truth & ~mask & ndimage.binary_erosion(truth)).any()
    # ... and voxels gained (plate skin lip, partial volume) only within 1 mm = 2 voxels outside.
    assert ndimage.distance_transform_edt(~truth)[mask].max() <= 2.0
    assert mask[pocket].all()  # air pocket filled
    assert mask[clip].all()  # clip stays specimen


def test_plate_removed_holes_filled_clips_kept():
    plate = np.zeros(SHAPE, dtype=bool)
    plate[:, PLATE_ROWS, :] = True
    above = np.zeros(SHAPE, dtype=bool)
    above[:, : PLATE_ROWS.start, :] = True
    ct, truth, pocket, clip = _scene(plate=plate, above=above)
    found = find_holder_plate(ct_hu=ct, spacing=SPACING)
    assert found[:, 47:51, :].all()  # the plate's core
    assert not (found & truth).any()
    mask = specimen_mask_from_ct(ct_hu=ct, spacing=SPACING)
    _check_specimen(mask, truth, pocket, clip)
    # The contact face survives: the specimen's last row above the plate is specimen ...
    footprint = truth[:, PLATE_ROWS.start - 1, :]
    assert footprint.sum() > 250 and mask[:, PLATE_ROWS.start - 1, :][footprint].mean() > 0.97
    # ... and the plate under it is not specimen (its edge ring is a partial-volume lip).
    inner = ndimage.binary_erosion(footprint, iterations=2)
    assert mask[:, PLATE_ROWS.start, :][inner].mean() < 0.05
    assert not mask[:, PLATE_ROWS.start + 1 :, :].any()


def test_plate_found_at_any_tilt():
    k, j, i = np.meshgrid(*[np.arange(n) * 0.5 for n in SHAPE], indexing="ij")
    height = j * np.cos(np.radians(20)) + i * np.sin(np.radians(20))  # mm along the plate normal
    plate = np.abs(height - 27.0) <= 1.5  # a 3 mm slab tilted 20 degrees
    ct, truth, pocket, clip = _scene(plate=plate, above=height < 25.5)
    found = find_holder_plate(ct_hu=ct, spacing=SPACING)
    assert not (found & truth).any() and not (found & clip).any()
    assert found.sum() > 0.6 * plate.sum() and not (found & ~ndimage.binary_dilation(plate)).any()
    mask = specimen_mask_from_ct(ct_hu=ct, spacing=SPACING)
    _check_specimen(mask, truth, pocket, clip)
    assert not (mask & ndimage.binary_erosion(plate, iterations=2)).any()  # nothing of the plate core


def test_without_plate_largest_tissue_component():
    ct = np.full(SHAPE, -1000.0, dtype=np.float32)
    big = _ellipsoid((25, 32, 32), (12, 12, 12))
    debris = _ellipsoid((5, 5, 5), (2, 2, 2))
    ct[big | debris] = -80.0
    assert not find_holder_plate(ct_hu=ct, spacing=SPACING).any()
    mask = specimen_mask_from_ct(ct_hu=ct, spacing=SPACING)
    assert np.array_equal(mask, big)


def test_small_dense_object_is_not_a_plate():
    ct = np.full(SHAPE, -1000.0, dtype=np.float32)
    ct[_ellipsoid((25, 32, 32), (12, 12, 12))] = -80.0
    ct[10:20, 10:20, 10:20] = 250.0  # dense but a cube, not a thin slab
    assert not find_holder_plate(ct_hu=ct, spacing=SPACING).any()


def test_surface_occupancy_and_fov_edge_flag():
    from cases.imaging.specimen import specimen_surface_from_ct

    ct = np.full(SHAPE, -1000.0, dtype=np.float32)
    ct[_ellipsoid((25, 32, 32), (12, 12, 12))] = -80.0
    surface = specimen_surface_from_ct(ct_hu=ct, spacing=SPACING)
    assert np.array_equal(surface.mask, surface.occupancy >= 0.5)
    assert surface.occupancy.dtype == np.float32 and 0.0 <= surface.occupancy.min() <= surface.occupancy.max() <= 1
    assert "fov_edge" not in surface.qc_codes
    cut = specimen_surface_from_ct(ct_hu=ct[:, :, 20:], spacing=SPACING)  # the FOV cuts the specimen
    assert "fov_edge" in cut.qc_codes and all({"code", "message"} <= set(f) for f in cut.qc)


def test_bad_input_is_refused():
    import pytest

    from cases.imaging.specimen import specimen_surface_from_ct

    with pytest.raises(ValueError, match="3D"):
        specimen_surface_from_ct(ct_hu=np.zeros((4, 4)), spacing=SPACING)
    with pytest.raises(ValueError, match="spacing"):
        specimen_surface_from_ct(ct_hu=np.zeros((8, 8, 8)), spacing=(0.5, 0.0, 0.5))


def test_cropped_morphology_equals_the_distance_transform_definitions():
    """The fast helpers give exactly the voxels of the distance-transform definitions they replace,
    at anisotropic spacing and with the mask touching the array's edge."""
    from cases.imaging.specimen_plate import eroded, filled, opened, within_mm

    rng = np.random.default_rng(3)
    for spacing in [(0.5, 0.5, 0.5), (0.98, 0.4, 0.4)]:
        mask = ndimage.gaussian_filter(rng.random((30, 40, 36)), 2) > 0.5
        mask[:, :, :2] |= rng.random((30, 40, 2)) > 0.3
        for radius in (1.0, 2.0):
            inside = ndimage.distance_transform_edt(mask, sampling=spacing) > radius
            assert np.array_equal(eroded(mask, radius_mm=radius, spacing=spacing), inside)
            opening = (ndimage.distance_transform_edt(~inside, sampling=spacing) <= radius) & mask
            assert np.array_equal(opened(mask, radius_mm=radius, spacing=spacing), opening)
            near = ndimage.distance_transform_edt(~mask, sampling=spacing) <= 1.5 * radius
            assert np.array_equal(within_mm(mask, radius_mm=1.5 * radius, spacing=spacing), near)
        assert np.array_equal(filled(mask), ndimage.binary_fill_holes(mask))


def test_thin_near_water_wall_is_fitted_and_its_face_found():
    """A specimen pressed on a 1 mm, +4 HU plane wall (its blurred ridge stays near -200 HU, far
    below the tissue threshold): the wall is fitted, no film is measured, and the surface at the
    contact sits within 0.1 mm inside the true face, never outside."""
    from cases.imaging.specimen import specimen_surface_from_ct

    shape, spacing, sub = (48, 56, 64), (0.5, 0.5, 0.5), 4
    face_x, thickness = 22.2, 1.0  # mm; the wall is x in [face, face + thickness], the specimen x < face
    axes = [(np.arange(n * sub) + 0.5) / sub * s for n, s in zip(shape, spacing, strict=True)]
    z, y, x = np.meshgrid(*axes, indexing="ij", sparse=True)
    blob = ((z - 12.0) / 9.0) ** 2 + ((y - 13.0) / 8.0) ** 2 + ((x - 17.0) / 9.0) ** 2 <= 1.0
    specimen = blob & (x < face_x)
    wall = (x >= face_x) & (x < face_x + thickness) & (y > 2.0)

    def voxels(fine):  # partial volume: the fraction of sub-samples inside
        return fine.reshape(shape[0], sub, shape[1], sub, shape[2], sub).mean(axis=(1, 3, 5))

    truth = voxels(specimen)
    ct = -1000.0 + truth * 920.0 + voxels(np.broadcast_to(wall, specimen.shape)) * 1004.0
    ct = ndimage.gaussian_filter(ct, 0.7).astype(np.float32)  # the scanner's blur (0.35 mm)
    ct += np.random.default_rng(0).normal(0.0, 10.0, shape).astype(np.float32)

    surface = specimen_surface_from_ct(ct_hu=ct, spacing=spacing)
    assert len(surface.details["container_walls"]) == 1 and surface.details["film_thickness_mm"] == 0.0
    assert surface.details["container_walls"][0]["kind"] == "plane"
    # Along rows through the contact, where the occupancy crosses 0.5 (x of the crossing, mm).
    profile = surface.occupancy[20:28, 22:30, :].mean(axis=(0, 1))
    i = int(np.flatnonzero(profile >= 0.5)[-1])
    crossing = (i + (profile[i] - 0.5) / (profile[i] - profile[i + 1])) * spacing[2] + 0.5 * spacing[2]
    assert face_x - 0.1 <= crossing <= face_x + 0.02, crossing


def _wall_strip_scene(*, strip_width_mm: float, thickness_mm: float, face_x: float = 20.5):
    """A specimen pressed on a +4 HU plane wall that is only a strip ``strip_width_mm`` wide (y) and
    34 mm long (z), the contact near one end: its free part is one long narrow sheet. Returns the CT,
    the sub-sampling helper (fine boolean field -> voxel fractions) and the fine axes."""
    shape, spacing, sub = (84, 48, 56), (0.5, 0.5, 0.5), 4
    axes = [(np.arange(n * sub) + 0.5) / sub * s for n, s in zip(shape, spacing, strict=True)]
    z, y, x = np.meshgrid(*axes, indexing="ij", sparse=True)
    blob = ((z - 12.0) / 8.0) ** 2 + ((y - 12.0) / 7.0) ** 2 + ((x - 14.0) / 9.0) ** 2 <= 1.0
    wall = (x >= face_x) & (x < face_x + thickness_mm) & (np.abs(y - 12.0) <= strip_width_mm / 2) & (z >= 6.0)
    wall &= z <= 40.0
    fine_shape = tuple(n * sub for n in shape)

    def voxels(fine):  # partial volume: the fraction of sub-samples inside
        fine = np.broadcast_to(fine, fine_shape)
        return fine.reshape(shape[0], sub, shape[1], sub, shape[2], sub).mean(axis=(1, 3, 5))

    ct = -1000.0 + voxels(blob & (x < face_x)) * 920.0 + voxels(wall) * 1004.0
    ct = ndimage.gaussian_filter(ct, 0.7).astype(np.float32)  # the scanner's blur (0.35 mm)
    ct += np.random.default_rng(0).normal(0.0, 10.0, shape).astype(np.float32)
    return ct, voxels, (z, y, x)


def _contact_crossing_mm(occupancy: np.ndarray) -> float:
    """x (mm) where the occupancy crosses 0.5 along rows through the middle of the contact."""
    profile = occupancy[20:28, 20:28, :].mean(axis=(0, 1))
    i = int(np.flatnonzero(profile >= 0.5)[-1])
    return float((i + (profile[i] - 0.5) / (profile[i] - profile[i + 1])) * 0.5 + 0.25)


def test_long_narrow_wall_strip_is_fitted_as_a_wall():
    """The specimen hides most of the wall: its free part is a 12 x 21 mm strip (under the old 15 mm
    minimum width). It is fitted as a plane, nothing is peeled as film, and the surface at the contact
    lies within 0.1 mm of the true face, never outside it."""
    from cases.imaging.specimen import specimen_surface_from_ct

    ct, _, _ = _wall_strip_scene(strip_width_mm=12.0, thickness_mm=1.0)
    surface = specimen_surface_from_ct(ct_hu=ct, spacing=(0.5, 0.5, 0.5))
    walls = surface.details["container_walls"]
    assert len(walls) == 1 and walls[0]["kind"] == "plane" and surface.details["film_thickness_mm"] == 0.0
    assert "thick_wrapping_layer" not in surface.qc_codes
    assert 20.5 - 0.1 <= _contact_crossing_mm(surface.occupancy) <= 20.5 + 0.02


def test_thick_unfitted_layer_is_flagged_and_a_negative_call_becomes_indeterminate():
    """A 7 mm wide, 1.2 mm thick wall strip is too narrow to fit: it is peeled as "film" about 1 mm
    thick, yet the specimen keeps the wall at the contact and that side reads too wide. The layer is
    far thicker than bag film, so QC flags it, and a margin that reads negative is not trusted."""
    from cases.imaging.specimen import specimen_surface_from_ct
    from inference.engine.margins import analyse_margins

    ct, voxels, (z, y, x) = _wall_strip_scene(strip_width_mm=7.0, thickness_mm=1.2)
    surface = specimen_surface_from_ct(ct_hu=ct, spacing=(0.5, 0.5, 0.5))
    assert not surface.details["container_walls"] and surface.details["film_thickness_mm"] > 0.5
    assert "thick_wrapping_layer" in surface.qc_codes
    # A tumour 0.8 mm from the wall's face (truly positive) reads over 1 mm: negative without the flag.
    tumour = voxels((z - 12.0) ** 2 + (y - 12.0) ** 2 + (x - 17.7) ** 2 <= 2.0**2)
    unflagged = [flag for flag in surface.qc if flag["code"] != "thick_wrapping_layer"]
    common = {"tumour_probability": tumour, "specimen_occupancy": surface.occupancy, "spacing": (0.5, 0.5, 0.5)}
    assert analyse_margins(**common, specimen_qc=unflagged).status == "negative"
    assert analyse_margins(**common, specimen_qc=surface.qc).status == "indeterminate"


@pytest.mark.parametrize("film_mm, flagged", [(0.0, False), (0.3, False), (0.5, False), (0.51, True), (1.5, True)])
def test_thick_wrapping_layer_flag_from_the_measured_film(film_mm, flagged):
    from cases.imaging.specimen_qc import qc_flags

    mask = np.zeros((20, 20, 20), bool)
    mask[5:15, 5:15, 5:15] = True
    flags = qc_flags(mask=mask, spacing=(2.0, 2.0, 2.0), walls=[], leak_fraction=0.0, film_mm=film_mm)
    assert ("thick_wrapping_layer" in [flag["code"] for flag in flags]) == flagged
