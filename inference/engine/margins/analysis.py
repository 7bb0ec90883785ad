"""Margin analysis: the distance between the tumour surface and the specimen surface, in mm.

Both surfaces are continuous and located to sub-voxel precision:

* the tumour surface is where the tumour field (the ensemble's mean probability) crosses the
  decision level, the specimen surface where the specimen occupancy (in [0, 1]) crosses 0.5;
  both are marching-cubes iso-surfaces (``surfaces``);
* the margin is the smallest point-to-surface distance between them (``distances``), reported to
  0.01 mm with the closest-point pair (fractional voxel index and patient mm, for the viewer);
* every focus of at least ``min_focus_volume_mm3`` counts (``foci``); the closest margin is over
  all of them; tumour beyond the specimen surface is clipped to it: where the specimen surface
  runs through the tumour the margin is 0, and the volume outside is reported;
* faces (``faces``) and per-slice in-plane margins as in the lamella reading (``slices``);
* the ensemble mean's distance decides the call: ``positive`` when closest <= ``threshold_mm``
  (close counts as positive, as in the reference reader study; 0 mm means only tumour at the
  surface), else ``negative``;
* with the folds' probabilities, each fold is analysed alike: ``interval_mm`` is [min, max] of the
  ensemble's and the folds' closest margins (the ensemble's mean-probability surface is no fold's
  surface and may lie outside the folds' range, so it is included: the interval always holds the
  distance shown) and the status is ``indeterminate`` when the calls (ensemble and folds) disagree
  about the threshold, or some folds see no tumour; per slice likewise, with each fold's in-plane
  margin on the ensemble's slices (a fold without tumour in a slice calls it negative there);
* fail safe: a ``negative`` call becomes ``indeterminate`` when the specimen QC flags a surface that
  may include non-specimen (``UNSAFE_SPECIMEN_QC``), since that reads margins too wide.

Boolean masks are accepted too (``tumour_mask``, ``specimen_mask``): as fields their 0.5
iso-surfaces run half-way between voxel centres, i.e. along the voxel boxes' faces.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cases.imaging.volume import Grid
from inference.engine.margins.distances import Closest, QuerySurface, TargetSurface, closest_between
from inference.engine.margins.faces import FACE_LABELS, check_orientation, vertex_faces
from inference.engine.margins.foci import Focus, bounding_box, find_foci, focus_field
from inference.engine.margins.result import (
    FaceMargin,
    FocusMargin,
    FoldMargin,
    MarginPoint,
    MarginResult,
    SliceMargin,
    agreed_status,
    interval_over,
    round_mm,
    status_for,
)
from inference.engine.margins.slices import SpecimenContour, slice_margin
from inference.engine.margins.surfaces import Surface, iso_surface, sample

DEFAULT_MIN_FOCUS_VOLUME_MM3 = 5.0
# Specimen QC flags under which a surface may include what is not specimen (a container it leaked
# into, a specimen cut by the field of view, a failed segmentation, a "film" too thick to be film - an
# unfitted container wall merged at the contact): a negative call is not trusted.
UNSAFE_SPECIMEN_QC = frozenset({"leak_suspected", "fov_edge", "implausible_volume", "thick_wrapping_layer"})
METHOD = (
    "closest distance between marching-cubes iso-surfaces: tumour = ensemble mean probability at the "
    "decision level, specimen = occupancy 0.5; point-to-triangle refined; tumour clipped to the specimen"
)


class _Frame:
    """The crop being analysed: turns crop-local mm into MarginPoints of the caller's arrays."""

    def __init__(self, *, start: np.ndarray, spacing: np.ndarray, grid: Grid | None) -> None:
        self.start, self.spacing, self.grid = start, spacing, grid

    def point(self, local_mm: np.ndarray) -> MarginPoint:
        index = np.asarray(local_mm, dtype=float) / self.spacing + self.start
        patient = None
        if self.grid is not None:
            patient = tuple(round(float(v), 3) for v in self.grid.index_to_patient(index))
        return MarginPoint(index_kji=tuple(round(float(v), 3) for v in index), patient_mm=patient)


