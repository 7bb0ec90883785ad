"""Margin analysis against geometry whose answers are known exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from cases.imaging.volume import Grid
from inference.engine.margins import analyse_margins


def _box(shape, lo, hi) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask[lo[0] : hi[0] + 1, lo[1] : hi[1] + 1, lo[2] : hi[2] + 1] = True
    return mask


def _ellipsoid(shape, centre_mm, radius_mm, spacing) -> np.ndarray:
    axes = np.meshgrid(*[np.arange(n) * s for n, s in zip(shape, spacing, strict=True)], indexing="ij")
    return sum(((a - c) / r) ** 2 for a, c, r in zip(axes, centre_mm, radius_mm, strict=True)) <= 1.0 + 1e-9


def _box_margin(tumour, lo, hi, spacing) -> float:
    """Healthy tissue between tumour and a box's surface layer: min over axes of gap * spacing."""
    idx = np.argwhere(tumour)
    gaps = [(idx[:, a].min() - lo[a]) * spacing[a] for a in range(3)]
    gaps += [(hi[a] - idx[:, a].max()) * spacing[a] for a in range(3)]
    return float(min(gaps))


def _brute_force(tumour, specimen, spacing) -> float:
    """Smallest gap between tumour voxel boxes and the boxes of outside voxels touching the specimen."""
    padded = np.pad(specimen, 1)
    surface = ndimage.binary_dilation(padded) & ~padded
    spacing = np.asarray(spacing)
    t = (np.argwhere(tumour) + 1) * spacing
    s = np.argwhere(surface) * spacing
    separation = np.maximum(np.abs(t[:, None, :] - s[None, :, :]) - spacing, 0.0)
    return float(np.sqrt((separation**2).sum(-1)).min())


def test_sphere_in_box_isotropic():
    shape, lo, hi, spacing = (40, 40, 40), (4, 4, 4), (35, 35, 35), (1.0, 1.0, 1.0)
    specimen = _box(shape, lo, hi)
    tumour = _ellipsoid(shape, (12, 20, 20), (4, 4, 4), spacing)  # reaches k = 8: 4 clear voxels
    result = analyse_margins(tumour_mask=tumour, specimen_mask=specimen, spacing=spacing)
    assert result.closest_mm == pytest.approx(4.0) == pytest.approx(_box_margin(tumour, lo, hi, spacing))
    assert result.status == "negative"
    assert result.tumour_point.index == (8, 20, 20) and result.surface_point.index == (3, 20, 20)
    assert result.tumour_point.patient_mm is None  # no grid given
    assert result.tumour_volume_ml == pytest.approx(tumour.sum() / 1000.0)
    # Relation to the specimen EDT: centre-to-outside distance minus one voxel along the approach.
    edt = ndimage.distance_transform_edt(specimen, sampling=spacing)
    assert result.closest_mm == pytest.approx(edt[tumour].min() - 1.0)


def test_sphere_in_box_anisotropic():
    spacing = (2.0, 0.5, 0.5)
    shape, lo, hi = (20, 80, 80), (2, 8, 8), (17, 71, 71)
    specimen = _box(shape, lo, hi)
    tumour = _ellipsoid(shape, (16.0, 10.0, 20.0), (4.0, 4.0, 4.0), spacing)  # j from 12: 4 x 0.5 mm clear
    result = analyse_margins(tumour_mask=tumour, specimen_mask=specimen, spacing=spacing)
    assert result.closest_mm == pytest.approx(2.0) == pytest.approx(_box_margin(tumour, lo, hi, spacing))
    # Depth along the coarse axis is measured in its own 2 mm steps: k from 6 -> (6 - 2) * 2 mm.
    deep = _ellipsoid(shape, (16.0, 20.0, 20.0), (4.0, 4.0, 4.0), spacing)
    assert analyse_margins(
        tumour_mask=deep, specimen_mask=specimen, spacing=spacing
    ).closest_mm == pytest.approx(_box_margin(deep, lo, hi, spacing))
    assert _box_margin(deep, lo, hi, spacing) == pytest.approx(8.0)
    assert result.tumour_volume_ml == pytest.approx(tumour.sum() * 0.5 / 1000.0)


