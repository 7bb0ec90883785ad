"""Tumour foci: 26-connected regions of the tumour field above its level, small ones dropped."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

FULL_CONNECTIVITY = np.ones((3, 3, 3), dtype=bool)


@dataclass(frozen=True)
class Focus:
    label: int
    box: tuple[slice, slice, slice]  # bounding box in the analysed arrays
    volume_mm3: float
    centroid_kji: tuple[float, float, float]


def find_foci(
    *, field: np.ndarray, level: float, voxel_mm3: float, min_focus_volume_mm3: float
) -> tuple[np.ndarray, list[Focus]]:
    """(labels, kept foci): every focus of at least ``min_focus_volume_mm3``; labels of dropped ones are 0."""
    labels, count = ndimage.label(field > level, structure=FULL_CONNECTIVITY)
    if count == 0:
        return labels, []
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    keep = sizes * voxel_mm3 >= min_focus_volume_mm3 - 1e-9
    keep[0] = False
    labels = np.where(keep[labels], labels, 0)
    kept = np.flatnonzero(keep)
    # Centroids from the tumour voxels only (a few thousand), not a pass over the whole array per label.
    where = np.nonzero(labels)
    owner = labels[where]
    centroids = np.stack([np.bincount(owner, weights=axis, minlength=count + 1) for axis in where], axis=1)
    centroids = centroids[kept] / sizes[kept, None]
    boxes = ndimage.find_objects(labels)
    foci = [
        Focus(
            label=int(label),
            box=boxes[label - 1],
            volume_mm3=float(sizes[label]) * voxel_mm3,
            centroid_kji=tuple(float(c) for c in centroid),
        )
        for label, centroid in zip(kept, centroids, strict=True)
    ]
    return labels, foci


def focus_field(
    *, field: np.ndarray, level: float, labels: np.ndarray, focus: Focus, pad: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """(field crop, offset): this focus alone, the voxels of every other focus (kept or not) set to 0."""
    start = np.array([max(0, b.start - pad) for b in focus.box])
    stop = np.array([min(n, b.stop + pad) for b, n in zip(focus.box, field.shape, strict=True)])
    box = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
    crop = np.array(field[box], dtype=np.float32)
    crop[(labels[box] != focus.label) & (crop > level)] = 0.0
    return crop, start
