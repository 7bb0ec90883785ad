"""Loading a series into a Volume: sorting, geometry conventions, rescale, broken stacks."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from cases.imaging.errors import IngestError
from cases.imaging.reading import DicomFile, read_headers
from cases.imaging.series import load_series, series_geometry
from cases.imaging.validation import DEFAULT_LIMITS, Limits

from .dicom_factory import linear_values, make_ct_series, make_pet_series, write_series
from .test_reading import _candidates


def _load(datasets, folder: Path, *, shuffle: bool = True, limits: Limits = DEFAULT_LIMITS):
    paths = write_series(datasets, folder)
    if shuffle:
        random.Random(3).shuffle(paths)
    return load_series(files=read_headers(candidates=_candidates(paths)).files, label="Test series", limits=limits)


def _memory(datasets) -> list[DicomFile]:
    return [
        DicomFile(path=Path(f"/nonexistent/{i}"), name=f"IM{i:04d}", size=0, header=ds)
        for i, ds in enumerate(datasets)
    ]


def _assert_geometry_matches_patient_values(loaded, coefficients, constant, atol) -> None:
    """Every voxel's value must equal the linear function evaluated at the grid's patient position."""
    grid = loaded.volume.grid
    kji = np.stack(np.meshgrid(*[np.arange(n) for n in grid.shape], indexing="ij"), axis=-1)
    xyz = grid.index_to_patient(kji)
    expected = xyz @ np.asarray(coefficients) + constant
    np.testing.assert_allclose(loaded.volume.array, expected, atol=atol)


GEOMETRY = {
    "shape": (5, 6, 7),
    "spacing": (1.5, 0.5, 0.8),  # sz, sy (between rows), sx (between columns): all different
    "origin": (-10.0, 20.0, 5.0),
}


def test_axial_series_sorted_and_placed(tmp_path: Path) -> None:
    coefficients, constant = (1.0, 10.0, 100.0), 3000.0
    values = linear_values(**GEOMETRY, coefficients=coefficients, constant=constant)
    loaded = _load(make_pet_series(**GEOMETRY, values=values), tmp_path)
    grid = loaded.volume.grid
    assert grid.shape == (5, 6, 7)
    assert grid.spacing == pytest.approx((1.5, 0.5, 0.8))
    assert grid.origin == pytest.approx((-10.0, 20.0, 5.0))
    np.testing.assert_allclose(grid.direction_matrix, np.eye(3))
    assert loaded.volume.array.dtype == np.float32
    _assert_geometry_matches_patient_values(loaded, coefficients, constant, atol=0.15)
    # Headers follow volume order (sorted along the normal), not file order.
    positions = [float(h.ImagePositionPatient[2]) for h in loaded.headers]
    assert positions == sorted(positions)


def test_oblique_series_with_decreasing_positions(tmp_path: Path) -> None:
    angle = np.deg2rad(30)
    row = (np.cos(angle), np.sin(angle), 0.0)
    col = (0.0, 0.0, -1.0)  # coronal-ish, oblique; normal = row x col
    coefficients, constant = (2.0, -3.0, 5.0), 5000.0
    positions = [-k * 1.5 for k in range(5)]  # written from the top down
    values = linear_values(**GEOMETRY, row=row, col=col, coefficients=coefficients, constant=constant)
    datasets = make_pet_series(**GEOMETRY, row=row, col=col, values=values)
    # Move slice k to position -k*sz by rewriting IPP: that reverses the stack order.
    normal = np.cross(row, col)
    for ds, position in zip(datasets, positions, strict=True):
        ds.ImagePositionPatient = [float(v) for v in np.asarray(GEOMETRY["origin"]) + position * normal]
    loaded = _load(datasets, tmp_path)
    expected_direction = np.column_stack([row, col, normal])
    np.testing.assert_allclose(loaded.volume.grid.direction_matrix, expected_direction, atol=1e-9)
    # The first sorted slice is the lowest along the normal: the one written last.
    assert loaded.volume.grid.origin == pytest.approx(
        tuple(np.asarray(GEOMETRY["origin"]) + positions[-1] * normal)
    )
    np.testing.assert_allclose(loaded.volume.array, values[::-1], atol=0.15)  # quantisation max/60000


def test_ct_rescale_intercept(tmp_path: Path) -> None:
    values = np.full((3, 4, 4), -1000.0)
    values[1] = 40.0
    loaded = _load(make_ct_series(shape=(3, 4, 4), values=values), tmp_path, shuffle=False)
    np.testing.assert_array_equal(loaded.volume.array, values.astype(np.float32))


def test_single_slice_is_refused_by_default(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught:
        _load(make_ct_series(shape=(1, 4, 4), spacing=(2.0, 1.0, 1.0)), tmp_path)
    assert caught.value.code == "too_few_slices"


def test_single_slice_uses_header_spacing_when_allowed(tmp_path: Path) -> None:
    loaded = _load(make_ct_series(shape=(1, 4, 4), spacing=(2.0, 1.0, 1.0)), tmp_path, limits=Limits(min_slices=1))
    assert loaded.volume.grid.spacing == (2.0, 1.0, 1.0)
    assert "single slice" in loaded.warnings[0]


def test_duplicate_files_of_one_instance_are_ignored_with_warning() -> None:
    datasets = make_ct_series(shape=(3, 4, 4))
    geometry = series_geometry(files=_memory([*datasets, datasets[1]]), label="CT")
    assert geometry.grid.shape == (3, 4, 4)
    assert "duplicate" in geometry.warnings[0]


def _error(datasets) -> IngestError:
    with pytest.raises(IngestError) as caught:
        series_geometry(files=_memory(datasets), label="CT series 1")
    return caught.value


def test_missing_slices_reported() -> None:
    datasets = make_ct_series(shape=(6, 4, 4))
    del datasets[2:4]  # positions 0, 1, (2, 3 missing), 4, 5
    error = _error(datasets)
    assert error.code == "missing_slices"
    assert "missing 2 slice" in error.message and "CT series 1" in error.message


def test_inconsistent_spacing_reported() -> None:
    datasets = make_ct_series(shape=(5, 4, 4), positions=[0.0, 1.0, 2.0, 3.4, 4.4])
    error = _error(datasets)
    assert error.code == "inconsistent_spacing" and "1.400 mm" in error.message


def test_spacing_within_tolerance_accepted() -> None:
    datasets = make_ct_series(shape=(4, 4, 4), positions=[0.0, 1.004, 2.0, 3.005])
    geometry = series_geometry(files=_memory(datasets))
    assert geometry.grid.spacing[0] == pytest.approx(3.005 / 3)


def test_inconsistent_orientation_reported() -> None:
    datasets = make_ct_series(shape=(3, 4, 4))
    datasets[2].ImageOrientationPatient = [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]
    error = _error(datasets)
    assert error.code == "inconsistent_orientation" and "IM0002" in error.message


def test_sheared_stack_reported() -> None:
    datasets = make_ct_series(shape=(3, 4, 4))
    for k, ds in enumerate(datasets):
        ds.ImagePositionPatient = [float(k) * 0.3, 0.0, float(k)]  # gantry-tilt style drift in x
    error = _error(datasets)
    assert error.code == "inconsistent_orientation" and "sideways" in error.message


def test_different_matrix_or_pixel_spacing_reported() -> None:
    datasets = make_ct_series(shape=(3, 4, 4))
    datasets[1].PixelSpacing = [0.6, 0.5]
    error = _error(datasets)
    assert error.code == "inconsistent_geometry" and "IM0001" in error.message
    datasets = make_ct_series(shape=(3, 4, 4))
    datasets[2].Rows = 5
    assert _error(datasets).code == "inconsistent_geometry"


def test_duplicate_positions_reported() -> None:
    datasets = make_ct_series(shape=(3, 4, 4), positions=[0.0, 1.0, 1.0])
    error = _error(datasets)
    assert error.code == "duplicate_slices" and "same position" in error.message


def test_missing_geometry_reported() -> None:
    datasets = make_ct_series(shape=(3, 4, 4))
    del datasets[1].ImagePositionPatient
    error = _error(datasets)
    assert error.code == "missing_geometry" and "ImagePositionPatient" in error.message


def test_multiframe_unsupported() -> None:
    datasets = make_ct_series(shape=(1, 4, 4))
    datasets[0].NumberOfFrames = 3
    assert _error(datasets).code == "unsupported"
