"""The margin result: plain dataclasses whose ``to_dict`` is strict JSON (no inf, no NaN)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

STATUS_TOLERANCE_MM = 1e-6  # so 1.0000000001 mm from floating point still counts as 1 mm
DISTANCE_DECIMALS = 2  # reported to 0.01 mm; the method is good to about 0.05 mm


def status_for(distance_mm: float, threshold_mm: float) -> str:
    return "positive" if distance_mm <= threshold_mm + STATUS_TOLERANCE_MM else "negative"


def round_mm(value: float | None) -> float | None:
    return None if value is None else round(float(value), DISTANCE_DECIMALS)


def agreed_status(*, ensemble_status: str, fold_statuses: Sequence[str]) -> str:
    """The ensemble's status, or ``indeterminate`` when the calls (the ensemble's and each fold's)
    disagree about the threshold."""
    return "indeterminate" if len({ensemble_status, *fold_statuses}) > 1 else ensemble_status


def interval_over(distances_mm: Sequence[float | None]) -> tuple[float, float] | None:
    """[min, max] of the distances that exist (None: no tumour), or None when there are none."""
    found = [float(d) for d in distances_mm if d is not None]
    return (min(found), max(found)) if found else None


@dataclass(frozen=True)
class MarginPoint:
    index_kji: tuple[float, float, float]  # fractional voxel index in the analysed arrays
    patient_mm: tuple[float, float, float] | None  # patient LPS (x, y, z); None without a grid


@dataclass(frozen=True)
class FaceMargin:
    face: str  # "+x" ... "-z" (patient LPS axis the face looks along)
    anatomical: str | None  # from the orientation, when recorded
    distance_mm: float | None  # None when the specimen has no surface facing that way
    status: str  # "positive", "negative" or "no_surface"
    tumour_point: MarginPoint | None
    surface_point: MarginPoint | None


@dataclass(frozen=True)
class SliceMargin:
    k: int  # axial slice index
    distance_mm: float  # the ensemble's in-plane margin in this slice (lamella reading)
    status: str  # "positive", "negative", or "indeterminate" when the folds' calls here disagree
    tumour_point: MarginPoint
    surface_point: MarginPoint
    tumour_area_mm2: float
    # With fold probabilities: [min, max] of the ensemble's and the folds' in-plane margins here (it
    # always holds distance_mm), and each fold's in-plane margin (None: that fold has no tumour here).
    interval_mm: tuple[float, float] | None = None
    fold_distances_mm: tuple[float | None, ...] = ()


@dataclass(frozen=True)
class FocusMargin:
    volume_mm3: float
    closest_mm: float
    centroid_kji: tuple[float, float, float]


@dataclass(frozen=True)
class FoldMargin:
    fold: int
    closest_mm: float | None  # None when this fold sees no tumour
    status: str


@dataclass(frozen=True)
class MarginResult:
    status: str  # "positive", "negative", "indeterminate" or "no_tumour_detected"
    threshold_mm: float
    closest_mm: float | None
    # [min, max] of the ensemble's and the folds' closest margins (so it always holds closest_mm); None
    # without folds. The ensemble's mean-probability surface is no fold's surface: it may lie outside them.
    interval_mm: tuple[float, float] | None
    folds: tuple[FoldMargin, ...]
    tumour_point: MarginPoint | None  # tumour end of the closest margin
    surface_point: MarginPoint | None  # specimen-surface end of the closest margin
    faces: tuple[FaceMargin, ...]
    slices: tuple[SliceMargin, ...]
    foci: tuple[FocusMargin, ...]
    n_foci: int
    tumour_outside_specimen_mm3: float
    tumour_volume_ml: float
    specimen_volume_ml: float
    suv_max: float | None
    suv_mean: float | None
    specimen_qc: tuple[dict, ...] = ()
    inputs: dict = field(default_factory=dict)
    method: str = ""

    def to_dict(self) -> dict:
        """JSON-ready (tuples become lists, numpy scalars Python numbers); refuses inf and NaN."""
        return _plain(asdict(self))


def _plain(value):
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"margin result holds a non-finite number ({value}); this is a bug")
    return value
