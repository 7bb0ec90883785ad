"""Shapes of the synthetic lumpectomy specimen: specimen body, holder plate, fibroglandular
tissue, tumours and surgical clips.

Everything is defined in patient LPS millimetres; ``+y`` (posterior) is "down", so the
holder plate lies at larger ``y`` than the specimen and the specimen is flattened where it
rests on it. Shapes are implicit functions evaluated on a :class:`~cases.imaging.volume.Grid`
(the CT grid is the fine truth grid).

* Specimen: a rotated ellipsoid whose normalised radius is deformed by low- and
  mid-frequency Gaussian random fields, cut flat by the plate top ``y = plate_top_y``.
* Fibroglandular tissue: a thresholded low-frequency field (regions) plus the thin zero
  level set of a finer field (sheets that look like strands in a slice).
* Tumour: a union of deformed ellipsoidal lobes plus optional spicules (tapered rods),
  built on a small patch with the CT spacing and pasted at an integer voxel offset.
* Clips: metal rods (capsules) a few mm long just under the specimen surface.

:func:`box_specimen_with_sphere` builds the simple configuration used to hand-check the
margin truth (a sphere at a known depth in a box).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from scipy.special import ndtr, ndtri

from cases.imaging.volume import Grid
from cases.phantoms.config import SizePreset
from cases.phantoms.fields import CoarseField, axis_coords, smooth_noise


def rotation_matrix(*, yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """Rotation about y (yaw), then x (pitch), then z (roll); columns are the body axes."""
    a, b, c = np.deg2rad([yaw_deg, pitch_deg, roll_deg])
    ry = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ rx @ ry


def random_unit_vector(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / np.linalg.norm(v)


def _quadratic_form_on_grid(
    *, grid: Grid, centre: np.ndarray, rotation: np.ndarray, semi_axes: np.ndarray
) -> np.ndarray:
    """``r^2 = (p-c)^T Q (p-c)`` on every voxel, with ``Q = R diag(1/a^2) R^T``; float32.

    Built from 2D partial sums so only two full-size additions are needed.
    """
    zc, yc, xc = axis_coords(grid)
    q = rotation @ np.diag(1.0 / np.asarray(semi_axes, float) ** 2) @ rotation.T
    x = (xc - centre[0]).astype(np.float32)
    y = (yc - centre[1]).astype(np.float32)
    z = (zc - centre[2]).astype(np.float32)
    q = q.astype(np.float32)
    kj = q[1, 1] * y[None, :] ** 2 + q[2, 2] * z[:, None] ** 2 + 2 * q[1, 2] * z[:, None] * y[None, :]
    ki = q[0, 0] * x[None, :] ** 2 + 2 * q[0, 2] * z[:, None] * x[None, :]
    ji = 2 * q[0, 1] * y[:, None] * x[None, :]
    out = kj[:, :, None] + ki[:, None, :]
    out += ji[None, :, :]
    return out


def _quadratic_form_at_points(
    xyz: np.ndarray, *, centre: np.ndarray, rotation: np.ndarray, semi_axes: np.ndarray
) -> np.ndarray:
    d = np.asarray(xyz, float) - centre
    body = d @ rotation  # coordinates along the body axes
    return np.sum((body / np.asarray(semi_axes, float)) ** 2, axis=-1)


# --------------------------------------------------------------------------- specimen


@dataclass(frozen=True)
class SpecimenShape:
    """Deformed, flattened ellipsoid resting on the holder plate."""

    centre: np.ndarray  # (x, y, z) mm
    semi_axes: np.ndarray  # (a, b, c) along the body axes, mm
    rotation: np.ndarray  # 3x3, columns = body axes in patient space
    plate_top_y: float  # specimen occupies y < plate_top_y
    plate_thickness_mm: float
    deformation: CoarseField  # already scaled: r < 1 + deformation is inside

    def inside_on_grid(self, grid: Grid) -> np.ndarray:
        r2 = _quadratic_form_on_grid(
            grid=grid, centre=self.centre, rotation=self.rotation, semi_axes=self.semi_axes
        )
        limit = self.deformation.on_grid(grid)
        limit += 1.0
        np.maximum(limit, 0.0, out=limit)
        inside = r2 < limit * limit
        _, yc, _ = axis_coords(grid)
        inside &= (yc < self.plate_top_y)[None, :, None]
        return inside

    def inside_points(self, xyz: np.ndarray) -> np.ndarray:
        xyz = np.asarray(xyz, float)
        r2 = _quadratic_form_at_points(
            xyz, centre=self.centre, rotation=self.rotation, semi_axes=self.semi_axes
        )
        limit = np.maximum(1.0 + self.deformation.at_points(xyz), 0.0)
        return (r2 < limit**2) & (xyz[..., 1] < self.plate_top_y)

    def plate_on_grid(self, grid: Grid) -> np.ndarray:
        """Holder plate: the slab ``plate_top_y <= y < plate_top_y + thickness`` (all x, z)."""
        _, yc, _ = axis_coords(grid)
        rows = (yc >= self.plate_top_y) & (yc < self.plate_top_y + self.plate_thickness_mm)
        return np.broadcast_to(rows[None, :, None], grid.shape)

    def bounding_box(self, *, step_mm: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
        """Axis-aligned box (lo, hi) in mm that contains the specimen, from a coarse lattice."""
        reach = (1.0 + max(float(self.deformation.values.max()), 0.0)) * float(
            np.max(self.semi_axes)
        ) + step_mm
        lo = self.centre - reach
        counts = int(np.ceil(2 * reach / step_mm)) + 1
        lattice = Grid(
            shape=(counts, counts, counts),
            spacing=(step_mm, step_mm, step_mm),
            origin=(float(lo[0]), float(lo[1]), float(lo[2])),
        )
        inside = self.inside_on_grid(lattice)
        if not inside.any():
            raise ValueError("degenerate specimen")
        kk, jj, ii = np.nonzero(inside)
        lo_idx = np.array([ii.min(), jj.min(), kk.min()], float)
        hi_idx = np.array([ii.max(), jj.max(), kk.max()], float)
        box_lo = lo + lo_idx * step_mm - step_mm
        box_hi = lo + hi_idx * step_mm + step_mm
        box_hi[1] = min(box_hi[1], self.plate_top_y)
        return box_lo, box_hi


def build_specimen(*, rng: np.random.Generator, preset: SizePreset) -> SpecimenShape:
    """Draw a specimen of the preset's scale (longest axis along z before the yaw)."""
    long_mm = rng.uniform(*preset.specimen_long_mm)
    width = min(long_mm * rng.uniform(*preset.specimen_width_frac), preset.max_width_mm)
    height = min(long_mm * rng.uniform(*preset.specimen_height_frac), preset.max_height_mm)
    cut = rng.uniform(0.15, 0.3)  # fraction of the y semi-axis flattened by the plate
    semi_y = height / (2.0 - cut)
    semi = np.array([width / 2.0, semi_y, long_mm / 2.0])
    rotation = rotation_matrix(
        yaw_deg=rng.uniform(-30, 30), pitch_deg=rng.uniform(-8, 8), roll_deg=rng.uniform(-8, 8)
    )
    centre = np.array([rng.uniform(-3, 3), rng.uniform(-2, 2), rng.uniform(-3, 3)])
    plate_top = float(centre[1] + semi_y * (1.0 - cut))
    reach = 1.5 * float(semi.max())
    lo, hi = centre - reach, centre + reach
    low_sigma = rng.uniform(0.3, 0.45) * float(np.min(semi[[0, 2]]))
    low = smooth_noise(rng=rng, lo_xyz=lo, hi_xyz=hi, sigma_mm=max(low_sigma, 3.0))
    mid = smooth_noise(rng=rng, lo_xyz=lo, hi_xyz=hi, sigma_mm=rng.uniform(1.5, 3.0))
    amp_low = rng.uniform(0.05, 0.12)
    amp_mid = rng.uniform(0.01, 0.03)
    deformation = np.clip(mid.values, -2.5, 2.5) * amp_mid
    deformation += np.clip(low.on_grid(mid.grid), -2.5, 2.5) * amp_low
    return SpecimenShape(
        centre=centre,
        semi_axes=semi,
        rotation=rotation,
        plate_top_y=plate_top,
        plate_thickness_mm=float(rng.uniform(2.0, 4.0)),
        deformation=CoarseField(values=deformation.astype(np.float32), grid=mid.grid),
    )


