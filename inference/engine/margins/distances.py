"""Closest points between two triangulated surfaces (or a point set and a surface), in mm.

A k-d tree over the target's vertices gives, for every query vertex, the distance d to the
nearest target vertex. The true point-to-surface distance lies in [d - L, d] where L is the
longest triangle edge (every point of a triangle is within L of its vertices), so only query
vertices within L of the best d can win; for those the distance is refined exactly to the target's
triangles near them (Ericson's closest point on a triangle, vectorised). The same is done the
other way round (target vertices to the query's triangles), so the answer does not depend on where
either surface happens to have its vertices: what is left is the edge-to-edge case, which on
marching-cubes meshes is below 0.01 mm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from inference.engine.margins.surfaces import Surface


@dataclass(frozen=True)
class Closest:
    distance_mm: float
    query_point: np.ndarray  # (3,) mm, on the query side
    target_point: np.ndarray  # (3,) mm, on the target surface


def closest_on_triangles(points: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Closest point of triangle (a, b, c) to each point (all arrays (N, 3), row-wise pairs)."""
    ab, ac, ap = b - a, c - a, points - a
    d1, d2 = _dot(ab, ap), _dot(ac, ap)
    bp = points - b
    d3, d4 = _dot(ab, bp), _dot(ac, bp)
    cp = points - c
    d5, d6 = _dot(ab, cp), _dot(ac, cp)
    va, vb, vc = d3 * d6 - d5 * d4, d5 * d2 - d1 * d6, d1 * d4 - d3 * d2
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v_in, w_in = vb / denom, vc / denom
        t_ab = d1 / (d1 - d3)
        t_ac = d2 / (d2 - d6)
        t_bc = (d4 - d3) / ((d4 - d3) + (d5 - d6))
    result = a + v_in[:, None] * ab + w_in[:, None] * ac  # inside the face
    # Edge and vertex regions, applied in reverse priority so the first matching rule wins.
    on_bc = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
    result = np.where(on_bc[:, None], b + t_bc[:, None] * (c - b), result)
    on_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
    result = np.where(on_ac[:, None], a + t_ac[:, None] * ac, result)
    on_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
    result = np.where(on_ab[:, None], a + t_ab[:, None] * ab, result)
    result = np.where(((d6 >= 0) & (d5 <= d6))[:, None], c, result)
    result = np.where(((d3 >= 0) & (d4 <= d3))[:, None], b, result)
    result = np.where(((d1 <= 0) & (d2 <= 0))[:, None], a, result)
    return result


def _dot(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", u, v)


def _longest_edge(surface: Surface) -> float:
    if len(surface.triangles) == 0:
        return 0.0
    corners = surface.vertices[surface.triangles]
    edges = corners - np.roll(corners, 1, axis=1)
    return float(np.sqrt((edges**2).sum(-1)).max())


class Incidence:
    """For every vertex, the rows of the triangles that use it (compressed: offsets into one array)."""

    def __init__(self, surface: Surface) -> None:
        corners = surface.triangles.ravel()
        order = np.argsort(corners, kind="stable")
        self.owners = (order // 3).astype(np.int64)
        self.offsets = np.searchsorted(corners[order], np.arange(len(surface.vertices) + 1))

    def pairs(self, query_rows: np.ndarray, vertex_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query row, triangle row) for every triangle touching each (query row, vertex row) pair, deduplicated."""
        starts, stops = self.offsets[vertex_rows], self.offsets[vertex_rows + 1]
        counts = stops - starts
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        within = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
        triangles = self.owners[np.repeat(starts, counts) + within]
        queries = np.repeat(query_rows, counts)
        width = int(triangles.max()) + 1
        unique = np.unique(queries * width + triangles)
        return unique // width, unique % width


def _one_way(
    points: np.ndarray, target: Surface, tree: cKDTree, target_rows: np.ndarray, incidence: Incidence,
    reach: float | None = None,
) -> tuple[float, np.ndarray, np.ndarray] | None:
    """Refined (distance, point, target point) from ``points`` to ``target``'s triangles."""
    if len(points) == 0 or len(target_rows) == 0:
        return None
    # A sparse sample bounds the answer first, so the full query can stop early on far-away points.
    # One thread: a pool's start-up costs more than it saves on these sizes.
    bound = float(tree.query(points[:: max(1, len(points) // 64)], k=1)[0].min())
    reach = (_longest_edge(target) if reach is None else reach) + 1e-9
    nearest, nearest_rows = tree.query(points, k=1, distance_upper_bound=bound + reach)
    best = float(nearest.min())
    top_row = int(np.argmin(nearest))
    result = (best, points[top_row], target.vertices[target_rows[nearest_rows[top_row]]])
    if len(target.triangles) == 0:
        return result
    candidates = np.flatnonzero(nearest <= best + reach)
    # Triangles touching any target vertex near a candidate (the closest point's triangle has one).
    near = tree.query_ball_point(points[candidates], r=best + reach)
    lengths = np.fromiter((len(n) for n in near), dtype=np.int64, count=len(near))
    if lengths.sum() == 0:
        return result
    near_vertices = target_rows[np.concatenate([np.asarray(n, dtype=np.int64) for n in near])]
    query_rows, triangle_rows = incidence.pairs(np.repeat(candidates, lengths), near_vertices)
    if len(triangle_rows) == 0:
        return result
    corners = target.vertices[target.triangles[triangle_rows]]
    closest = closest_on_triangles(points[query_rows], corners[:, 0], corners[:, 1], corners[:, 2])
    distances = np.sqrt(((closest - points[query_rows]) ** 2).sum(-1))
    pick = int(np.argmin(distances))
    if distances[pick] < best:
        result = (float(distances[pick]), points[query_rows[pick]], closest[pick])
    return result


class TargetSurface:
    """A surface (or some of its vertices, e.g. one face) prepared for repeated closest-point queries."""

    def __init__(self, surface: Surface, vertex_rows: np.ndarray | None = None) -> None:
        rows = np.arange(len(surface.vertices)) if vertex_rows is None else np.asarray(vertex_rows, dtype=int)
        self.surface = surface if vertex_rows is None else surface.subset(rows)
        self.rows = rows
        self.points = surface.vertices[rows]
        self.tree = cKDTree(self.points) if len(rows) else None
        self.incidence = Incidence(self.surface)
        self.reach = _longest_edge(self.surface)

    @property
    def empty(self) -> bool:
        return self.tree is None


def closest_between(*, query: Surface, extra_points: np.ndarray | None, target: TargetSurface) -> Closest | None:
    """Closest pair between ``query`` (its vertices and triangles, plus ``extra_points``) and ``target``."""
    if target.empty:
        return None
    points = query.vertices if extra_points is None else np.vstack([query.vertices, extra_points])
    forward = _one_way(points, target.surface, target.tree, target.rows, target.incidence, target.reach)
    if forward is None:
        return None
    best = Closest(forward[0], np.asarray(forward[1]), np.asarray(forward[2]))
    if len(query.triangles):
        # Only target vertices within the best distance so far of the query's box can do better.
        low, high = query.vertices.min(axis=0) - best.distance_mm, query.vertices.max(axis=0) + best.distance_mm
        close = np.flatnonzero(((target.points >= low) & (target.points <= high)).all(axis=1))
        rows = np.arange(len(query.vertices))
        backward = _one_way(target.points[close], query, cKDTree(query.vertices), rows, Incidence(query))
        if backward is not None and backward[0] < best.distance_mm:
            best = Closest(backward[0], np.asarray(backward[2]), np.asarray(backward[1]))
    return best
