"""Continuous phantoms: exact margin truth, determinism, wrappings, files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cases.phantoms.continuous import generate_continuous_case
from cases.phantoms.continuous.margins import measure_continuous_margins
from cases.phantoms.continuous.shapes import Blob, ContinuousSpecimen, HalfSpace, SphereUnion


def _box(half: float) -> ContinuousSpecimen:
    """A cube of side ``2 half`` (the blob is a big sphere that never cuts it)."""
    blob = Blob(centre=np.zeros(3), rotation=np.eye(3), semi_axes=np.full(3, 1.8 * half),
                bump_dirs=np.array([[1.0, 0, 0]]), bump_amps=np.zeros(1), bump_widths=np.ones(1))
    cuts = tuple(HalfSpace(normal=s * np.eye(3)[a], offset=half) for a in range(3) for s in (1.0, -1.0))
    return ContinuousSpecimen(blob=blob, cuts=cuts)


@pytest.mark.parametrize("gap", [0.3, 0.8, 1.2, 2.0])
def test_sphere_in_box_matches_brute_force(gap):
    spec = _box(10.0)
    centre = np.array([10.0 - gap - 3.0, 1.234, -2.5])
    tumour = SphereUnion(centres=centre[None], radii=np.array([3.0]), focus=np.array([1]))
    margins = measure_continuous_margins(specimen=spec, tumour=tumour)
    # Brute force: the sphere supersampled at 0.005 mm steps along its surface towards +x.
    dirs = np.random.default_rng(0).standard_normal((200_000, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    surface = centre + 3.0 * dirs
    brute = float((10.0 - np.abs(surface)).min())
    assert abs(margins.closest_mm - gap) < 1e-6
    assert abs(margins.closest_mm - brute) < 0.02
    assert margins.closest_face == "+x" and margins.faces_mm["+x"] == pytest.approx(gap, abs=1e-4)
    assert margins.faces_mm["-x"] == pytest.approx(20.0 - gap - 6.0, abs=0.01)


@pytest.mark.slow
def test_forced_margin_is_exact_and_deterministic(tmp_path):
    a = generate_continuous_case(seed=11, size="small", margin_mm=0.8)
    b = generate_continuous_case(seed=11, size="small", margin_mm=0.8)
    assert a.truth["closest_margin_mm"] == pytest.approx(0.8, abs=1e-3)
    assert a.truth["margin_status"]["1mm"] == "positive"
    assert np.array_equal(a.ct_stored, b.ct_stored) and np.array_equal(a.pet_stored, b.pet_stored)
    assert a.tumour_occupancy.shape == a.working_grid.shape == a.specimen_occupancy.shape
    assert 0.0 < a.tumour_occupancy.max() <= 1.0 and (a.tumour_occupancy <= a.specimen_occupancy + 1e-6).all()
    case_dir = a.write(tmp_path)
    truth = json.loads((case_dir / "truth" / "truth.json").read_text())
    assert truth["n_foci"] in (1, 2) and len(list((case_dir / "ct").glob("*.dcm"))) == a.ct_grid.shape[0]


def test_margin_draws_spread_and_band():
    from cases.phantoms.continuous.scene import draw_margin

    rng = np.random.default_rng(3)
    free = np.array([draw_margin(rng=rng, band=False) for _ in range(3000)])
    band = np.array([draw_margin(rng=rng, band=True) for _ in range(3000)])
    assert free.min() >= 0 and free.max() <= 4 and ((free >= 0.5) & (free <= 2)).mean() > 1 / 3
    assert band.min() >= 0.3 and band.max() <= 2.5


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="wrapping"):
        generate_continuous_case(seed=1, size="small", wrapping="box")
    with pytest.raises(ValueError, match="margin_mm"):
        generate_continuous_case(seed=1, size="small", margin_mm=-1.0)


def test_partial_volume_rendering_matches_the_analytic_volume():
    from cases.imaging.volume import Grid
    from cases.phantoms.continuous.render import occupancy

    centre = np.array([0.13, -0.21, 0.37])

    def excess(p):
        return np.linalg.norm(p - centre, axis=-1) - 7.3

    grid = Grid(shape=(40, 40, 40), spacing=(0.5, 0.5, 0.5), origin=(-9.75, -9.75, -9.75))
    occ = occupancy(excess=excess, grid=grid, slack=1.05)
    assert occ.min() >= 0 and occ.max() <= 1
    assert occ.sum() * 0.125 == pytest.approx(4 / 3 * np.pi * 7.3**3, rel=2e-3)


def test_a_wall_pressed_against_the_specimen_leaves_no_air_at_the_contact():
    """Specimen and wall are disjoint objects: in a voxel they share, the wall fills what the specimen leaves."""
    from cases.imaging.volume import Grid
    from cases.phantoms.continuous.materials import specimen_occupancy, wrapping_occupancies
    from cases.phantoms.continuous.scene import Wrapping

    spec = _box(10.0)
    wall = Wrapping(kind="container", tray_top_y=12.0, tray_thickness_mm=1.0,
                    wall=HalfSpace(normal=np.array([-1.0, 0.0, 0.0]), offset=-10.0), wall_thickness_mm=1.0)
    # Voxel centres at x = 9.9, 10.4, ...: the box around x = 10 holds specimen and wall in part.
    grid = Grid(shape=(8, 8, 10), spacing=(0.5, 0.5, 0.5), origin=(7.9, -2.0, -2.0))
    specimen = specimen_occupancy(specimen=spec, grid=grid)
    wall_occ = wrapping_occupancies(specimen=spec, wrapping=wall, grid=grid, specimen_occ=specimen)["wall"]
    contact = (specimen > 0.05) & (specimen < 0.95)
    assert contact.any() and (wall_occ[contact] > 0.05).all()
    np.testing.assert_allclose(specimen[contact] + wall_occ[contact], 1.0, atol=1e-6)
    assert (specimen + wall_occ <= 1.0 + 1e-6).all()
