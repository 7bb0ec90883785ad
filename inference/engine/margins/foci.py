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
    above = field > level
    labels = np.zeros(field.shape, dtype=np.int32)
    window = bounding_box(above)
    if window is None:
        return labels, []
    # Label only the box around the tumour (a few percent of the specimen's crop), then place it.
    local, count = ndimage.label(above[window], structure=FULL_CONNECTIVITY)
    sizes = np.bincount(local.ravel(), minlength=count + 1)
    keep = sizes * voxel_mm3 >= min_focus_volume_mm3 - 1e-9
    keep[0] = False
    local = np.where(keep[local], local, 0).astype(np.int32, copy=False)
    labels[window] = local
    kept = np.flatnonzero(keep)
    # Centroids from the tumour voxels only (a few thousand), not a pass over the whole array per label.
    where = np.nonzero(local)
    owner = local[where]
    offset = [w.start for w in window]
    centroids = np.stack([np.bincount(owner, weights=axis + o, minlength=count + 1)
                          for axis, o in zip(where, offset, strict=True)], axis=1)
    centroids = centroids[kept] / sizes[kept, None]
    boxes = [None if b is None else tuple(slice(part.start + o, part.stop + o) for part, o in zip(b, offset, strict=True))
             for b in ndimage.find_objects(local)]
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


def bounding_box(mask: np.ndarray) -> tuple[slice, ...] | None:
    """The smallest box holding every True voxel of ``mask`` (None if there is none)."""
    box = []
    for axis in range(mask.ndim):
        others = tuple(a for a in range(mask.ndim) if a != axis)
        hit = np.flatnonzero(mask.any(axis=others))
        if len(hit) == 0:
            return None
        box.append(slice(int(hit[0]), int(hit[-1]) + 1))
    return tuple(box)


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
