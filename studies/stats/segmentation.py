"""Segmentation agreement: Dice, 95th-percentile Hausdorff distance and mean surface distance.

For 2D or 3D binary masks on the same grid, with the true (possibly anisotropic) pixel/voxel
spacing in mm, one value per array axis in array-axis order.

Definitions follow MONAI (``compute_hausdorff_distance``, ``compute_average_surface_distance``,
``DiceMetric``) and are tested against it; they are re-implemented with scipy so the web process
does not need torch:

- surface = mask voxels with at least one face-neighbour outside the mask (outside the array
  counts as outside); distances are exact Euclidean distances in mm between surface voxel centres
  (scipy EDT with ``sampling=spacing``);
- HD95 = max(P95 of distances reference->test, P95 of test->reference), linear-interpolated
  percentiles (``numpy.percentile`` default, like ``torch.quantile``);
- MSD (average symmetric surface distance) = mean of the pooled distances of both directions.

Empty-mask conventions (chosen here; MONAI returns NaN/inf instead):

- both masks empty: Dice = 1.0 (both agree there is no tumour); HD95 and MSD NotComputable;
- exactly one empty: Dice = 0.0; HD95 and MSD NotComputable (no surface to measure to).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import ndimage

from .results import NotComputable


def _mask(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name} must be a 2D or 3D mask, got {arr.ndim}D")
    if arr.dtype != bool:
        if not np.isin(arr, (0, 1)).all():
            raise ValueError(f"{name} must be binary (bool or 0/1); threshold probabilities first")
        arr = arr.astype(bool)
    return arr


def _pair(reference: Any, test: Any) -> tuple[np.ndarray, np.ndarray]:
    ref, tst = _mask(reference, "reference"), _mask(test, "test")
    if ref.shape != tst.shape:
        raise ValueError(f"mask shapes differ: {ref.shape} vs {tst.shape}")
    return ref, tst


def _spacing(spacing: Sequence[float], ndim: int) -> tuple[float, ...]:
    sp = tuple(float(s) for s in spacing)
    if len(sp) != ndim:
        raise ValueError(f"spacing has {len(sp)} values for a {ndim}D mask")
    if not all(math.isfinite(s) and s > 0 for s in sp):
        raise ValueError(f"spacing must be positive and finite, got {sp}")
    return sp


def dice(*, reference: Any, test: Any) -> float:
    """Dice coefficient 2|A and B| / (|A| + |B|); both empty -> 1.0 by convention."""
    ref, tst = _pair(reference, test)
    total = int(ref.sum()) + int(tst.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(ref, tst).sum()) / total


def _surface(mask: np.ndarray) -> np.ndarray:
    # Pad so that voxels on the array border count as surface (outside is background).
    padded = np.pad(mask, 1, constant_values=False)
    eroded = ndimage.binary_erosion(padded, structure=ndimage.generate_binary_structure(mask.ndim, 1))
    inner = tuple(slice(1, -1) for _ in range(mask.ndim))
    return padded[inner] & ~eroded[inner]


def surface_distances(
    *, reference: Any, test: Any, spacing: Sequence[float]
) -> tuple[np.ndarray, np.ndarray] | NotComputable:
    """Distances in mm from every reference surface voxel to the test surface, and vice versa."""
    ref, tst = _pair(reference, test)
    sp = _spacing(spacing, ref.ndim)
    has_ref, has_tst = bool(ref.any()), bool(tst.any())
    if not has_ref and not has_tst:
        return NotComputable(reason="both masks are empty: no surfaces to compare")
    if not has_ref or not has_tst:
        empty = "reference" if not has_ref else "test"
        return NotComputable(reason=f"the {empty} mask is empty: surface distances are undefined")
    # Crop to the union bounding box: every surface voxel lies inside, so distances are unchanged.
    box = ndimage.find_objects((ref | tst).astype(np.int8))[0]
    s_ref, s_tst = _surface(ref)[box], _surface(tst)[box]
    to_tst = ndimage.distance_transform_edt(~s_tst, sampling=sp)
    to_ref = ndimage.distance_transform_edt(~s_ref, sampling=sp)
    return to_tst[s_ref], to_ref[s_tst]


def _check_percentile(percentile: float) -> None:
    if not 0 <= percentile <= 100:
        raise ValueError("percentile must lie in [0, 100]")


def _percentile_hd(d: tuple[np.ndarray, np.ndarray], percentile: float) -> float:
    # MONAI: the larger of the two directed percentile distances.
    return float(max(np.percentile(d[0], percentile), np.percentile(d[1], percentile)))


def hausdorff_distance(
    *, reference: Any, test: Any, spacing: Sequence[float], percentile: float = 95.0
) -> float | NotComputable:
    """Percentile Hausdorff distance in mm (default HD95; ``percentile=100`` gives the maximum)."""
    _check_percentile(percentile)
    d = surface_distances(reference=reference, test=test, spacing=spacing)
    return d if isinstance(d, NotComputable) else _percentile_hd(d, percentile)


def mean_surface_distance(*, reference: Any, test: Any, spacing: Sequence[float]) -> float | NotComputable:
    """Average symmetric surface distance in mm (mean of both directions' distances pooled)."""
    d = surface_distances(reference=reference, test=test, spacing=spacing)
    if isinstance(d, NotComputable):
        return d
    return float(np.concatenate(d).mean())


@dataclass(frozen=True)
class SegmentationAgreement:
    """Dice, HD (default 95th percentile) and MSD between two masks, plus their sizes."""

    dice: float
    hausdorff_mm: float | NotComputable
    mean_surface_distance_mm: float | NotComputable
    percentile: float
    reference_voxels: int
    test_voxels: int
    reference_size: float
    test_size: float
    size_unit: str
    spacing: tuple[float, ...]

    def to_dict(self) -> dict[str, Any]:
        def v(x: float | NotComputable) -> Any:
            return x.to_dict() if isinstance(x, NotComputable) else float(x)

        return {
            "dice": self.dice,
            "hausdorff_mm": v(self.hausdorff_mm),
            "hausdorff_percentile": self.percentile,
            "mean_surface_distance_mm": v(self.mean_surface_distance_mm),
            "reference_voxels": self.reference_voxels,
            "test_voxels": self.test_voxels,
            "reference_size": self.reference_size,
            "test_size": self.test_size,
            "size_unit": self.size_unit,
            "spacing_mm": list(self.spacing),
        }


def segmentation_agreement(
    *, reference: Any, test: Any, spacing: Sequence[float], percentile: float = 95.0
) -> SegmentationAgreement:
    """All agreement measures between a reference mask (e.g. pathology or AI) and a test mask."""
    ref, tst = _pair(reference, test)
    sp = _spacing(spacing, ref.ndim)
    _check_percentile(percentile)
    d = surface_distances(reference=ref, test=tst, spacing=sp)
    hd = d if isinstance(d, NotComputable) else _percentile_hd(d, percentile)
    msd = d if isinstance(d, NotComputable) else float(np.concatenate(d).mean())
    unit_size = math.prod(sp)
    return SegmentationAgreement(
        dice=dice(reference=ref, test=tst),
        hausdorff_mm=hd,
        mean_surface_distance_mm=msd,
        percentile=float(percentile),
        reference_voxels=int(ref.sum()),
        test_voxels=int(tst.sum()),
        reference_size=int(ref.sum()) * unit_size,
        test_size=int(tst.sum()) * unit_size,
        size_unit="mm2" if ref.ndim == 2 else "mm3",
        spacing=sp,
    )