class _FocusGeometry:
    """A focus's clipped surface: tumour surface inside the specimen plus specimen surface inside it."""

    def __init__(self, *, surface: Surface, inside_rows: np.ndarray, crossing_rows: np.ndarray) -> None:
        self.query = Surface(surface.vertices[inside_rows], _renumber(surface, inside_rows))
        self.crossing_rows = crossing_rows  # specimen vertices inside this focus (0 mm)
        self._prepared: QuerySurface | None = None

    @property
    def prepared(self) -> QuerySurface:
        """The query with its k-d tree, built once for the whole surface and every face."""
        if self._prepared is None:
            self._prepared = QuerySurface(self.query)
        return self._prepared

    @property
    def empty(self) -> bool:
        return len(self.query.vertices) == 0 and len(self.crossing_rows) == 0


def _renumber(surface: Surface, rows: np.ndarray) -> np.ndarray:
    new = np.full(len(surface.vertices), -1, dtype=np.int64)
    new[rows] = np.arange(len(rows))
    mapped = new[surface.triangles]
    return mapped[(mapped >= 0).all(axis=1)]


def _focus_geometries(
    *, field: np.ndarray, level: float, occupancy: np.ndarray, specimen: Surface, spacing: np.ndarray,
    voxel_mm3: float, min_focus_volume_mm3: float,
) -> tuple[np.ndarray, list[Focus], list[_FocusGeometry]]:
    labels, foci = find_foci(field=field, level=level, voxel_mm3=voxel_mm3, min_focus_volume_mm3=min_focus_volume_mm3)
    geometries = []
    for focus in foci:
        crop, start = focus_field(field=field, level=level, labels=labels, focus=focus)
        surface = iso_surface(field=crop, level=level, spacing=spacing, offset_voxels=start)
        inside = np.flatnonzero(sample(occupancy, surface.vertices, spacing) >= 0.5)
        crossing = _specimen_rows_above(crop=crop, start=start, level=level, specimen=specimen, spacing=spacing)
        geometries.append(_FocusGeometry(surface=surface, inside_rows=inside, crossing_rows=crossing))
    return labels, foci, geometries


def _specimen_rows_above(
    *, crop: np.ndarray, start: np.ndarray, level: float, specimen: Surface, spacing: np.ndarray,
) -> np.ndarray:
    """Rows of the specimen vertices where the focus ``crop`` (at ``start``) is above ``level``.

    Only the vertices over the crop are sampled (beyond its edges the sampled value is 0).
    """
    local = specimen.vertices - start * spacing
    extent = (np.asarray(crop.shape) - 1) * spacing
    if level >= 0.0:
        over = np.flatnonzero(((local >= -spacing) & (local <= extent + spacing)).all(axis=1))
    else:  # even the 0 beyond the edges is above such a level
        over = np.arange(len(local))
    return over[sample(crop, local[over], spacing) > level]


def _closest(geometry: _FocusGeometry, target: TargetSurface, specimen: Surface) -> Closest | None:
    crossing = np.intersect1d(geometry.crossing_rows, target.rows) if len(geometry.crossing_rows) else ()
    if len(crossing):
        point = specimen.vertices[crossing[0]]
        return Closest(0.0, point, point)
    if len(geometry.query.vertices) == 0:
        return None
    return closest_between(query=geometry.prepared, extra_points=None, target=target)


def _best(candidates: Sequence[Closest | None]) -> Closest | None:
    found = [c for c in candidates if c is not None]
    return min(found, key=lambda c: c.distance_mm) if found else None


def _crop_box(occupancy: np.ndarray, tumour: np.ndarray, level: float) -> tuple[slice, ...]:
    found = bounding_box((occupancy > 0) | (tumour > level))
    if found is None:
        raise ValueError("the specimen occupancy is empty: no specimen surface to measure against")
    low = np.maximum([b.start - 2 for b in found], 0)
    high = np.minimum([b.stop + 2 for b in found], occupancy.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(low, high, strict=True))


