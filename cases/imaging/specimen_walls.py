"""Container walls and bag film next to a specimen in CT.

Walls: voxels clearly above air (> air + 150 HU) more than 3 mm from the specimen core and 2 mm
from the plate form sheets; a large one is a wall candidate: width (second PCA extent) >= 10 mm and
width x length >= 225 mm2. The fits need enough points across the sheet: a plane's tilt across a
10 mm wide sheet is pinned by thousands of ridge points scattered by the wall's thickness to well
under a degree, and its face is then fitted on the voxels' HU; the area bound (a 15 x 15 mm sheet,
the earlier square minimum) keeps short debris out. The specimen pressed on a wall often hides all
but a long narrow strip of it (11-14 x 22-27 mm seen), which a 15 mm minimum width left unfitted
and peeled as 1.5 mm of "film" while the specimen kept the wall at the contact. A sheet under
15 mm wide is kept only when the blurred slab below fits its profile (its face is then pinned). The specimen
pressed on a wall splits its free part in two, so the two largest sheets are tried together first.
A plane (PCA) and circles across the sheet's two in-plane axes (algebraic fit, refined by robust
least squares) are fitted to its ridge (voxels above half its peak); the model with the smallest
residual wins if that residual is below 1 mm. Across the free wall the HU is fitted with a slab
blurred by a Gaussian, air + height (Phi((s - face) / sigma) - Phi((s - face - width) / sigma)),
first on the binned profile (0.05 mm bins of the signed distance), then together with the shape
on the voxels' own HU: the inner face comes out to a few hundredths of a mm even for a wall too
thin to reach its plateau in the blurred CT, where half the peak lies outside the wall. That face
is extrapolated through the contact area, where the HU cannot tell wall from tissue.

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
from scipy.special import erf
from skimage.measure import marching_cubes, mesh_surface_area

MIN_WALL_WIDTH_MM = 10.0  # a sheet's second PCA extent (module doc)
MIN_WALL_AREA_MM2 = 225.0  # its width x length
PINNED_WALL_WIDTH_MM = 15.0  # narrower walls are kept only when the blurred slab fits their profile
MAX_FIT_RESIDUAL_MM = 1.0
PROFILE_BIN_MM = 0.05
REFINE_VOXELS = 6000  # voxels the shape-and-slab fit uses
SHEET_ABOVE_AIR_HU = 150.0  # walls and free film: voxels clearly above air
FIT_POINTS = 2000


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
    slab: tuple | None = None  # fitted blurred slab (face, width, height, sigma), when the fit worked

    def hu_contribution(self, *, shape, spacing, air_hu: float) -> np.ndarray:
        """The structure's own HU above air at each voxel (its measured edge profile), float32."""
        return self.hu_contribution_from_depth(self.signed_depth_mm(shape=shape, spacing=spacing), air_hu=air_hu)

    def hu_contribution_from_depth(self, depth: np.ndarray, *, air_hu: float) -> np.ndarray:
        """:meth:`hu_contribution` from a :meth:`signed_depth_mm` already computed."""
        excess = np.asarray(self.profile_hu) - air_hu
        signed = depth + np.float32(self.inner_mm)
        return np.interp(signed, self.profile_s, excess, left=0.0, right=excess[-1]).astype(np.float32)

    def _signed(self, points: np.ndarray) -> np.ndarray:
        if self.kind == "plane":
            s = points @ np.asarray(self.normal) - self.offset
        else:
            d = points - np.asarray(self.axis_point)
            along = d @ np.asarray(self.axis)
            s = np.linalg.norm(d - along[:, None] * np.asarray(self.axis), axis=1) - self.radius
        return self.sign * s

    def _signed_grid(self, *, shape, spacing) -> np.ndarray:
        """Signed distance (float32) at every voxel centre, from broadcast axes (no coordinate list)."""
        k, j, i = (np.arange(n, dtype=np.float32)[tuple(slice(None) if a == b else None for b in range(3))]
                   * np.float32(s) for a, (n, s) in enumerate(zip(shape, spacing, strict=True)))
        if self.kind == "plane":
            n = np.asarray(self.normal, dtype=np.float32)
            signed = k * n[0] + j * n[1] + i * n[2] - np.float32(self.offset)
        else:
            c = np.asarray(self.axis_point, dtype=np.float32)
            a = np.asarray(self.axis, dtype=np.float32)
            dk, dj, di = k - c[0], j - c[1], i - c[2]
            along = dk * a[0] + dj * a[1] + di * a[2]
            signed = np.sqrt((dk - along * a[0]) ** 2 + (dj - along * a[1]) ** 2 + (di - along * a[2]) ** 2)
            signed -= np.float32(self.radius)
        return np.broadcast_to(np.float32(self.sign) * signed, tuple(shape)).astype(np.float32)

    def signed_depth_mm(self, *, shape, spacing) -> np.ndarray:
        """Signed distance beyond the inner face (> 0 in or behind the wall), on voxel centres (k, j, i mm)."""
        return self._signed_grid(shape=shape, spacing=spacing) - np.float32(self.inner_mm)

    def occupancy(self, *, shape, spacing, margin_mm: float) -> np.ndarray:
        """1 on the specimen side, 0.5 at the inner face minus ``margin_mm``, a one-voxel ramp."""
        return self.occupancy_from_depth(self.signed_depth_mm(shape=shape, spacing=spacing), spacing=spacing,
                                         margin_mm=margin_mm)

    @staticmethod
    def occupancy_from_depth(depth: np.ndarray, *, spacing, margin_mm: float) -> np.ndarray:
        """:meth:`occupancy` from a :meth:`signed_depth_mm` already computed."""
        ramp = np.float32(0.5) - (depth + np.float32(margin_mm)) / np.float32(np.mean(spacing))
        return np.clip(ramp, 0.0, 1.0).astype(np.float32)

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

    fit = least_squares(residuals, [cu, cv, radius, 0.0, 0.0], loss="soft_l1", f_scale=0.5, max_nfev=40,
                        x_scale="jac")
    cu, cv, radius = fit.x[:3]
    refined = axis + fit.x[3] * e1 + fit.x[4] * e2
    refined /= np.linalg.norm(refined)
    model = {"kind": "cylinder", "axis_point": tuple(cu * e1 + cv * e2), "axis": tuple(refined),
             "radius": float(radius)}
    return float(np.std(residuals(fit.x))), model