# --------------------------------------------------------------------- fibroglandular


@dataclass(frozen=True)
class FibroTexture:
    """Fibroglandular tissue: regions ``g > t`` plus sheets ``|h| < eps`` where ``g > t - delta``."""

    regions: CoarseField
    sheets: CoarseField
    threshold: float
    sheet_eps: float
    sheet_delta: float
    density: float  # nominal fraction of the specimen

    def indicator(self) -> CoarseField:
        """A field that is > 0 exactly on fibroglandular tissue (on the sheets' lattice)."""
        g = self.regions.on_grid(self.sheets.grid)
        h = self.sheets.values
        sheet = np.minimum(self.sheet_eps - np.abs(h), g - (self.threshold - self.sheet_delta))
        return CoarseField(
            values=np.maximum(g - self.threshold, sheet).astype(np.float32), grid=self.sheets.grid
        )

    def on_grid(self, grid: Grid) -> np.ndarray:
        return self.indicator().on_grid(grid) > 0


def build_fibro(
    *, rng: np.random.Generator, lo_xyz: np.ndarray, hi_xyz: np.ndarray, small: bool
) -> FibroTexture:
    density = rng.uniform(0.1, 0.35)
    regions = smooth_noise(
        rng=rng,
        lo_xyz=lo_xyz,
        hi_xyz=hi_xyz,
        sigma_mm=rng.uniform(2.0, 3.5) if small else rng.uniform(2.5, 5.0),
    )
    sheets = smooth_noise(
        rng=rng, lo_xyz=lo_xyz, hi_xyz=hi_xyz, sigma_mm=rng.uniform(1.2, 2.0), points_per_sigma=3.0
    )
    return FibroTexture(
        regions=regions,
        sheets=sheets,
        threshold=float(ndtri(1.0 - density)),
        sheet_eps=float(ndtri(0.5 + rng.uniform(0.09, 0.15))),
        sheet_delta=float(rng.uniform(0.6, 1.4)),
        density=float(density),
    )


