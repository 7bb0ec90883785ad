"""Continuous specimen and tumour: implicit surfaces with exact distances (patient LPS mm).

* Specimen = a smooth blobby ellipsoid (star-shaped: the radius along each direction is an
  ellipsoid's times ``1 + sum of smooth bumps``) intersected with half-spaces (flattened bottom on
  the tray, a flat side pressed on a container wall) and optionally the inside of a vertical
  cylinder (a round container). For an inside point the distance to the surface is the minimum
  of the distances to each piece's boundary (the complement of an intersection is the union of
  complements), each computed exactly: planes and cylinders in closed form, the blobby part by
  minimising ``|p - surface(u)|`` over directions ``u`` (several starts from a dense sampling,
  each refined by shrinking local grids to about 1e-6 mm).
* Tumour = a union of spheres (primary with lobules, optional satellite focus). For spheres
  inside the specimen the closest margin is ``min_i (distance(c_i) - r_i)``, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np


def fibonacci_directions(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    polar = np.arccos(1.0 - 2.0 * i / n)
    azimuth = np.pi * (1.0 + 5**0.5) * i
    return np.stack(
        [np.cos(azimuth) * np.sin(polar), np.sin(azimuth) * np.sin(polar), np.cos(polar)], axis=1
    )


_DIRECTIONS = fibonacci_directions(6000)


@dataclass(frozen=True)
class Blob:
    """Star-shaped body: ``|p - centre| <= radius(u)`` with ``u`` the direction of ``p - centre``."""

    centre: np.ndarray  # (3,) mm
    rotation: np.ndarray  # (3, 3), columns are the body axes
    semi_axes: np.ndarray  # (3,) mm
    bump_dirs: np.ndarray  # (K, 3) unit vectors
    bump_amps: np.ndarray  # (K,) relative radius change
    bump_widths: np.ndarray  # (K,) angular width (radians, roughly)

    @cached_property
    def _quadric(self) -> np.ndarray:
        return self.rotation @ np.diag(1.0 / self.semi_axes**2) @ self.rotation.T

    def radius(self, u: np.ndarray) -> np.ndarray:
        """Radius along unit directions ``u`` (..., 3)."""
        base = 1.0 / np.sqrt(np.einsum("...i,ij,...j->...", u, self._quadric, u))
        cos = u @ self.bump_dirs.T
        bumps = np.exp((cos - 1.0) / self.bump_widths**2) @ self.bump_amps
        return base * (1.0 + bumps)

    def radial_excess(self, points: np.ndarray) -> np.ndarray:
        """``|p - c| - radius(u)``: negative inside; its size bounds the distance from above."""
        d = points - self.centre
        norm = np.linalg.norm(d, axis=-1)
        u = d / np.maximum(norm, 1e-12)[..., None]
        return norm - self.radius(u)

    def surface_point(self, u: np.ndarray) -> np.ndarray:
        u = u / np.linalg.norm(u, axis=-1, keepdims=True)
        return self.centre + self.radius(u)[..., None] * u

    def distance(self, point: np.ndarray, *, starts: int = 6) -> float:
        """Exact (to ~1e-6 mm) distance from ``point`` to the blob's surface: the best of
        ``starts`` directions of a dense sphere sampling, each refined by shrinking local grids
        in its tangent plane (vectorised; the objective is smooth)."""
        dirs = _DIRECTIONS
        dist = np.linalg.norm(self.surface_point(dirs) - point, axis=1)
        u0 = dirs[np.argsort(dist)[:starts]]  # (S, 3)
        helper = np.where(np.abs(u0[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
        e1 = np.cross(u0, helper)
        e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
        e2 = np.cross(u0, e1)
        centre = np.zeros((starts, 2))
        step = 0.01  # radians; the sampling above is about 0.046 rad apart
        offsets = np.stack(np.meshgrid(np.arange(-5, 6), np.arange(-5, 6), indexing="ij"), -1).reshape(-1, 2)
        best = float(dist.min())
        for _ in range(12):
            ab = centre[:, None, :] + step * offsets[None]  # (S, 121, 2)
            u = u0[:, None] + ab[..., :1] * e1[:, None] + ab[..., 1:] * e2[:, None]
            d = np.linalg.norm(self.surface_point(u) - point, axis=-1)  # (S, 121)
            pick = np.argmin(d, axis=1)
            centre = ab[np.arange(starts), pick]
            best = min(best, float(d.min()))
            step /= 4.0
        return best

    def outward_normal(self, points: np.ndarray, eps: float = 1e-4) -> np.ndarray:
        grads = []
        for axis in range(3):
            step = np.zeros(3)
            step[axis] = eps
            grads.append((self.radial_excess(points + step) - self.radial_excess(points - step)) / (2 * eps))
        n = np.stack(grads, axis=-1)
        return n / np.linalg.norm(n, axis=-1, keepdims=True)


@dataclass(frozen=True)
class HalfSpace:
    """Inside is ``normal . p <= offset`` (``normal`` is the outward unit normal)."""

    normal: np.ndarray
    offset: float

    def excess(self, points: np.ndarray) -> np.ndarray:
        return points @ self.normal - self.offset  # exact signed distance


@dataclass(frozen=True)
class VerticalCylinder:
    """Inside is within ``radius`` of the vertical (y) axis through (x, z) = ``axis_xz``."""

    axis_xz: np.ndarray
    radius: float

    def excess(self, points: np.ndarray) -> np.ndarray:
        rho = np.hypot(points[..., 0] - self.axis_xz[0], points[..., 2] - self.axis_xz[1])
        return rho - self.radius  # exact signed distance (inside the cylinder, away from the axis)


@dataclass(frozen=True)
class ContinuousSpecimen:
    blob: Blob
    cuts: tuple = field(default_factory=tuple)  # HalfSpace / VerticalCylinder pieces

    def excess(self, points: np.ndarray) -> np.ndarray:
        """Max of the pieces' excesses: negative inside; a lower bound on nothing, used for bands."""
        value = self.blob.radial_excess(points)
        for cut in self.cuts:
            value = np.maximum(value, cut.excess(points))
        return value

    def inside(self, points: np.ndarray) -> np.ndarray:
        return self.excess(points) <= 0.0

    def depth(self, point: np.ndarray) -> float:
        """Exact distance from an inside ``point`` to the surface (negative if outside)."""
        point = np.asarray(point, float)
        if not self.inside(point[None])[0]:
            return -float(max(0.0, self.excess(point[None])[0]))
        return min([self.blob.distance(point)] + [-float(c.excess(point[None])[0]) for c in self.cuts])

    def sample_surface(self, *, spacing_mm: float) -> tuple[np.ndarray, np.ndarray]:
        """Points on the surface (about ``spacing_mm`` apart) and their outward normals."""
        area = 4 * np.pi * float(np.max(self.blob.semi_axes) * 1.3) ** 2
        dirs = fibonacci_directions(int(area / spacing_mm**2))
        pts = self.blob.surface_point(dirs)
        keep = np.ones(len(pts), bool)
        for cut in self.cuts:
            keep &= cut.excess(pts) <= 0.0
        points = [pts[keep]]
        normals = [self.blob.outward_normal(pts[keep])]
        lo = self.blob.centre - 1.3 * np.max(self.blob.semi_axes)
        hi = self.blob.centre + 1.3 * np.max(self.blob.semi_axes)
        for n, cut in enumerate(self.cuts):
            flat = _cut_surface_points(cut, lo, hi, spacing_mm)
            ok = self.blob.radial_excess(flat) <= 0.0
            for m, other in enumerate(self.cuts):
                if m != n:
                    ok &= other.excess(flat) <= 0.0
            flat = flat[ok]
            points.append(flat)
            normals.append(_cut_normals(cut, flat))
        return np.concatenate(points), np.concatenate(normals)


