"""Closest points between two triangulated surfaces (or a point set and a surface), in mm.

The search runs from the target side: the query (a tumour surface) is small and compact, the
target (the specimen surface) large and enclosing it, and a k-d tree answers quickly only for
points outside what it holds. The target vertices in the query's box (grown by the search radius)
get the distance d to their nearest query vertex; the smallest d bounds the answer. Every point of
a triangle lies within its reach R = longest edge / sqrt(3) of one of its vertices, so the closest
point's triangle has a vertex within the best d + R of the other side's closest vertex: only the
vertex pairs that close can win, and for those the distance is refined exactly to the triangles
touching them (Ericson's closest point on a triangle, vectorised). The same is done the other way
round (target vertices to the query's triangles), so the answer does not depend on where either
surface happens to have its vertices: what is left is the edge-to-edge case, which on
marching-cubes meshes is below 0.01 mm.
"""

from __future__ import annotations

import itertools
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


# How far a point of a triangle can be from the triangle's nearest vertex, per unit of its longest
# edge: the circumradius of an acute triangle is at most that edge / sqrt(3), and a right or obtuse
# triangle lies within half its longest edge of one of its vertices.
REACH_PER_EDGE = 1.0 / np.sqrt(3.0)


def _longest_edges_sq(surface: Surface) -> np.ndarray:
    """Every triangle's longest squared edge."""
    vertices, triangles = surface.vertices, surface.triangles
    a, b, c = vertices[triangles[:, 0]], vertices[triangles[:, 1]], vertices[triangles[:, 2]]
    return np.maximum(np.maximum(((a - b) ** 2).sum(-1), ((b - c) ** 2).sum(-1)), ((c - a) ** 2).sum(-1))


def _triangle_reach(surface: Surface, longest_sq: np.ndarray | None = None) -> float:
    if len(surface.triangles) == 0:
        return 0.0
    longest_sq = _longest_edges_sq(surface) if longest_sq is None else longest_sq
    return float(np.sqrt(longest_sq.max())) * REACH_PER_EDGE


