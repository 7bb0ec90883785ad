"""Container walls and bag film next to a specimen in CT.

Walls: after an opening with a 2 mm ball the bulk of the specimen stays, while the free part of
a wall (thinner than 4 mm, far from the specimen) is left over as a large sheet (PCA width
>= 15 mm). A plane (PCA) and circles across each principal axis (algebraic fit) are fitted to it;
the model with the smallest residual wins if that residual is below 1 mm. The HU profile across
the free wall (0.05 mm bins of the model's signed distance) gives its inner face where it crosses
half-way between air and the wall's plateau, to sub-voxel precision; that face is extrapolated
through the contact area, where the HU cannot tell wall from tissue.

Film: voxels clearly above air (> air + 150 HU) more than 1.5 mm from the specimen core, not
plate or wall, forming a sheet of >= 20 mm2 are free film. Its tissue-equivalent thickness is
the HU excess over air integrated over the sheet (in units of the tissue level) per unit area
(half the marching-cubes area of the sheet mask).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.optimize import least_squares
from skimage.measure import marching_cubes, mesh_surface_area

from cases.imaging.specimen_plate import opened

WALL_OPEN_MM = 2.0
MIN_WALL_WIDTH_MM = 15.0
MAX_FIT_RESIDUAL_MM = 1.0
FIT_POINTS = 4000


@dataclass(frozen=True)
class WallModel:
    """A wall surface: plane (``normal``, ``offset``) or cylinder (``axis_point``, ``axis``, ``radius``);
    ``inner_mm`` is its inner face as a value of the signed distance (specimen side negative)."""

    kind: str
    inner_mm: float
    sign: float
    normal: tuple = (0.0, 0.0, 0.0)
    offset: float = 0.0
    axis_point: tuple = (0.0, 0.0, 0.0)
    axis: tuple = (0.0, 0.0, 0.0)
    radius: float = 0.0
    profile_s: tuple = ()  # signed distance (mm) of the measured HU profile across the free structure
    profile_hu: tuple = ()

    def hu_contribution(self, *, shape, spacing, air_hu: float) -> np.ndarray:
        """The structure's own HU above air at each voxel (its measured edge profile), float32."""
        points = np.indices(shape).reshape(3, -1).T * np.asarray(spacing)
        excess = np.asarray(self.profile_hu) - air_hu
        values = np.interp(self._signed(points), self.profile_s, excess, left=0.0, right=excess[-1])
        return values.reshape(shape).astype(np.float32)

    def _signed(self, points: np.ndarray) -> np.ndarray:
        if self.kind == "plane":
            s = points @ np.asarray(self.normal) - self.offset
        else:
            d = points - np.asarray(self.axis_point)
            along = d @ np.asarray(self.axis)
            s = np.linalg.norm(d - along[:, None] * np.asarray(self.axis), axis=1) - self.radius
        return self.sign * s

    def signed_depth_mm(self, *, shape, spacing) -> np.ndarray:
        """Signed distance beyond the inner face (> 0 in or behind the wall), on voxel centres (k, j, i mm)."""
        points = np.indices(shape).reshape(3, -1).T * np.asarray(spacing)
        return (self._signed(points) - self.inner_mm).reshape(shape)

    def occupancy(self, *, shape, spacing, margin_mm: float) -> np.ndarray:
        """1 on the specimen side, 0.5 at the inner face minus ``margin_mm``, a one-voxel ramp."""
        depth = self.signed_depth_mm(shape=shape, spacing=spacing) + margin_mm
        return np.clip(0.5 - depth / float(np.mean(spacing)), 0.0, 1.0).astype(np.float32)

    def to_dict(self) -> dict:
        out = {"kind": self.kind, "inner_face_mm": round(float(self.inner_mm), 4)}
        if self.kind == "cylinder":
            out["radius_mm"] = round(float(self.radius), 3)
        return out