def find_container_walls(*, ct, core, far, spacing, air_hu) -> list[WallModel]:
    """Plane or cylinder walls: large smooth sheets clearly above air in ``far`` (voxels more than 3 mm
    from the specimen core and 2 mm from the plate, whose partial-volume skin would join a wall)."""
    # A thin near-water wall blurs to a ridge far below the tissue threshold (1 mm at +4 HU peaks at
    # about -200 HU), so walls are looked for at the film level; only smooth sheets get a model.
    sheets = (ct > air_hu + SHEET_ABOVE_AIR_HU) & far
    labels, count = ndimage.label(sheets, structure=np.ones((3, 3, 3)))
    if count == 0:
        return []
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    scale = np.asarray(spacing)
    if not core.any():
        return []
    core_centre = np.argwhere(core[::2, ::2, ::2]).mean(axis=0) * 2 * scale
    big = [int(label) for label in np.argsort(sizes)[::-1][:4] if sizes[label] * np.prod(spacing) >= 20.0]
    # The specimen pressed on a wall splits its free part in two (left and right of the contact):
    # both pieces together pin the shape far better, so they are tried together first.
    groups = ([big[:2]] if len(big) >= 2 else []) + [[label] for label in big]
    walls: list[WallModel] = []
    used: set[int] = set()
    for group in groups:
        if used.intersection(group):
            continue
        wall = _fitted_wall(ct=ct, piece=np.isin(labels, group), far=far, core_centre=core_centre,
                            spacing=spacing, air_hu=air_hu)
        if wall is not None:
            walls.append(wall)
            used.update(group)
    return walls