# ---------------------------------------------------------------------------- tumour


@dataclass(frozen=True)
class TumourShape:
    """A tumour on a local patch with the CT spacing; centre at ``centre_index``."""

    mask: np.ndarray  # bool [k, j, i], mass and spicules
    body: np.ndarray  # bool [k, j, i], the mass alone (lobes, no spicules): what imaging resolves
    uptake: np.ndarray  # float32 [k, j, i], relative uptake (0 outside the mask)
    centre_index: tuple[int, int, int]
    spacing: tuple[float, float, float]  # (sz, sy, sx)
    diameter_mm: float  # nominal core diameter
    n_lobes: int
    n_spicules: int
    necrotic: bool

    @property
    def radius_mm(self) -> float:
        return self.diameter_mm / 2.0

    def boundary_offsets(self, *, body_only: bool = False) -> np.ndarray:
        """(N, 3) k, j, i offsets from the centre of mask voxels with a non-mask 6-neighbour.

        ``body_only`` uses the mass without its spicules.
        """
        mask = self.body if body_only else self.mask
        eroded = ndi.binary_erosion(mask, border_value=0)
        return np.argwhere(mask & ~eroded) - np.asarray(self.centre_index)

    def voxel_offsets(self) -> np.ndarray:
        return np.argwhere(self.mask) - np.asarray(self.centre_index)