def _plane_fit(points: np.ndarray):
    centre = points.mean(axis=0)
    _, vecs = np.linalg.eigh(np.cov(points - centre, rowvar=False))
    normal = vecs[:, 0]
    s = (points - centre) @ normal
    return float(np.std(s)), {"kind": "plane", "normal": tuple(normal), "offset": float(centre @ normal)}


def _circle_fit(points: np.ndarray, axis: np.ndarray):
    e1 = np.cross(axis, [1.0, 0.0, 0.0] if abs(axis[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(axis, e1)
    u, v = points @ e1, points @ e2
    a = np.stack([u, v, np.ones_like(u)], axis=1)
    sol, *_ = np.linalg.lstsq(a, u * u + v * v, rcond=None)
    cu, cv = sol[0] / 2, sol[1] / 2
    radius = float(np.sqrt(max(sol[2] + cu * cu + cv * cv, 0.0)))
    # Geometric refinement (the algebraic fit is biased on short arcs): axis tilt, centre, radius.
    def residuals(x):
        a = axis + x[3] * e1 + x[4] * e2
        a = a / np.linalg.norm(a)
        d = points - (x[0] * e1 + x[1] * e2)
        return np.linalg.norm(d - np.outer(d @ a, a), axis=1) - x[2]

    fit = least_squares(residuals, [cu, cv, radius, 0.0, 0.0], loss="soft_l1", f_scale=0.5, max_nfev=200)
    cu, cv, radius = fit.x[:3]
    refined = axis + fit.x[3] * e1 + fit.x[4] * e2
    refined /= np.linalg.norm(refined)
    model = {"kind": "cylinder", "axis_point": tuple(cu * e1 + cv * e2), "axis": tuple(refined),
             "radius": float(radius)}
    return float(np.std(residuals(fit.x))), model


def find_container_walls(*, ct, candidate, core, plate, spacing, air_hu) -> list[WallModel]:
    bulk = opened(candidate, radius_mm=WALL_OPEN_MM, spacing=spacing)
    far = ndimage.distance_transform_edt(~core, sampling=spacing) > 3.0
    if plate.any():  # the plate's partial-volume skin would join a wall standing on it
        far &= ndimage.distance_transform_edt(~plate, sampling=spacing) > 2.0
    sheets = candidate & ~bulk & far
    labels, count = ndimage.label(sheets, structure=np.ones((3, 3, 3)))
    if count == 0:
        return []
    walls: list[WallModel] = []
    sizes = np.bincount(labels.ravel())
    scale = np.asarray(spacing)
    core_centre = np.argwhere(core[::2, ::2, ::2]).mean(axis=0) * 2 * scale if core.any() else None
    for label in np.argsort(sizes)[::-1][:4]:
        if label == 0 or sizes[label] * np.prod(spacing) < 20.0:
            continue
        points = np.argwhere(labels == label) * scale
        variances = np.sort(np.linalg.eigvalsh(np.cov(points, rowvar=False)))
        if np.sqrt(12 * variances[1]) < MIN_WALL_WIDTH_MM:
            continue
        _, vecs = np.linalg.eigh(np.cov(points, rowvar=False))
        sample = points[:: max(1, len(points) // FIT_POINTS)]  # a fit needs a few thousand points
        fits = [_plane_fit(sample)] + [_circle_fit(sample, vecs[:, i]) for i in range(3)]
        residual, params = min(fits, key=lambda f: f[0])
        if fits[0][0] <= residual + 0.05:  # a huge cylinder is a plane: keep the simpler model
            residual, params = fits[0]
        if residual > MAX_FIT_RESIDUAL_MM or core_centre is None:
            continue
        model = WallModel(inner_mm=0.0, sign=1.0, **params)
        sign = -1.0 if model._signed(core_centre[None])[0] > 0 else 1.0
        model = WallModel(inner_mm=0.0, sign=sign, **params)
        near = ndimage.binary_dilation(labels == label, iterations=3) & far
        measured = _inner_face(ct=ct, model=model, near=near, spacing=spacing, air_hu=air_hu)
        if measured is not None:
            inner, prof_s, prof_hu = measured
            walls.append(WallModel(inner_mm=inner, sign=sign, profile_s=prof_s, profile_hu=prof_hu, **params))
    return walls


def plate_model(*, ct, plate, core, spacing, air_hu) -> WallModel | None:
    """The plate as a plane with its measured edge profile (top face towards the specimen)."""
    if not plate.any() or not core.any():
        return None
    points = np.argwhere(plate)[:: max(1, int(plate.sum()) // 50_000)] * np.asarray(spacing)
    _, params = _plane_fit(points)
    centre = np.argwhere(core[::2, ::2, ::2]).mean(axis=0) * 2 * np.asarray(spacing)
    model = WallModel(inner_mm=0.0, sign=1.0, **params)
    sign = -1.0 if model._signed(centre[None])[0] > 0 else 1.0
    model = WallModel(inner_mm=0.0, sign=sign, **params)
    far = ndimage.distance_transform_edt(~core, sampling=spacing) > 3.0
    near = (ndimage.distance_transform_edt(~plate, sampling=spacing) <= 2.0) & far
    measured = _inner_face(ct=ct, model=model, near=near, spacing=spacing, air_hu=air_hu)
    if measured is None:
        return None
    inner, prof_s, prof_hu = measured
    return WallModel(inner_mm=inner, sign=sign, profile_s=prof_s, profile_hu=prof_hu, **params)


def _inner_face(*, ct, model: WallModel, near, spacing, air_hu) -> tuple[float, tuple, tuple] | None:
    points = np.argwhere(near) * np.asarray(spacing)
    s = model._signed(points)
    hu = ct[near]
    bins = np.floor(s / 0.05).astype(int)
    lo = bins.min()
    counts = np.bincount(bins - lo)
    sums = np.bincount(bins - lo, weights=hu)
    ok = counts >= 5
    centres = (np.arange(len(counts)) + lo + 0.5) * 0.05
    profile = np.where(ok, sums / np.maximum(counts, 1), np.nan)
    if not ok.any():
        return None
    plateau = float(np.nanmax(profile))
    half = 0.5 * (plateau + air_hu)
    peak = int(np.nanargmax(profile))
    filled = np.interp(centres, centres[ok], profile[ok])
    filled[: int(np.argmax(ok))] = air_hu  # nothing measured on the specimen side yet: air
    for i in range(peak, 0, -1):  # walk from the plateau towards the specimen side
        if filled[i - 1] < half <= filled[i]:
            frac = (half - filled[i - 1]) / (filled[i] - filled[i - 1])
            inner = float(centres[i - 1] + frac * 0.05)
            # The profile up to the plateau: beyond it the structure is cut away anyway.
            return inner, tuple(centres[: peak + 1].tolist()), tuple(filled[: peak + 1].tolist())
    return None


def film_thickness_mm(*, ct, exclude, core, spacing, air_hu, level) -> float:
    far = ndimage.distance_transform_edt(~core, sampling=spacing) > 1.5
    sheet = (ct > air_hu + 150.0) & far & ~exclude
    labels, count = ndimage.label(sheet, structure=np.ones((3, 3, 3)))
    if count == 0:
        return 0.0
    biggest = labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)
    if biggest.sum() < 8:
        return 0.0
    padded = np.pad(biggest, 1).astype(np.float32)
    verts, faces, _, _ = marching_cubes(padded, level=0.5, spacing=tuple(spacing))
    area = mesh_surface_area(verts, faces) / 2.0
    if area < 20.0:
        return 0.0
    region = ndimage.binary_dilation(biggest, iterations=2) & far & ~exclude
    fraction = np.clip((ct[region] - air_hu) / (level[region] - air_hu), 0.0, 1.0)
    return float(fraction.sum() * np.prod(spacing) / area)
