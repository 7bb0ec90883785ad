"""Working grid and resampling in true patient geometry, against analytic values."""

from __future__ import annotations

import numpy as np
import pytest

from cases.imaging.resample import resample, working_grid
from cases.imaging.volume import Grid, Volume

COEFFICIENTS = np.array([0.7, -1.3, 2.1])
CONSTANT = 5.0


def _linear_volume(grid: Grid) -> Volume:
    kji = np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij"), axis=-1)
    values = grid.index_to_patient(kji) @ COEFFICIENTS + CONSTANT
    return Volume(array=values.astype(np.float32), grid=grid)


def _rotation(degrees: float) -> tuple[tuple[float, float, float], ...]:
    a = np.deg2rad(degrees)
    matrix = np.array([[np.cos(a), -np.sin(a), 0.0], [np.sin(a), np.cos(a), 0.0], [0.0, 0.0, 1.0]])
    return tuple(tuple(float(v) for v in row) for row in matrix)


def test_working_grid_covers_reference_with_isotropic_voxels() -> None:
    reference = Grid(
        shape=(10, 20, 30), spacing=(1.0, 0.3, 0.25), origin=(5.0, -4.0, 12.0), direction=_rotation(20)
    )
    grid = working_grid(reference=reference, spacing_mm=0.5)
    assert grid.spacing == (0.5, 0.5, 0.5)
    assert grid.shape == (20, 12, 15)
    assert grid.direction == reference.direction
    centre = lambda g: g.index_to_patient((np.asarray(g.shape) - 1) / 2.0)  # noqa: E731
    np.testing.assert_allclose(centre(grid), centre(reference), atol=1e-9)
    # Extent (voxel edges) of the working grid contains the reference's along every axis.
    assert all(
        n * s >= m * t - 1e-9
        for n, s, m, t in zip(grid.shape, grid.spacing, reference.shape, reference.spacing, strict=True)
    )


def test_working_grid_equal_spacing_is_identity() -> None:
    reference = Grid(shape=(4, 5, 6), spacing=(0.5, 0.5, 0.5), origin=(1.0, 2.0, 3.0))
    assert working_grid(reference=reference, spacing_mm=0.5) == reference


@pytest.mark.parametrize("degrees", [0.0, 25.0])
def test_linear_function_reproduced_on_shifted_scaled_grid(degrees: float) -> None:
    source = _linear_volume(
        Grid(
            shape=(12, 14, 16), spacing=(1.0, 0.8, 0.6), origin=(-3.0, 2.0, 7.0), direction=_rotation(degrees)
        )
    )
    target = Grid(shape=(9, 10, 11), spacing=(0.7, 0.55, 0.45), origin=(-1.2, 3.1, 8.3))
    out = resample(volume=source, grid=target, order=1, fill=-999.0)
    expected = _linear_volume(target).array
    # Compare where the target voxel is well inside the source (linear interpolation is exact there).
    kji = np.stack(np.meshgrid(*[np.arange(n) for n in target.shape], indexing="ij"), axis=-1)
    source_index = source.grid.patient_to_index(target.index_to_patient(kji))
    inside = np.all((source_index >= 0) & (source_index <= np.asarray(source.grid.shape) - 1), axis=-1)
    assert inside.sum() > 200
    np.testing.assert_allclose(out.array[inside], expected[inside], atol=1e-3)
    assert out.array.dtype == np.float32 and out.grid == target
    outside = np.any((source_index < -0.5) | (source_index > np.asarray(source.grid.shape) - 0.5), axis=-1)
    assert np.all(out.array[outside] == -999.0)


def test_pet_with_other_fov_lands_at_the_right_patient_position() -> None:
    ct = Grid(shape=(40, 40, 40), spacing=(0.5, 0.5, 0.5), origin=(-10.0, -10.0, -10.0))
    pet_grid = Grid(shape=(10, 10, 10), spacing=(1.0, 1.0, 1.0), origin=(0.0, 2.0, -5.0))
    pet = np.zeros(pet_grid.shape, dtype=np.float32)
    pet[3, 4, 5] = 100.0  # patient (x, y, z) = (0 + 5, 2 + 4, -5 + 3) = (5, 6, -2)
    out = resample(volume=Volume(array=pet, grid=pet_grid), grid=ct, order=1, fill=0.0)
    hot = np.unravel_index(np.argmax(out.array), out.array.shape)
    np.testing.assert_allclose(ct.index_to_patient(np.asarray(hot)), (5.0, 6.0, -2.0))
    assert out.array[hot] == pytest.approx(100.0)
    assert out.array.sum() == pytest.approx(
        100.0 * 8, rel=1e-5
    )  # 2x finer grid: 8 voxels per PET voxel volume
    # Beyond the PET field of view: fill (patient x < -0.5 is outside PET).
    assert np.all(out.array[:, :, : int((-0.5 + 10) / 0.5)] == 0.0)


def test_labels_nearest_keep_dtype() -> None:
    grid = Grid(shape=(4, 4, 4), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))
    labels = np.zeros(grid.shape, dtype=np.uint8)
    labels[1:3, 1:3, 1:3] = 2
    target = Grid(shape=(8, 8, 8), spacing=(0.5, 0.5, 0.5), origin=(-0.25, -0.25, -0.25))
    out = resample(volume=Volume(array=labels, grid=grid), grid=target, order=0, fill=0)
    assert out.array.dtype == np.uint8
    assert set(np.unique(out.array)) == {0, 2}
    assert out.array.sum() == 2 * 8 * 8  # 8 source voxels x 8 sub-voxels each


def test_edge_half_voxel_clamped_then_fill() -> None:
    grid = Grid(shape=(1, 1, 3), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))
    volume = Volume(array=np.array([[[10.0, 20.0, 30.0]]], dtype=np.float32), grid=grid)
    target = Grid(shape=(1, 1, 5), spacing=(1.0, 1.0, 0.4), origin=(-0.8, 0.0, 0.0))  # x = -0.8 .. 0.8
    out = resample(volume=volume, grid=target, order=1, fill=-1.0)
    np.testing.assert_allclose(out.array[0, 0], [-1.0, 10.0, 10.0, 14.0, 18.0])


def test_antialias_smooths_when_downsampling() -> None:
    grid = Grid(shape=(4, 4, 64), spacing=(1.0, 1.0, 0.1), origin=(0.0, 0.0, 0.0))
    stripes = np.tile(np.array([0.0, 100.0], dtype=np.float32), 32)[None, None, :].repeat(4, 0).repeat(4, 1)
    target = Grid(shape=(4, 4, 6), spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0))  # hits only the 0 stripes
    plain = resample(volume=Volume(array=stripes, grid=grid), grid=target, order=1, fill=0.0)
    smooth = resample(volume=Volume(array=stripes, grid=grid), grid=target, order=1, fill=0.0, antialias=True)
    np.testing.assert_array_equal(plain.array[1, 1], 0.0)  # aliased: every sample on a dark stripe
    assert np.all(np.abs(smooth.array[1, 1, 1:] - 50.0) < 15.0)  # smoothed to the local mean