class _SliceFrame:
    """The slices the ensemble measures in plane, with their specimen contours traced once (crop-local k)."""

    def __init__(self, *, occupancy: np.ndarray, ks: np.ndarray, spacing: np.ndarray) -> None:
        self.occupancy, self.spacing_2d = occupancy, spacing[1:]
        self.contours = {int(k): SpecimenContour(occupancy_2d=occupancy[k], spacing_2d=self.spacing_2d) for k in ks}

    def measure(self, *, field: np.ndarray, kept: np.ndarray, level: float, k: int):
        """In-plane margin of slice k of ``field``, counting only the kept foci (small foci are dropped)."""
        tumour_2d = np.where(kept[k] | (field[k] <= level), field[k], 0.0)
        return slice_margin(tumour_2d=tumour_2d, level=level, occupancy_2d=self.occupancy[k],
                            spacing_2d=self.spacing_2d, specimen=self.contours[k])


def _fold_results(
    *, folds: Sequence[np.ndarray], box: tuple[slice, ...], level: float, occupancy: np.ndarray,
    specimen: Surface, target: TargetSurface, spacing: np.ndarray, voxel_mm3: float,
    min_focus_volume_mm3: float, threshold_mm: float, slices: _SliceFrame, slice_ks: Sequence[int],
) -> tuple[tuple[FoldMargin, ...], tuple[tuple[float | None, ...], ...]]:
    """Each fold's closest margin and call, and its in-plane margins on ``slice_ks`` (per fold, per slice)."""
    results, per_slice = [], []
    for index, fold in enumerate(folds):
        fold_field = np.asarray(fold, dtype=np.float32)[box]
        labels, _, geometries = _focus_geometries(
            field=fold_field, level=level, occupancy=occupancy, specimen=specimen,
            spacing=spacing, voxel_mm3=voxel_mm3, min_focus_volume_mm3=min_focus_volume_mm3,
        )
        best = _best([_closest(g, target, specimen) for g in geometries if not g.empty])
        if best is None:
            results.append(FoldMargin(index, None, "no_tumour_detected"))
        else:
            results.append(FoldMargin(index, round_mm(best.distance_mm), status_for(best.distance_mm, threshold_mm)))
        kept = labels > 0
        measured = [slices.measure(field=fold_field, kept=kept, level=level, k=k) if kept[k].any() else None
                    for k in slice_ks]
        per_slice.append(tuple(None if m is None else m[0] for m in measured))
    return tuple(results), tuple(per_slice)


def _validate(*, tumour: np.ndarray, occupancy: np.ndarray, spacing: np.ndarray, grid: Grid | None,
              threshold_mm: float, folds: Sequence[np.ndarray]) -> None:
    if tumour.shape != occupancy.shape or tumour.ndim != 3:
        raise ValueError(f"tumour {tumour.shape} and specimen {occupancy.shape} fields must be the same 3D shape")
    if spacing.shape != (3,) or np.any(spacing <= 0):
        raise ValueError(f"spacing must be three positive numbers (sz, sy, sx), got {tuple(spacing)}")
    if grid is not None:
        if tuple(grid.shape) != tumour.shape:
            raise ValueError(f"grid shape {grid.shape} does not match the fields {tumour.shape}")
        if not np.allclose(grid.spacing, spacing, rtol=1e-5):
            raise ValueError(f"grid spacing {grid.spacing} differs from spacing {tuple(spacing)}")
    if threshold_mm < 0:
        raise ValueError("threshold_mm must be >= 0")
    if any(np.shape(fold) != tumour.shape for fold in folds):
        raise ValueError(f"every fold probability map must have the tumour field's shape {tumour.shape}")
    if not np.all(np.isfinite(tumour)) or not np.all(np.isfinite(occupancy)):
        raise ValueError("the tumour and specimen fields must be finite numbers")