def test_matches_brute_force_on_round_specimen():
    spacing = (1.5, 0.7, 0.9)
    shape = (20, 40, 34)
    specimen = _ellipsoid(shape, (14.0, 14.0, 15.0), (12.0, 12.0, 13.0), spacing)
    tumour = _ellipsoid(shape, (18.0, 20.0, 20.0), (4.0, 5.0, 3.0), spacing) & specimen
    result = analyse_margins(tumour_mask=tumour, specimen_mask=specimen, spacing=spacing)
    assert result.closest_mm == pytest.approx(_brute_force(tumour, specimen, spacing))


def test_oblique_approach_is_the_gap_between_voxel_boxes():
    # One tumour voxel two voxels in along i and one along j from a specimen corner notch: the
    # healthy tissue in between is 2 voxels thick (the centre-to-centre diagonal would say sqrt(5)).
    spacing = (1.0, 0.5, 0.5)
    specimen = _box((10, 20, 20), (0, 0, 0), (9, 19, 19))
    specimen[:, :5, :5] = False  # a notch: its edge at j, i = 5
    tumour = np.zeros_like(specimen)
    tumour[5, 4, 7] = True  # i: 2 clear voxels (5, 6); j: the notch's side is level with it
    result = analyse_margins(tumour_mask=tumour, specimen_mask=specimen, spacing=spacing)
    assert result.closest_mm == pytest.approx(1.0)  # 2 x 0.5 mm
    assert result.closest_mm == pytest.approx(_brute_force(tumour, specimen, spacing))
    corner = np.zeros_like(specimen)
    corner[5, 5, 5] = True  # touches the notch only at an edge: tumour at the surface
    assert analyse_margins(tumour_mask=corner, specimen_mask=specimen, spacing=spacing).closest_mm == 0.0


def test_agrees_with_the_phantom_truth_on_generated_masks():
    """The product and the generator's independent truth measure the same gap."""
    from cases.phantoms.truth import measure_margins

    rng = np.random.default_rng(7)
    spacing = (0.6, 0.4, 0.4)
    grid = Grid(shape=(40, 60, 60), spacing=spacing, origin=(0.0, 0.0, 0.0))
    for _ in range(4):
        specimen = _ellipsoid(grid.shape, (12.0, 12.0, 12.0), tuple(rng.uniform(8, 11, 3)), spacing)
        centre = (12.0, 12.0, 12.0) + rng.uniform(-5, 5, 3)
        tumour = _ellipsoid(grid.shape, tuple(centre), tuple(rng.uniform(1.5, 3.5, 3)), spacing) & specimen
        ours = analyse_margins(tumour_mask=tumour, specimen_mask=specimen, spacing=spacing, grid=grid)
        truth = measure_margins(specimen=specimen, tumour=tumour, grid=grid)
        assert ours.closest_mm == pytest.approx(truth.closest_mm, abs=1e-4)


def test_touching_surface_is_zero_and_positive():
    shape, lo, hi, spacing = (30, 30, 30), (3, 3, 3), (26, 26, 26), (1.0, 1.0, 1.0)
    specimen = _box(shape, lo, hi)
    tumour = _box(shape, (3, 10, 10), (8, 15, 15))  # its k = 3 layer is the specimen surface
    for threshold in (1.0, 0.0):
        result = analyse_margins(
            tumour_mask=tumour, specimen_mask=specimen, spacing=spacing, threshold_mm=threshold
        )
        assert result.closest_mm == 0.0 and result.status == "positive"
    one_clear = _box(shape, (5, 10, 10), (8, 15, 15))  # k = 3 and 4 healthy -> 2 mm
    assert analyse_margins(tumour_mask=one_clear, specimen_mask=specimen, spacing=spacing).closest_mm == 2.0
    one_voxel = _box(shape, (4, 10, 10), (8, 15, 15))  # exactly 1 mm: close counts as positive
    assert (
        analyse_margins(tumour_mask=one_voxel, specimen_mask=specimen, spacing=spacing).status == "positive"
    )
    assert (
        analyse_margins(
            tumour_mask=one_voxel, specimen_mask=specimen, spacing=spacing, threshold_mm=0.0
        ).status
        == "negative"
    )


