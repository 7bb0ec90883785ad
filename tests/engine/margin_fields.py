"""Analytic tumour and specimen fields built by supersampled partial volume (exact answers known)."""

from __future__ import annotations

import numpy as np

SUPERSAMPLING = 4


def partial_volume(shape, spacing, inside, supersampling: int = SUPERSAMPLING) -> np.ndarray:
    """Fraction of every voxel (centre at index * spacing mm) where ``inside(z, y, x)`` (mm) holds."""
    offsets = (np.arange(supersampling) + 0.5) / supersampling - 0.5
    k, j, i = np.meshgrid(*[np.arange(n, dtype=np.float64) for n in shape], indexing="ij")
    total = np.zeros(shape, dtype=np.float32)
    for a in offsets:
        for b in offsets:
            for c in offsets:
                total += inside((k + a) * spacing[0], (j + b) * spacing[1], (i + c) * spacing[2])
    return total / supersampling**3


def ball(centre, radius):
    return lambda z, y, x: (z - centre[0]) ** 2 + (y - centre[1]) ** 2 + (x - centre[2]) ** 2 < radius**2


def slab(low, high):
    """Axis-aligned box from ``low`` to ``high`` (mm, z y x)."""
    return lambda z, y, x: (
        (z > low[0]) & (z < high[0]) & (y > low[1]) & (y < high[1]) & (x > low[2]) & (x < high[2])
    )
