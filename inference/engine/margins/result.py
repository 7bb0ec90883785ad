"""The margin result: plain dataclasses whose ``to_dict`` is strict JSON (no inf, no NaN)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

STATUS_TOLERANCE_MM = 1e-6  # so 1.0000000001 mm from floating point still counts as 1 mm
DISTANCE_DECIMALS = 2  # reported to 0.01 mm; the method is good to about 0.05 mm


def status_for(distance_mm: float, threshold_mm: float) -> str:
    return "positive" if distance_mm <= threshold_mm + STATUS_TOLERANCE_MM else "negative"


def round_mm(value: float | None) -> float | None:
    return None if value is None else round(float(value), DISTANCE_DECIMALS)


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
    distance_mm: float  # in-plane margin in this slice (lamella reading)
    status: str
    tumour_point: MarginPoint
    surface_point: MarginPoint
    tumour_area_mm2: float


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
    interval_mm: tuple[float, float] | None  # [min, max] of the folds' closest margins
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