def test_tumour_beyond_specimen_counts_as_zero():
    shape, lo, hi, spacing = (20, 20, 20), (3, 3, 3), (16, 16, 16), (1.0, 1.0, 1.0)
    tumour = _box(shape, (1, 8, 8), (6, 10, 10))
    result = analyse_margins(tumour_mask=tumour, specimen_mask=_box(shape, lo, hi), spacing=spacing)
    assert result.closest_mm == 0.0 and result.status == "positive"
    assert result.tumour_voxels_outside_specimen == 2 * 9
    face = {f.face: f for f in result.faces}
    assert face["-z"].distance_mm == 0.0


def test_no_tumour_detected():
    specimen = _box((10, 10, 10), (2, 2, 2), (7, 7, 7))
    result = analyse_margins(
        tumour_mask=np.zeros((10, 10, 10), bool),
        specimen_mask=specimen,
        spacing=(1, 1, 1),
        suv=np.ones((10, 10, 10)),
    )
    assert result.status == "no_tumour_detected"
    assert result.closest_mm is None and result.faces == () and result.slices == ()
    assert result.suv_max is None and result.tumour_volume_ml == 0.0
    json.dumps(result.to_dict())


OFF_CENTRE = {"-z": 7.0, "+z": 18.0, "-y": 15.0, "+y": 10.0, "-x": 5.0, "+x": 20.0}


def _off_centre_case():
    shape, lo, hi = (40, 40, 40), (4, 4, 4), (35, 35, 35)
    specimen = _box(shape, lo, hi)
    tumour = _ellipsoid(shape, (14, 22, 12), (3, 3, 3), (1.0, 1.0, 1.0))  # k 11-17, j 19-25, i 9-15
    return specimen, tumour


def test_per_face_distances_identity_grid():
    specimen, tumour = _off_centre_case()
    grid = Grid(shape=(40, 40, 40), spacing=(1.0, 1.0, 1.0), origin=(-20.0, 5.0, 100.0))
    result = analyse_margins(tumour_mask=tumour, specimen_mask=specimen, spacing=(1.0, 1.0, 1.0), grid=grid)
    assert {f.face: f.distance_mm for f in result.faces} == pytest.approx(OFF_CENTRE)
    assert all(f.surface_voxels > 0 for f in result.faces)
    assert result.closest_mm == 5.0
    assert result.tumour_point.index == (14, 22, 9) and result.surface_point.index == (14, 22, 3)
    assert result.tumour_point.patient_mm == pytest.approx((-11.0, 27.0, 114.0))
    assert result.surface_point.patient_mm == pytest.approx((-17.0, 27.0, 114.0))
    minus_x = next(f for f in result.faces if f.face == "-x")
    assert minus_x.surface_point.index == (14, 22, 3) and minus_x.status == "negative"


