"""Hand checks of the margin truth on simple configurations (box specimen, sphere tumour)."""

from __future__ import annotations

import numpy as np
import pytest

from cases.imaging.volume import Grid
from cases.phantoms.anatomy import box_specimen_with_sphere
from cases.phantoms.truth import FACE_NAMES, box_gap, edt_min_distance, face_labels, measure_margins

GRID = Grid(shape=(50, 72, 96), spacing=(0.5, 0.25, 0.25), origin=(-12.0, -9.0, -12.0))
BOX_LO = (-10.0, -7.0, -10.0)
BOX_HI = (10.0, 7.0, 10.0)
RADIUS = 3.0
MAX_STEP = 0.5


def _case(centre):
    return box_specimen_with_sphere(
        grid=GRID, box_lo_mm=BOX_LO, box_hi_mm=BOX_HI, centre_mm=centre, radius_mm=RADIUS
    )


@pytest.mark.parametrize("depth", [1.7, 3.2])
def test_sphere_depth_below_plus_x_face(depth):
    specimen, tumour = _case((BOX_HI[0] - RADIUS - depth, 0.0, 0.0))
    truth = measure_margins(specimen=specimen, tumour=tumour, grid=GRID)
    assert truth.closest_face == "+x"
    assert truth.closest_mm == pytest.approx(depth, abs=MAX_STEP)
    assert truth.faces_mm["+x"] == pytest.approx(depth, abs=MAX_STEP)
    # the opposite face: box width minus sphere diameter minus depth
    expected_minus_x = (BOX_HI[0] - BOX_LO[0]) - 2 * RADIUS - depth
    assert truth.faces_mm["-x"] == pytest.approx(expected_minus_x, abs=MAX_STEP)
    assert truth.faces_mm["-y"] == pytest.approx(7.0 - RADIUS, abs=MAX_STEP)
    assert truth.faces_mm["+z"] == pytest.approx(10.0 - RADIUS, abs=MAX_STEP)
    # centre-to-centre EDT is the gap plus about one voxel step
    assert truth.closest_mm < truth.closest_centre_mm <= truth.closest_mm + 2 * MAX_STEP
    assert truth.status(1.0) == "negative"
    assert truth.status(0.0) == "negative"


def test_sphere_depth_along_coarse_z_axis():
    depth = 2.0
    specimen, tumour = _case((0.0, 0.0, BOX_HI[2] - RADIUS - depth))
    truth = measure_margins(specimen=specimen, tumour=tumour, grid=GRID)
    assert truth.closest_face == "+z"
    assert truth.closest_mm == pytest.approx(depth, abs=MAX_STEP)


def test_close_and_touching_status():
    specimen, tumour = _case((BOX_HI[0] - RADIUS - 0.6, 0.0, 0.0))
    close = measure_margins(specimen=specimen, tumour=tumour, grid=GRID)
    assert 0.0 < close.closest_mm < 1.0
    assert close.status(1.0) == "positive" and close.status(0.0) == "negative"
    assert close.category() == "close"

    specimen, tumour = _case((BOX_HI[0] - RADIUS + 1.0, 0.0, 0.0))  # cut by the +x face
    cut = measure_margins(specimen=specimen, tumour=tumour, grid=GRID)
    assert cut.closest_mm == 0.0
    assert cut.touches_surface
    assert cut.status(0.0) == "positive"
    assert cut.category() == "positive"
    assert cut.closest_centre_mm == pytest.approx(0.25)  # one in-plane step


def test_edt_matches_brute_force():
    specimen, tumour = _case((1.0, -2.0, 3.0))
    spacing_xyz = np.array([0.25, 0.25, 0.5])
    outside = np.argwhere(~specimen)[:, ::-1] * spacing_xyz
    inside_t = np.argwhere(tumour)[:, ::-1] * spacing_xyz
    # brute force on the few closest candidates
    sub = inside_t[:: max(1, len(inside_t) // 500)]
    from scipy.spatial import cKDTree

    brute = cKDTree(outside).query(sub)[0].min()
    edt = edt_min_distance(specimen=specimen, tumour=tumour, grid=GRID, pad_mm=10.0)
    assert edt <= brute + 1e-9
    assert edt == pytest.approx(brute, abs=0.3)


def test_box_gap_and_faces():
    spacing = np.array([0.25, 0.25, 0.5])
    assert box_gap(np.array([[0.25, 0.0, 0.0]]), spacing)[0] == 0.0  # face neighbours
    assert box_gap(np.array([[0.25, 0.25, 0.5]]), spacing)[0] == 0.0  # corner neighbours
    assert box_gap(np.array([[0.75, 0.0, 0.0]]), spacing)[0] == pytest.approx(0.5)
    normals = np.array(
        [[0.9, 0.1, 0.0], [-0.9, 0.1, 0.0], [0, 0.8, 0.6], [0, -1, 0], [0.1, 0, 1], [0, 0.2, -0.7]]
    )
    assert [FACE_NAMES[i] for i in face_labels(normals)] == list(FACE_NAMES)