def build_tumour(
    *,
    rng: np.random.Generator,
    spacing: tuple[float, float, float],
    diameter_mm: float,
    spiculated: bool,
    lobulated: bool = True,
) -> TumourShape:
    """A lobulated blob with optional spicules and a heterogeneous relative uptake."""
    radius = diameter_mm / 2.0
    n_spicules = int(rng.integers(8, 19)) if spiculated else 0
    spicule_reach = min(8.0, 0.7 * radius + 3.0)
    half = 1.45 * radius + (spicule_reach if n_spicules else 0.0) + 0.5
    sz, sy, sx = spacing
    counts = [2 * int(np.ceil(half / s)) + 1 for s in (sz, sy, sx)]
    centre_index = tuple(c // 2 for c in counts)
    patch = Grid(
        shape=tuple(counts),
        spacing=(sz, sy, sx),
        origin=(-centre_index[2] * sx, -centre_index[1] * sy, -centre_index[0] * sz),
    )
    origin0 = np.zeros(3)
    deform = smooth_noise(
        rng=rng, lo_xyz=origin0 - half, hi_xyz=origin0 + half, sigma_mm=max(1.0, 0.3 * radius)
    )
    amp = rng.uniform(0.08, 0.18)
    limit = 1.0 + amp * np.clip(deform.on_grid(patch), -2.5, 2.5)
    limit_sq = limit * limit

    n_lobes = 1 + (int(rng.integers(0, 4)) if lobulated else 0)
    mask = np.zeros(patch.shape, bool)
    main_r2 = None
    for lobe in range(n_lobes):
        if lobe == 0:
            centre = np.zeros(3)
            r = radius * rng.uniform(0.82, 0.95)
        else:
            centre = random_unit_vector(rng) * radius * rng.uniform(0.3, 0.55)
            r = radius * rng.uniform(0.45, 0.7)
        semi = r * rng.uniform(0.8, 1.2, size=3)
        rot = rotation_matrix(
            yaw_deg=rng.uniform(0, 360), pitch_deg=rng.uniform(-90, 90), roll_deg=rng.uniform(0, 360)
        )
        r2 = _quadratic_form_on_grid(grid=patch, centre=centre, rotation=rot, semi_axes=semi)
        if lobe == 0:
            main_r2 = r2
        mask |= r2 < limit_sq

    uptake_field = smooth_noise(
        rng=rng, lo_xyz=origin0 - half, hi_xyz=origin0 + half, sigma_mm=max(1.0, 0.3 * radius)
    )
    uptake = (0.7 + 0.6 * ndtr(uptake_field.on_grid(patch))).astype(np.float32)
    necrotic = bool(diameter_mm >= 14.0 and rng.random() < 0.35)
    if necrotic and main_r2 is not None:
        core = main_r2 < rng.uniform(0.35, 0.55) ** 2
        uptake[core] *= rng.uniform(0.25, 0.45)

    spicules = np.zeros(patch.shape, bool)
    for _ in range(n_spicules):
        direction = random_unit_vector(rng)
        # from inside the core to 1..reach mm beyond its nominal surface, tapering to a tip
        _paint_capsule(
            spicules,
            grid=patch,
            start=direction * radius * 0.6,
            end=direction * (radius + rng.uniform(1.5, spicule_reach)),
            radius_start=rng.uniform(0.4, 0.8),
            radius_end=max(0.1, 0.55 * min(spacing)),  # thin, but still connected when sampled
        )
    spicules &= ~mask
    mask |= spicules
    uptake[spicules] = uptake[spicules] * 0.6
    mask = largest_component(mask)
    uptake[~mask] = 0.0
    return TumourShape(
        mask=mask,
        body=mask & ~spicules,
        uptake=uptake,
        centre_index=centre_index,
        spacing=(sz, sy, sx),
        diameter_mm=float(diameter_mm),
        n_lobes=n_lobes,
        n_spicules=n_spicules,
        necrotic=necrotic,
    )


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 26-connected component of ``mask`` (all False if empty)."""
    labels, count = ndi.label(mask, structure=np.ones((3, 3, 3), bool))
    if count <= 1:
        return mask.copy()
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def _paint_capsule(
    out: np.ndarray,
    *,
    grid: Grid,
    start: np.ndarray,
    end: np.ndarray,
    radius_start: float,
    radius_end: float,
) -> None:
    """Set voxels of ``out`` within a tapered rod from ``start`` to ``end`` (mm) to True."""
    rmax = max(radius_start, radius_end)
    lo = np.minimum(start, end) - rmax
    hi = np.maximum(start, end) + rmax
    idx_lo = np.floor(grid.patient_to_index(lo[None])[0]).astype(int)
    idx_hi = np.ceil(grid.patient_to_index(hi[None])[0]).astype(int)
    a = np.minimum(idx_lo, idx_hi)
    b = np.maximum(idx_lo, idx_hi)
    a = np.clip(a, 0, np.asarray(grid.shape) - 1)
    b = np.clip(b, 0, np.asarray(grid.shape) - 1)
    if np.any(b < a):
        return
    zc, yc, xc = axis_coords(grid)
    z = zc[a[0] : b[0] + 1][:, None, None]
    y = yc[a[1] : b[1] + 1][None, :, None]
    x = xc[a[2] : b[2] + 1][None, None, :]
    d = end - start
    length2 = float(d @ d)
    if length2 == 0:
        return
    t = ((x - start[0]) * d[0] + (y - start[1]) * d[1] + (z - start[2]) * d[2]) / length2
    t = np.clip(t, 0.0, 1.0)
    dist2 = (x - start[0] - t * d[0]) ** 2 + (y - start[1] - t * d[1]) ** 2 + (z - start[2] - t * d[2]) ** 2
    rad = radius_start + (radius_end - radius_start) * t
    out[a[0] : b[0] + 1, a[1] : b[1] + 1, a[2] : b[2] + 1] |= dist2 < rad * rad


# ----------------------------------------------------------------------------- clips


@dataclass(frozen=True)
class Clip:
    """A straight metal rod (surgical clip limb)."""

    start: np.ndarray  # mm
    end: np.ndarray  # mm
    diameter_mm: float

    def to_dict(self) -> dict:
        return {
            "start_mm": [round(float(v), 3) for v in self.start],
            "end_mm": [round(float(v), 3) for v in self.end],
            "diameter_mm": round(float(self.diameter_mm), 3),
        }


def paint_clips(*, grid: Grid, clips: list[Clip]) -> np.ndarray:
    out = np.zeros(grid.shape, bool)
    for clip in clips:
        _paint_capsule(
            out,
            grid=grid,
            start=clip.start,
            end=clip.end,
            radius_start=clip.diameter_mm / 2,
            radius_end=clip.diameter_mm / 2,
        )
    return out


def build_clips(
    *,
    rng: np.random.Generator,
    surface_xyz: np.ndarray,
    normals_xyz: np.ndarray,
    avoid_xyz: list[tuple[np.ndarray, float]],
    count: int,
) -> list[Clip]:
    """Clips lying tangentially 0.3-1.5 mm under random surface points (away from the plate
    face and from the ``(centre, radius)`` regions in ``avoid_xyz``). A clip is a V of two
    rods or a single rod."""
    clips: list[Clip] = []
    candidates = np.nonzero(normals_xyz[:, 1] < 0.5)[0]
    if len(candidates) == 0:
        return clips
    tries = 0
    while len(clips) < count and tries < 50 * max(count, 1):
        tries += 1
        pick = int(candidates[rng.integers(len(candidates))])
        point, normal = surface_xyz[pick], normals_xyz[pick]
        if any(np.linalg.norm(point - c) < r + 3.0 for c, r in avoid_xyz):
            continue
        diameter = rng.uniform(0.5, 0.8)
        depth = rng.uniform(0.3, 1.5) + diameter / 2
        centre = point - normal * depth
        tangent = np.cross(normal, random_unit_vector(rng))
        if np.linalg.norm(tangent) < 1e-6:
            continue
        tangent /= np.linalg.norm(tangent)
        length = rng.uniform(3.0, 6.0)
        if rng.random() < 0.5:
            clips.append(Clip(centre - tangent * length / 2, centre + tangent * length / 2, diameter))
        else:  # V-shaped clip: two limbs meeting at one end
            other = np.cross(normal, tangent)
            angle = np.deg2rad(rng.uniform(15, 35))
            apex = centre - tangent * length / 2
            for sign in (-1.0, 1.0):
                limb = tangent * np.cos(angle) + sign * other * np.sin(angle)
                clips.append(Clip(apex, apex + limb * length, diameter))
        avoid_xyz = [*avoid_xyz, (centre, length)]
    return clips


# ------------------------------------------------------------------- hand-check case


def box_specimen_with_sphere(
    *,
    grid: Grid,
    box_lo_mm: tuple[float, float, float],
    box_hi_mm: tuple[float, float, float],
    centre_mm: tuple[float, float, float],
    radius_mm: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Specimen = axis-aligned box, tumour = sphere (clipped to the box); both bool on ``grid``.

    The expected margin to the ``+x`` face is ``box_hi_mm[0] - centre_mm[0] - radius_mm``
    (and likewise for the other faces), which the truth must reproduce within a voxel.
    """
    zc, yc, xc = axis_coords(grid)
    lo, hi = np.asarray(box_lo_mm), np.asarray(box_hi_mm)
    inx = (xc >= lo[0]) & (xc <= hi[0])
    iny = (yc >= lo[1]) & (yc <= hi[1])
    inz = (zc >= lo[2]) & (zc <= hi[2])
    specimen = inz[:, None, None] & iny[None, :, None] & inx[None, None, :]
    c = np.asarray(centre_mm, float)
    r2 = (zc[:, None, None] - c[2]) ** 2 + (yc[None, :, None] - c[1]) ** 2 + (xc[None, None, :] - c[0]) ** 2
    tumour = (r2 <= radius_mm**2) & specimen
    return specimen, tumour