def test_faces_follow_grid_direction_and_orientation():
    specimen, tumour = _off_centre_case()
    # Columns (i) run towards -x and slices (k) towards -z: low i is the +x face, low k the +z face.
    grid = Grid(
        shape=(40, 40, 40),
        spacing=(1.0, 1.0, 1.0),
        origin=(0.0, 0.0, 0.0),
        direction=((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
    )
    orientation = {"+x": "lateral", "-x": "medial", "+z": "superior"}
    result = analyse_margins(
        tumour_mask=tumour, specimen_mask=specimen, spacing=(1, 1, 1), grid=grid, orientation=orientation
    )
    faces = {f.face: f for f in result.faces}
    expected = dict(OFF_CENTRE)
    expected["+x"], expected["-x"] = OFF_CENTRE["-x"], OFF_CENTRE["+x"]
    expected["+z"], expected["-z"] = OFF_CENTRE["-z"], OFF_CENTRE["+z"]
    assert {k: f.distance_mm for k, f in faces.items()} == pytest.approx(expected)
    assert faces["+x"].anatomical == "lateral" and faces["+z"].anatomical == "superior"
    assert faces["-y"].anatomical is None
    with pytest.raises(ValueError, match="orientation"):
        analyse_margins(
            tumour_mask=tumour, specimen_mask=specimen, spacing=(1, 1, 1), orientation={"up": "superior"}
        )


def test_per_slice_in_plane_distances():
    specimen, tumour = _off_centre_case()
    tumour = tumour.copy()
    tumour[4:6, 18:22, 18:22] = True  # a second focus in the top two slices, far from the sides
    result = analyse_margins(tumour_mask=tumour, specimen_mask=specimen, spacing=(1.0, 1.0, 1.0))
    slices = {s.k: s for s in result.slices}
    assert sorted(slices) == [4, 5, *range(11, 18)]
    assert slices[14].distance_mm == 5.0  # full disc, i from 9
    assert slices[12].distance_mm == 6.0  # disc radius sqrt(5): i from 10
    assert slices[11].distance_mm == 8.0  # single voxel at i = 12
    # In 3D the focus at k = 4 is on the surface; in its own lamella it is 14 mm from the sides.
    assert result.closest_mm == 0.0
    assert slices[4].distance_mm == 14.0 and slices[4].status == "negative"
    assert slices[14].tumour_point.index == (14, 22, 9) and slices[14].surface_point.index == (14, 22, 3)


def test_per_slice_anisotropic_in_plane_spacing():
    spacing = (2.0, 0.5, 0.8)
    lo, hi = (0, 2, 2), (9, 27, 27)
    specimen = _box((10, 30, 30), lo, hi)
    tumour = _box((10, 30, 30), (4, 14, 7), (5, 16, 9))  # in-plane gaps: j 12 x 0.5 = 6, i 5 x 0.8 = 4 mm
    result = analyse_margins(tumour_mask=tumour, specimen_mask=specimen, spacing=spacing)
    assert [s.k for s in result.slices] == [4, 5]
    assert [s.distance_mm for s in result.slices] == pytest.approx([4.0, 4.0])
    assert result.slices[0].tumour_area_mm2 == pytest.approx(9 * 0.5 * 0.8)
    assert result.closest_mm == pytest.approx(4.0) == pytest.approx(_box_margin(tumour, lo, hi, spacing))


def test_suv_statistics_and_json():
    specimen, tumour = _off_centre_case()
    suv = np.zeros(tumour.shape, dtype=np.float32)
    suv[tumour] = 4.0
    suv[14, 22, 12] = 9.5
    result = analyse_margins(tumour_mask=tumour, specimen_mask=specimen, spacing=(1, 1, 1), suv=suv)
    assert result.suv_max == pytest.approx(9.5)
    assert result.suv_mean == pytest.approx((4.0 * (tumour.sum() - 1) + 9.5) / tumour.sum())
    data = json.loads(json.dumps(result.to_dict()))
    assert data["status"] == "negative" and data["closest_mm"] == 5.0
    assert data["tumour_point"]["index"] == [14, 22, 9]
    assert len(data["faces"]) == 6 and data["faces"][0]["face"] == "+x"
    assert "surface voxel" in data["convention"]


def test_bad_inputs_refused():
    specimen, tumour = _off_centre_case()
    with pytest.raises(ValueError, match="empty"):
        analyse_margins(tumour_mask=tumour, specimen_mask=np.zeros_like(specimen), spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="grid spacing"):
        analyse_margins(
            tumour_mask=tumour,
            specimen_mask=specimen,
            spacing=(1, 1, 1),
            grid=Grid(shape=(40, 40, 40), spacing=(2, 1, 1), origin=(0, 0, 0)),
        )
