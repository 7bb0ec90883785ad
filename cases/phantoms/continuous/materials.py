"""Occupancy of every material of a continuous scene on a grid (partial volume, supersampled)."""

from __future__ import annotations

import numpy as np

from cases.imaging.volume import Grid
from cases.phantoms.continuous.render import occupancy
from cases.phantoms.continuous.scene import Wrapping
from cases.phantoms.continuous.shapes import ContinuousSpecimen, HalfSpace, SphereUnion
from cases.phantoms.fields import axis_coords

SLACK = 1.5  # margin on the first-order distance estimate of the band


def _roi(grid: Grid, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    zc, yc, xc = axis_coords(grid)
    return (
        ((zc >= lo[2]) & (zc <= hi[2]))[:, None, None]
        & ((yc >= lo[1]) & (yc <= hi[1]))[None, :, None]
        & ((xc >= lo[0]) & (xc <= hi[0]))[None, None, :]
    )


def specimen_occupancy(*, specimen: ContinuousSpecimen, grid: Grid, grow_mm: float = 0.0) -> np.ndarray:
    blob = specimen.blob
    reach = 1.3 * float(np.max(blob.semi_axes)) + grow_mm + 2.0
    roi = _roi(grid, blob.centre - reach, blob.centre + reach)

    def excess(p: np.ndarray) -> np.ndarray:
        return specimen.excess(p) - grow_mm

    return occupancy(excess=excess, grid=grid, slack=SLACK, roi=roi)


def tumour_occupancy(*, tumour: SphereUnion, grid: Grid) -> np.ndarray:
    lo = (tumour.centres - tumour.radii[:, None]).min(axis=0) - 1.0
    hi = (tumour.centres + tumour.radii[:, None]).max(axis=0) + 1.0
    return occupancy(excess=tumour.excess, grid=grid, slack=1.05, roi=_roi(grid, lo, hi))


def _tray_excess(w: Wrapping):
    def excess(p: np.ndarray) -> np.ndarray:
        y = p[:, 1]
        return np.maximum(w.tray_top_y - y, y - w.tray_top_y - w.tray_thickness_mm)

    return excess


def _tail_excess(w: Wrapping):
    tail = w.film_tail
    side = np.cross(tail["normal"], tail["direction"])

    def excess(p: np.ndarray) -> np.ndarray:
        d = p - tail["point"]
        across = np.abs(d @ tail["normal"]) - 0.5 * w.film_mm
        along = np.maximum(-(d @ tail["direction"]), d @ tail["direction"] - tail["length"])
        lateral = np.abs(d @ side) - 0.5 * tail["width"]
        return np.maximum(np.maximum(across, along), lateral)

    return excess


def _wall_excess(w: Wrapping, top_y: float):
    wall = w.wall

    def excess(p: np.ndarray) -> np.ndarray:
        if isinstance(wall, HalfSpace):
            s = p @ wall.normal - wall.offset
        else:
            s = np.hypot(p[:, 0] - wall.axis_xz[0], p[:, 2] - wall.axis_xz[1]) - wall.radius
        shell = np.maximum(-s, s - w.wall_thickness_mm)
        return np.maximum(shell, np.maximum(p[:, 1] - w.tray_top_y, top_y - p[:, 1]))

    return excess


def _gauze_excess(w: Wrapping, bottom_y: float):
    n_layers = 4
    r = w.gauze_thread_mm
    layers = bottom_y + r + np.arange(n_layers) * (w.gauze_mm - 2 * r) / (n_layers - 1)
    pitch = w.gauze_pitch_mm

    def excess(p: np.ndarray) -> np.ndarray:
        best = np.full(len(p), np.inf)
        for i, y0 in enumerate(layers):
            across = p[:, 2] if i % 2 == 0 else p[:, 0]  # threads along x, then along z
            offset = (across + 0.37 * i * pitch) % pitch - 0.5 * pitch
            best = np.minimum(best, np.hypot(p[:, 1] - y0, offset) - r)
        return best

    return excess


def wrapping_occupancies(
    *, specimen: ContinuousSpecimen, wrapping: Wrapping, grid: Grid, specimen_occ: np.ndarray
) -> dict[str, np.ndarray]:
    """Occupancy of the tray and the wrapping's materials (outside the specimen).

    A wall or gauze touching the specimen shares its boundary voxels with it: the two are disjoint, so in
    such a voxel the material fills what the specimen leaves, ``min(material, 1 - specimen)``. (Version 1
    took ``material * (1 - specimen)``, which left a false air fraction of up to a quarter voxel at the
    contact, so the CT showed a thin gap between a specimen and the wall it was pressed against.)
    """
    out = {"tray": occupancy(excess=_tray_excess(wrapping), grid=grid, slack=1.05)}
    outside = 1.0 - specimen_occ
    if wrapping.kind == "film":
        shell = specimen_occupancy(specimen=specimen, grid=grid, grow_mm=wrapping.film_mm) - specimen_occ
        tail = occupancy(excess=_tail_excess(wrapping), grid=grid, slack=1.05)
        out["film"] = np.clip(shell + tail * (1.0 - shell - specimen_occ), 0.0, 1.0) * (1.0 - out["tray"])
    elif wrapping.kind == "container":
        top = specimen.blob.centre[1] - 1.3 * float(np.max(specimen.blob.semi_axes)) - 3.0
        out["wall"] = np.minimum(occupancy(excess=_wall_excess(wrapping, top), grid=grid, slack=1.05), outside)
    elif wrapping.kind == "gauze":
        out["gauze"] = np.minimum(
            occupancy(excess=_gauze_excess(wrapping, specimen.cuts[0].offset), grid=grid, slack=1.05), outside
        )
    return out
