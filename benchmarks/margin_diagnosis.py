"""Where an end-to-end margin error comes from: how far a measured surface sits from the true one.

``signed_offset_mm`` is the median signed distance of the measured iso-surface's vertices to the
true surface (the truth occupancy's 0.5 iso-surface, accurate to ~0.04 mm): positive when the
measured surface lies outside the true object (a tumour read too big, so margins too small).
Vertices further than ``reach_mm`` from the truth (false-positive blobs) are left out.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from inference.engine.margins.distances import closest_on_triangles
from inference.engine.margins.surfaces import iso_surface, sample


def signed_offset_mm(*, field: np.ndarray, level: float, truth: np.ndarray, spacing, reach_mm: float = 2.0,
                     neighbours: int = 8) -> float | None:
    spacing = np.asarray(spacing, dtype=float)
    measured = iso_surface(field=field, level=level, spacing=spacing)
    true = iso_surface(field=truth, level=0.5, spacing=spacing)
    if measured.empty or true.empty:
        return None
    corners = true.vertices[true.triangles]
    tree = cKDTree(corners.mean(axis=1))
    k = min(neighbours, len(corners))
    _, nearest = tree.query(measured.vertices, k=k)
    nearest = nearest.reshape(len(measured.vertices), k)
    points = np.repeat(measured.vertices, k, axis=0)
    rows = nearest.ravel()
    closest = closest_on_triangles(points, corners[rows, 0], corners[rows, 1], corners[rows, 2])
    distance = np.sqrt(((closest - points) ** 2).sum(-1)).reshape(-1, k).min(axis=1)
    inside = sample(truth, measured.vertices, spacing) >= 0.5
    signed = np.where(inside, -distance, distance)
    near = np.abs(signed) <= reach_mm
    return round(float(np.median(signed[near])), 3) if near.any() else None