def _cut_surface_points(cut, lo, hi, h) -> np.ndarray:
    if isinstance(cut, HalfSpace):
        n = cut.normal
        e1 = np.cross(n, [1.0, 0.0, 0.0] if abs(n[0]) < 0.9 else [0.0, 1.0, 0.0])
        e1 /= np.linalg.norm(e1)
        e2 = np.cross(n, e1)
        half = float(np.max(hi - lo))
        s = np.arange(-half, half + h, h)
        a, b = np.meshgrid(s, s, indexing="ij")
        foot = 0.5 * (lo + hi)
        foot = foot - (foot @ n - cut.offset) * n
        return foot + a.reshape(-1, 1) * e1 + b.reshape(-1, 1) * e2
    theta = np.arange(0.0, 2 * np.pi, h / cut.radius)
    ys = np.arange(lo[1], hi[1] + h, h)
    t, y = np.meshgrid(theta, ys, indexing="ij")
    t, y = t.ravel(), y.ravel()
    return np.stack(
        [cut.axis_xz[0] + cut.radius * np.cos(t), y, cut.axis_xz[1] + cut.radius * np.sin(t)], axis=1
    )


def _cut_normals(cut, points) -> np.ndarray:
    if isinstance(cut, HalfSpace):
        return np.broadcast_to(cut.normal, points.shape).copy()
    radial = points.copy()
    radial[:, 0] -= cut.axis_xz[0]
    radial[:, 2] -= cut.axis_xz[1]
    radial[:, 1] = 0.0
    return radial / np.linalg.norm(radial, axis=1, keepdims=True)


@dataclass(frozen=True)
class SphereUnion:
    """Tumour foci as unions of spheres; ``focus[i]`` numbers the focus of sphere ``i`` (1, 2...)."""

    centres: np.ndarray  # (N, 3)
    radii: np.ndarray  # (N,)
    focus: np.ndarray  # (N,) int

    def shifted(self, offset: np.ndarray) -> SphereUnion:
        return SphereUnion(centres=self.centres + offset, radii=self.radii, focus=self.focus)

    def inside_count(self, points: np.ndarray) -> np.ndarray:
        d2 = ((points[:, None, :] - self.centres[None]) ** 2).sum(-1)
        return (d2 <= self.radii[None] ** 2).any(axis=1)

    def excess(self, points: np.ndarray) -> np.ndarray:
        """Exact signed distance to the union (negative inside)."""
        d = np.linalg.norm(points[..., None, :] - self.centres, axis=-1) - self.radii
        return d.min(axis=-1)

    @property
    def n_foci(self) -> int:
        return int(len(np.unique(self.focus)))
