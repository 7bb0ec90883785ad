"""Dice / HD95 / mean surface distance against MONAI and hand-computed cases."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from scipy import ndimage

from studies.stats.results import NotComputable, jsonable
from studies.stats.segmentation import (
    dice,
    hausdorff_distance,
    mean_surface_distance,
    segmentation_agreement,
)


def _blob(shape: tuple[int, ...], seed: int, sigma: float = 3.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    field = ndimage.gaussian_filter(rng.normal(size=shape), sigma)
    return field > np.quantile(field, 0.7)


def test_hand_computed_squares() -> None:
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[2:6, 2:6] = True  # 16 px
    b[2:6, 3:7] = True  # shifted by one column, 12 px overlap
    assert dice(reference=a, test=b) == pytest.approx(2 * 12 / 32)
    # Every surface pixel is at most one column (2 mm) away from the other surface.
    assert hausdorff_distance(reference=a, test=b, spacing=(0.5, 2.0), percentile=100) == pytest.approx(2.0)
    same = segmentation_agreement(reference=a, test=a, spacing=(1.0, 1.0))
    assert same.dice == 1.0 and same.hausdorff_mm == 0.0 and same.mean_surface_distance_mm == 0.0
    assert same.reference_size == 16.0 and same.size_unit == "mm2"


def test_empty_mask_conventions() -> None:
    empty = np.zeros((6, 6), bool)
    full = np.zeros((6, 6), bool)
    full[1:3, 1:3] = True
    both = segmentation_agreement(reference=empty, test=empty, spacing=(1, 1))
    assert both.dice == 1.0
    assert isinstance(both.hausdorff_mm, NotComputable) and "both masks are empty" in both.hausdorff_mm.reason
    one = segmentation_agreement(reference=full, test=empty, spacing=(1, 1))
    assert one.dice == 0.0
    assert isinstance(one.mean_surface_distance_mm, NotComputable)
    assert "test mask is empty" in one.mean_surface_distance_mm.reason
    assert isinstance(mean_surface_distance(reference=empty, test=full, spacing=(1, 1)), NotComputable)
    json.dumps(jsonable(one))


def test_input_validation() -> None:
    a = np.zeros((4, 4), bool)
    with pytest.raises(ValueError, match="shapes differ"):
        dice(reference=a, test=np.zeros((4, 5), bool))
    with pytest.raises(ValueError, match="binary"):
        dice(reference=a, test=np.full((4, 4), 0.7))
    with pytest.raises(ValueError, match="spacing has 3 values"):
        hausdorff_distance(reference=a, test=a, spacing=(1, 1, 1))
    with pytest.raises(ValueError, match="positive"):
        hausdorff_distance(reference=a, test=a, spacing=(1, 0))
    with pytest.raises(ValueError, match="2D or 3D"):
        dice(reference=np.zeros(4, bool), test=np.zeros(4, bool))


@pytest.mark.parametrize(
    ("shape", "spacing"),
    [((48, 40), (0.4, 0.7)), ((20, 24, 16), (0.5, 0.5, 1.25)), ((16, 18, 14), (0.3, 0.9, 0.6))],
)
def test_agrees_with_monai(shape: tuple[int, ...], spacing: tuple[float, ...]) -> None:
    torch = pytest.importorskip("torch")
    metrics = pytest.importorskip("monai.metrics")
    for seed in range(3):
        a, b = _blob(shape, seed), _blob(shape, seed + 100)
        a[(0,) * len(shape)] = True  # a surface voxel on the array border
        ya = torch.from_numpy(a[None, None].astype(np.float32))
        yb = torch.from_numpy(b[None, None].astype(np.float32))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            hd95 = metrics.compute_hausdorff_distance(
                yb, ya, include_background=True, percentile=95, spacing=spacing
            )
            hd = metrics.compute_hausdorff_distance(yb, ya, include_background=True, spacing=spacing)
            asd = metrics.compute_average_surface_distance(
                yb, ya, include_background=True, symmetric=True, spacing=spacing
            )
            dm = metrics.DiceMetric(include_background=True, reduction="none")(yb, ya)
        res = segmentation_agreement(reference=a, test=b, spacing=spacing)
        assert res.dice == pytest.approx(float(dm), abs=1e-6)
        assert res.hausdorff_mm == pytest.approx(float(hd95), rel=1e-5)
        assert res.mean_surface_distance_mm == pytest.approx(float(asd), rel=1e-5)
        assert hausdorff_distance(reference=a, test=b, spacing=spacing, percentile=100) == pytest.approx(
            float(hd), rel=1e-5
        )