class Incidence:
    """For every vertex, the rows of the triangles that use it (compressed: offsets into one array)."""

    def __init__(self, surface: Surface) -> None:
        corners = surface.triangles.ravel()
        order = np.argsort(corners, kind="stable")
        self.owners = (order // 3).astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(np.bincount(corners, minlength=len(surface.vertices)))])

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


class TargetSurface:
    """A surface (or some of its vertices, e.g. one face) prepared for repeated closest-point queries.

    No k-d tree of its own: the searches run from its side, against the (small) query's tree.
    """

    def __init__(self, surface: Surface, vertex_rows: np.ndarray | None = None,
                 whole: TargetSurface | None = None) -> None:
        """``whole`` (the same surface prepared whole) saves measuring the triangles again for a part."""
        rows = np.arange(len(surface.vertices)) if vertex_rows is None else np.asarray(vertex_rows, dtype=int)
        longest_sq = whole.longest_sq if whole is not None else _longest_edges_sq(surface)
        if vertex_rows is not None:
            chosen = np.zeros(len(surface.vertices), dtype=bool)
            chosen[rows] = True
            kept = chosen[surface.triangles].all(axis=1)  # the triangles of these vertices alone
            surface, longest_sq = Surface(surface.vertices, surface.triangles[kept]), longest_sq[kept]
        self.surface, self.rows, self.longest_sq = surface, rows, longest_sq
        self.points = surface.vertices[rows]
        self.incidence = Incidence(surface)
        self.reach = _triangle_reach(surface, longest_sq)

    @property
    def empty(self) -> bool:
        return len(self.rows) == 0


def _near_target_vertices(
    points: np.ndarray, tree: cKDTree, target: TargetSurface, search: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(target vertex rows, distance to the nearest of ``points``) for the target vertices near
    ``points``: every one within the smallest such distance + ``search``."""
    low, high = points.min(axis=0), points.max(axis=0)
    radius = 4.0 + search  # most margins are a few mm: one pass; otherwise grown until it holds
    while True:
        rows = np.flatnonzero(((target.points >= low - radius) & (target.points <= high + radius)).all(axis=1))
        nearest, _ = tree.query(target.points[rows], k=1, distance_upper_bound=radius)
        best = float(nearest.min()) if len(rows) else np.inf
        if best + search <= radius:
            keep = nearest <= best + search
            return rows[keep], nearest[keep]
        radius = best + search if np.isfinite(best) else radius * 4.0


def _refine(
    points: np.ndarray, surface: Surface, incidence: Incidence, point_rows: np.ndarray, vertex_rows: np.ndarray,
) -> tuple[float, np.ndarray, np.ndarray] | None:
    """Exact (distance, point, surface point) over the triangles of ``surface`` touching each
    (point row, surface vertex row) pair."""
    query_rows, triangle_rows = incidence.pairs(point_rows, vertex_rows)
    if len(triangle_rows) == 0:
        return None
    corners = surface.vertices[surface.triangles[triangle_rows]]
    closest = closest_on_triangles(points[query_rows], corners[:, 0], corners[:, 1], corners[:, 2])
    distances = np.sqrt(((closest - points[query_rows]) ** 2).sum(-1))
    pick = int(np.argmin(distances))
    return float(distances[pick]), points[query_rows[pick]], closest[pick]


class QuerySurface:
    """A query surface (plus extra points) with its k-d tree and reach, built once for several targets."""

    def __init__(self, surface: Surface, extra_points: np.ndarray | None = None) -> None:
        self.surface = surface
        self.points = surface.vertices if extra_points is None else np.vstack([surface.vertices, extra_points])
        self.tree = cKDTree(self.points) if len(self.points) else None
        self.reach = _triangle_reach(surface) + 1e-9
        self._incidence: Incidence | None = None

    @property
    def incidence(self) -> Incidence:
        if self._incidence is None:
            self._incidence = Incidence(self.surface)
        return self._incidence


def closest_between(
    *, query: Surface | QuerySurface, extra_points: np.ndarray | None, target: TargetSurface,
) -> Closest | None:
    """Closest pair between ``query`` (its vertices and triangles, plus ``extra_points``) and ``target``.

    A :class:`QuerySurface` (which holds its extra points) saves preparing the query again.
    """
    if not isinstance(query, QuerySurface):
        query = QuerySurface(query, extra_points)
    elif extra_points is not None:
        raise ValueError("a prepared QuerySurface holds its extra points already")
    points, tree, surface = query.points, query.tree, query.surface
    if target.empty or tree is None:
        return None
    target_reach = target.reach + 1e-9
    search = max(target_reach, query.reach)
    rows, nearest = _near_target_vertices(points, tree, target, search)
    # Every (target vertex, query point) pair within the best vertex distance + the reach: the
    # closest point's triangle (on either surface) has a vertex in one of these pairs.
    near = tree.query_ball_point(target.points[rows], r=float(nearest.min()) + search, return_sorted=False)
    lengths = np.fromiter(map(len, near), dtype=np.int64, count=len(near))
    pair_points = np.fromiter(itertools.chain.from_iterable(near), dtype=np.int64, count=int(lengths.sum()))
    pair_targets = np.repeat(rows, lengths)
    gaps = np.sqrt(((points[pair_points] - target.points[pair_targets]) ** 2).sum(-1))
    top = int(np.argmin(gaps))
    best = Closest(float(gaps[top]), points[pair_points[top]], target.points[pair_targets[top]])
    of_query_vertex = pair_points < len(surface.vertices)  # (not an extra point: they have no triangles)
    # The triangles around the closest vertex pair first: their exact distance (at most the vertex
    # distance) narrows the pairs worth refining to those within it + the reach.
    for chosen in (np.array([top]), None):
        forward = chosen if chosen is not None else np.flatnonzero(gaps <= best.distance_mm + target_reach)
        backward = (chosen[of_query_vertex[chosen]] if chosen is not None
                    else np.flatnonzero((gaps <= best.distance_mm + query.reach) & of_query_vertex))
        if len(target.surface.triangles):
            found = _refine(points, target.surface, target.incidence, pair_points[forward],
                            target.rows[pair_targets[forward]])
            if found is not None and found[0] < best.distance_mm:
                best = Closest(*found)
        if len(surface.triangles) and len(backward):
            # Backward: target vertices to the query's triangles (a target vertex facing a query triangle).
            found = _refine(target.points, surface, query.incidence, pair_targets[backward], pair_points[backward])
            if found is not None and found[0] < best.distance_mm:
                best = Closest(found[0], found[2], found[1])
    return best