def _fitted_wall(*, ct, piece, far, core_centre, spacing, air_hu) -> WallModel | None:
    """A plane or cylinder for one sheet, its inner face and edge profile; None if it is neither."""
    voxels = np.argwhere(piece)
    points = voxels * np.asarray(spacing)
    variances = np.sort(np.linalg.eigvalsh(np.cov(points, rowvar=False)))
    width, length = np.sqrt(12 * np.clip(variances[1:], 0.0, None))  # extents of a uniform sheet
    if width < MIN_WALL_WIDTH_MM or width * length < MIN_WALL_AREA_MM2:
        return None
    # The shape is fitted to the ridge (above half the sheet's peak): the whole sheet is the wall
    # plus its blur on both sides, too thick to pin a short arc's radius.
    hu = ct[tuple(voxels.T)]
    points = points[hu >= 0.5 * (air_hu + float(np.percentile(hu, 95)))]
    _, vecs = np.linalg.eigh(np.cov(points, rowvar=False))
    sample = points[:: max(1, len(points) // FIT_POINTS)]  # a fit needs a few thousand points
    # The cylinder's axis lies in the sheet (the two largest spreads), never along its normal.
    fits = [_plane_fit(sample)] + [_circle_fit(sample, vecs[:, i]) for i in (1, 2)]
    residual, params = min(fits, key=lambda f: f[0])
    if fits[0][0] <= residual + 0.05:  # a huge cylinder is a plane: keep the simpler model
        residual, params = fits[0]
    if residual > MAX_FIT_RESIDUAL_MM:
        return None
    model = WallModel(inner_mm=0.0, sign=1.0, **params)
    sign = -1.0 if model._signed(core_centre[None])[0] > 0 else 1.0
    model = WallModel(inner_mm=0.0, sign=sign, **params)
    near = ndimage.binary_dilation(piece, iterations=3) & far
    measured = _inner_face(ct=ct, model=model, near=near, spacing=spacing, air_hu=air_hu)
    if measured is None:
        return None
    inner, prof_s, prof_hu, slab = measured
    if slab is None and width < PINNED_WALL_WIDTH_MM:
        # A narrow sheet pins its shape weakly: when the blurred slab does not fit the profile across
        # it the shape is off (a narrow arc's radius misjudged), and the half-way face extrapolated
        # through the contact sat 1.1 mm outside. Unfitted, it is peeled and flagged as a thick layer.
        # (A wide sheet keeps the half-way face, which lies inside a thin wall: a 1 mm +4 HU wall.)
        return None
    wall = WallModel(inner_mm=inner, sign=sign, profile_s=prof_s, profile_hu=prof_hu, slab=slab, **params)
    return _refined_on_intensities(wall=wall, ct=ct, near=near, spacing=spacing, air_hu=air_hu)


def _tangents(vector) -> tuple[np.ndarray, np.ndarray]:
    vector = np.asarray(vector, float)
    e1 = np.cross(vector, [1.0, 0.0, 0.0] if abs(vector[0]) < 0.9 else [0.0, 1.0, 0.0])
    e1 /= np.linalg.norm(e1)
    return e1, np.cross(vector, e1)


def _refined_on_intensities(*, wall: WallModel, ct, near, spacing, air_hu) -> WallModel:
    """Shape and slab fitted together to the voxels' HU around the free wall.

    The shape from the voxel positions is only as good as the sheet's thickness allows (a short arc
    of a 2.5 mm shell pins its radius to a few mm); fitting the blurred slab to every voxel's HU
    pins the face to a few hundredths of a mm. Kept only when it fits the HU better.
    """
    if len(wall.profile_s) < 2 or wall.slab is None:
        return wall
    voxels = np.argwhere(near)
    voxels = voxels[:: max(1, len(voxels) // REFINE_VOXELS)]
    points = voxels * np.asarray(spacing)
    hu = ct[tuple(voxels.T)].astype(float)
    centre = points.mean(axis=0)
    face, width, height, sigma = wall.slab
    if wall.kind == "plane":
        normal = np.asarray(wall.normal)
        e1, e2 = _tangents(normal)
        pivot = wall.offset - centre @ normal  # the plane's offset as seen from the centre

        def geometry(x):
            n = normal + x[0] * e1 + x[1] * e2
            n = n / np.linalg.norm(n)
            return {"kind": "plane", "normal": tuple(n), "offset": float(pivot + centre @ n)}
    else:
        axis = np.asarray(wall.axis)
        e1, e2 = _tangents(axis)
        foot = np.asarray(wall.axis_point) + ((centre - np.asarray(wall.axis_point)) @ axis) * axis

        def geometry(x):
            a = axis + x[0] * e1 + x[1] * e2
            return {"kind": "cylinder", "axis": tuple(a / np.linalg.norm(a)),
                    "axis_point": tuple(foot + x[2] * e1 + x[3] * e2), "radius": wall.radius}
    n_shape = 2 if wall.kind == "plane" else 4

    def residuals(x):
        shaped = WallModel(inner_mm=0.0, sign=wall.sign, **geometry(x[:n_shape]))
        return _slab(shaped._signed(points), *x[n_shape:], air_hu) - hu

    start = np.r_[np.zeros(n_shape), face, width, height, sigma]
    try:
        fit = least_squares(residuals, start, loss="soft_l1", f_scale=50.0, max_nfev=60, x_scale="jac")
    except ValueError:
        return wall
    face, width, height, sigma = fit.x[n_shape:]
    def robust(r):
        return float(np.sum(np.sqrt(1.0 + (r / 50.0) ** 2)))

    if not (0.05 < sigma < 2.0 and 0.1 < width < 30.0 and height > 0) or robust(fit.fun) >= robust(residuals(start)):
        return wall
    grid = np.arange(wall.profile_s[0], face + 0.5 * width + PROFILE_BIN_MM, PROFILE_BIN_MM)
    return WallModel(inner_mm=float(face), sign=wall.sign, profile_s=tuple(grid.tolist()),
                     profile_hu=tuple(_slab(grid, face, width, height, sigma, air_hu).tolist()),
                     slab=(float(face), float(width), float(height), float(sigma)), **geometry(fit.x[:n_shape]))


def plate_model(*, ct, plate, core, near, spacing, air_hu) -> WallModel | None:
    """The plate as a plane with its measured edge profile (top face towards the specimen)."""
    if not plate.any() or not core.any():
        return None
    points = np.argwhere(plate)[:: max(1, int(plate.sum()) // 50_000)] * np.asarray(spacing)
    _, params = _plane_fit(points)
    centre = np.argwhere(core[::2, ::2, ::2]).mean(axis=0) * 2 * np.asarray(spacing)
    model = WallModel(inner_mm=0.0, sign=1.0, **params)
    sign = -1.0 if model._signed(centre[None])[0] > 0 else 1.0
    model = WallModel(inner_mm=0.0, sign=sign, **params)
    measured = _inner_face(ct=ct, model=model, near=near, spacing=spacing, air_hu=air_hu)
    if measured is None:
        return None
    inner, prof_s, prof_hu, slab = measured
    return WallModel(inner_mm=inner, sign=sign, profile_s=prof_s, profile_hu=prof_hu, slab=slab, **params)


def _inner_face(*, ct, model: WallModel, near, spacing, air_hu) -> tuple[float, tuple, tuple, tuple | None] | None:
    """Inner face (signed distance, mm) and edge profile of a wall or plate, from its free part.

    The mean HU across the structure (0.05 mm bins of the signed distance) is fitted with a slab
    blurred by a Gaussian: air + height * (Phi((s - face) / sigma) - Phi((s - face - width) / sigma)).
    The half-way level of a thin wall's peak lies outside the wall (its blurred plateau is never
    reached), the fitted face does not. If the fit fails, the half-way crossing is kept (inward).
    """
    points = np.argwhere(near) * np.asarray(spacing)
    s = model._signed(points)
    hu = ct[near]
    bins = np.floor(s / PROFILE_BIN_MM).astype(int)
    lo = bins.min()
    counts = np.bincount(bins - lo)
    sums = np.bincount(bins - lo, weights=hu)
    ok = counts >= 5
    centres = (np.arange(len(counts)) + lo + 0.5) * PROFILE_BIN_MM
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
            crossing = float(centres[i - 1] + (half - filled[i - 1]) / (filled[i] - filled[i - 1]) * PROFILE_BIN_MM)
            break
    else:
        return None
    fitted = _fit_blurred_slab(centres[ok], profile[ok], counts[ok], air_hu=air_hu, face=crossing,
                               height=plateau - air_hu)
    if fitted is None:  # the profile up to the plateau: beyond it the structure is cut away anyway
        return crossing, tuple(centres[: peak + 1].tolist()), tuple(filled[: peak + 1].tolist()), None
    face, width, height, sigma = fitted
    grid = np.arange(centres[0], face + 0.5 * width + PROFILE_BIN_MM, PROFILE_BIN_MM)
    profile_hu = tuple(_slab(grid, face, width, height, sigma, air_hu).tolist())
    return float(face), tuple(grid.tolist()), profile_hu, fitted


def _slab(s, face, width, height, sigma, air_hu):
    scale = np.sqrt(2.0) * sigma
    return air_hu + 0.5 * height * (erf((s - face) / scale) - erf((s - face - width) / scale))


def _fit_blurred_slab(s, hu, counts, *, air_hu, face, height):
    excess = np.clip(hu - air_hu, 0.0, None)
    width = max(float(excess.sum() * PROFILE_BIN_MM / max(height, 1.0)), 0.3)
    weight = np.sqrt(counts)

    def residuals(x):
        return weight * (_slab(s, x[0], x[1], x[2], x[3], air_hu) - hu)

    start = [face, width, height, 0.4]
    try:
        fit = least_squares(residuals, start, bounds=([s[0], 0.1, 20.0, 0.05], [s[-1], 30.0, 5000.0, 2.0]),
                            loss="soft_l1", f_scale=20.0 * float(weight.mean()), max_nfev=200)
    except ValueError:
        return None
    face, width, height, sigma = (float(v) for v in fit.x)
    if not fit.success or sigma >= 1.99 or width <= 0.11:
        return None
    return face, width, height, sigma


def film_thickness_mm(*, ct, exclude, far, spacing, air_hu, level) -> float:
    """Tissue-equivalent film thickness (mm) on the largest free sheet in ``far`` (> 1.5 mm from the core)."""
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