def analyse_margins(
    *,
    spacing: tuple[float, float, float],
    tumour_probability: np.ndarray | None = None,
    specimen_occupancy: np.ndarray | None = None,
    tumour_mask: np.ndarray | None = None,
    specimen_mask: np.ndarray | None = None,
    tumour_level: float = 0.5,
    fold_probabilities: Sequence[np.ndarray] = (),
    grid: Grid | None = None,
    threshold_mm: float = 1.0,
    min_focus_volume_mm3: float = DEFAULT_MIN_FOCUS_VOLUME_MM3,
    orientation: dict[str, str] | None = None,
    suv: np.ndarray | None = None,
    specimen_qc: Sequence[dict] = (),
    inputs: dict | None = None,
) -> MarginResult:
    """Margins of the tumour (probability field or mask) in the specimen (occupancy or mask), (Z, Y, X).

    ``grid`` (same shape) gives patient coordinates and the patient directions of the faces; without
    it the array axes are taken as patient x (i), y (j), z (k). ``suv`` adds SUVmax and SUVmean of
    the tumour. ``orientation`` maps faces to anatomical names, e.g. {"+z": "superior"}.
    """
    if (tumour_probability is None) == (tumour_mask is None):
        raise ValueError("give exactly one of tumour_probability and tumour_mask")
    if (specimen_occupancy is None) == (specimen_mask is None):
        raise ValueError("give exactly one of specimen_occupancy and specimen_mask")
    tumour = np.asarray(tumour_probability if tumour_mask is None else np.asarray(tumour_mask) > 0, dtype=np.float32)
    level = float(tumour_level) if tumour_mask is None else 0.5
    occupancy_full = np.asarray(
        specimen_occupancy if specimen_mask is None else np.asarray(specimen_mask) > 0, dtype=np.float32
    )
    spacing_arr = np.asarray([float(s) for s in spacing])
    _validate(tumour=tumour, occupancy=occupancy_full, spacing=spacing_arr, grid=grid,
              threshold_mm=threshold_mm, folds=fold_probabilities)
    orientation = dict(orientation or {})
    check_orientation(orientation)
    voxel_mm3 = float(np.prod(spacing_arr))

    box = _crop_box(occupancy_full, tumour, level)
    start = np.array([b.start for b in box])
    field, occupancy = tumour[box], occupancy_full[box]
    frame = _Frame(start=start, spacing=spacing_arr, grid=grid)
    specimen = iso_surface(field=occupancy, level=0.5, spacing=spacing_arr)
    if specimen.empty:
        raise ValueError("the specimen occupancy never reaches 0.5: no specimen surface to measure against")
    target = TargetSurface(specimen)
    labels, foci, geometries = _focus_geometries(
        field=field, level=level, occupancy=occupancy, specimen=specimen, spacing=spacing_arr,
        voxel_mm3=voxel_mm3, min_focus_volume_mm3=min_focus_volume_mm3,
    )
    inside_specimen = occupancy >= 0.5
    kept = labels > 0
    present = [(f, g) for f, g in zip(foci, geometries, strict=True) if not g.empty]
    tumour_voxels = kept & inside_specimen
    suv_max = suv_mean = None
    if suv is not None and tumour_voxels.any():
        if np.shape(suv) != tumour.shape:
            raise ValueError(f"suv {np.shape(suv)} does not match the fields {tumour.shape}")
        values = np.asarray(suv)[box][tumour_voxels].astype(np.float64)
        suv_max, suv_mean = float(values.max()), float(values.mean())
    present_ks = np.flatnonzero(tumour_voxels.any(axis=(1, 2))) if present else np.zeros(0, dtype=int)
    slice_frame = _SliceFrame(occupancy=occupancy, ks=present_ks, spacing=spacing_arr)
    ensemble_slices = [(int(k), found) for k in present_ks
                       if (found := slice_frame.measure(field=field, kept=kept, level=level, k=int(k))) is not None]
    folds, fold_slices = _fold_results(
        folds=fold_probabilities, box=box, level=level, occupancy=occupancy, specimen=specimen, target=target,
        spacing=spacing_arr, voxel_mm3=voxel_mm3, min_focus_volume_mm3=min_focus_volume_mm3,
        threshold_mm=threshold_mm, slices=slice_frame, slice_ks=[k for k, _ in ensemble_slices],
    ) if len(fold_probabilities) else ((), ())
    fold_distances = [f.closest_mm for f in folds]
    common = dict(
        threshold_mm=float(threshold_mm),
        folds=folds,
        # Partial voxels count by the fraction of them outside the specimen.
        tumour_outside_specimen_mm3=round(float((1.0 - occupancy[kept]).sum(dtype=np.float64)) * voxel_mm3, 3),
        tumour_volume_ml=float(tumour_voxels.sum()) * voxel_mm3 / 1000.0,
        specimen_volume_ml=float(occupancy.sum(dtype=np.float64)) * voxel_mm3 / 1000.0,
        suv_max=suv_max,
        suv_mean=suv_mean,
        specimen_qc=tuple(dict(item) for item in specimen_qc),
        inputs=dict(inputs or {}),
        method=METHOD,
    )
    if not present:
        return MarginResult(status="no_tumour_detected", closest_mm=None, tumour_point=None, surface_point=None,
                            interval_mm=interval_over(fold_distances), faces=(), slices=(), foci=(), n_foci=0,
                            **common)

    per_focus = [_closest(g, target, specimen) for _, g in present]
    overall = _best(per_focus)
    closest_mm = round_mm(overall.distance_mm)
    status = agreed_status(ensemble_status=status_for(overall.distance_mm, threshold_mm),
                           fold_statuses=[f.status for f in folds])
    if status == "negative" and UNSAFE_SPECIMEN_QC & {str(item.get("code")) for item in specimen_qc}:
        status = "indeterminate"  # fail safe: the surface may lie outside the specimen, margins read too wide
    direction = grid.direction_matrix if grid is not None else np.eye(3)
    face_of_vertex = vertex_faces(occupancy=occupancy, vertices_mm=specimen.vertices, spacing=spacing_arr,
                                  direction=direction)
    faces = []
    for face_index, label in enumerate(FACE_LABELS):
        rows = np.flatnonzero(face_of_vertex == face_index)
        face_target = TargetSurface(specimen, rows, whole=target)
        best = _best([_closest(g, face_target, specimen) for _, g in present]) if len(rows) else None
        if best is None:
            faces.append(FaceMargin(label, orientation.get(label), None, "no_surface", None, None))
            continue
        faces.append(FaceMargin(label, orientation.get(label), round_mm(best.distance_mm),
                                status_for(best.distance_mm, threshold_mm),
                                frame.point(best.query_point), frame.point(best.target_point)))
    return MarginResult(
        status=status,
        closest_mm=closest_mm,
        interval_mm=interval_over([closest_mm, *fold_distances]) if folds else None,
        tumour_point=frame.point(overall.query_point),
        surface_point=frame.point(overall.target_point),
        faces=tuple(faces),
        slices=_slice_margins(ensemble=ensemble_slices, fold_slices=fold_slices, tumour_voxels=tumour_voxels,
                              spacing=spacing_arr, threshold_mm=threshold_mm, frame=frame),
        foci=tuple(
            FocusMargin(round(f.volume_mm3, 3), round_mm(c.distance_mm),
                        tuple(round(float(v), 3) for v in np.asarray(f.centroid_kji) + start))
            for (f, _), c in zip(present, per_focus, strict=True) if c is not None
        ),
        n_foci=len(present),
        **common,
    )


def _slice_margins(*, ensemble: list, fold_slices: tuple[tuple[float | None, ...], ...], tumour_voxels: np.ndarray,
                   spacing: np.ndarray, threshold_mm: float, frame: _Frame) -> tuple[SliceMargin, ...]:
    """SliceMargins of the ensemble's slices; with folds, their interval and the folds' agreement there."""
    results = []
    pixel_mm2 = float(spacing[1] * spacing[2])
    for row, (k, (distance, tumour_at, surface_at)) in enumerate(ensemble):
        status = status_for(distance, threshold_mm)
        distance_mm = round_mm(distance)
        fold_distances = tuple(fold[row] for fold in fold_slices)
        interval = None
        if fold_slices:
            # A fold without tumour in this slice sees nothing near the surface here: its call is negative.
            fold_calls = ["negative" if d is None else status_for(d, threshold_mm) for d in fold_distances]
            status = agreed_status(ensemble_status=status, fold_statuses=fold_calls)
            interval = interval_over([distance_mm, *(round_mm(d) for d in fold_distances)])
        k_mm = float(k) * spacing[0]
        results.append(SliceMargin(
            k=int(k + frame.start[0]),
            distance_mm=distance_mm,
            status=status,
            tumour_point=frame.point(np.array([k_mm, *tumour_at])),
            surface_point=frame.point(np.array([k_mm, *surface_at])),
            tumour_area_mm2=round(float(tumour_voxels[k].sum()) * pixel_mm2, 3),
            interval_mm=interval,
            fold_distances_mm=tuple(round_mm(d) for d in fold_distances),
        ))
    return tuple(results)
