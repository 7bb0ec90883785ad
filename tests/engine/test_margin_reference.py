"""The margin analysis against a brute-force reference on a small case: every closest distance
(ensemble, each fold, each face, each slice and each fold in each slice) equals the minimum over
ALL vertex/triangle (3D) and point/segment (2D) pairs, both ways round, with no search structure
and no pruning. The case has two foci, folds near and across the surface, and anisotropic voxels.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import find_contours

from inference.engine.margins import analyse_margins
from inference.engine.margins.distances import closest_on_triangles
from inference.engine.margins.faces import FACE_LABELS, vertex_faces
from inference.engine.margins.surfaces import iso_surface, sample
from tests.engine.margin_fields import ball, partial_volume

SPACING = np.array([0.9, 0.8, 1.0])
SHAPE = (22, 24, 20)
LEVEL = 0.5
MIN_FOCUS_MM3 = 5.0
# Round: on flat faces one direction alone (vertex to triangle) would already be exact.
SPECIMEN = partial_volume(SHAPE, SPACING, ball((9.5, 9.6, 9.5), 7.6))


def _tumour(centre_z: float, radius: float, satellite: bool = True) -> np.ndarray:
    main = partial_volume(SHAPE, SPACING, ball((centre_z, 8.0, 9.0), radius))
    if not satellite:
        return main
    return np.maximum(main, partial_volume(SHAPE, SPACING, ball((10.0, 12.6, 12.0), 1.6)))


def _pairwise_3d(points: np.ndarray, vertices: np.ndarray, triangles: np.ndarray) -> float:
    """min over every point and every triangle of the exact point-to-triangle distance."""
    if len(points) == 0 or len(triangles) == 0:
        return np.inf
    p = np.repeat(points, len(triangles), axis=0)
    corners = vertices[np.tile(triangles, (len(points), 1))]
    closest = closest_on_triangles(p, corners[:, 0], corners[:, 1], corners[:, 2])
    return float(np.sqrt(((closest - p) ** 2).sum(-1)).min())


def _kept_labels(field: np.ndarray) -> np.ndarray:
    labels, count = ndimage.label(field > LEVEL, structure=np.ones((3, 3, 3), dtype=bool))
    sizes = np.bincount(labels.ravel(), minlength=count + 1) * np.prod(SPACING)
    return np.where((sizes >= MIN_FOCUS_MM3)[labels] & (labels > 0), labels, 0)


def _reference_3d(field: np.ndarray, specimen_vertices: np.ndarray, specimen_triangles: np.ndarray) -> float | None:
    """Closest distance of every kept focus (clipped to the specimen) to the given specimen triangles."""
    labels = _kept_labels(field)
    best = np.inf
    vertex_rows = np.unique(specimen_triangles)
    for label in np.unique(labels[labels > 0]):
        alone = np.where((labels == label) | (field <= LEVEL), field, 0.0)
        if (sample(alone, specimen_vertices[vertex_rows], SPACING) > LEVEL).any():
            return 0.0  # the specimen surface runs through the tumour
        tumour = iso_surface(field=alone, level=LEVEL, spacing=SPACING)
        inside = sample(SPECIMEN, tumour.vertices, SPACING) >= 0.5
        triangles = tumour.triangles[inside[tumour.triangles].all(axis=1)]
        best = min(best, _pairwise_3d(tumour.vertices[inside], specimen_vertices, specimen_triangles),
                   _pairwise_3d(specimen_vertices[vertex_rows], tumour.vertices, triangles))
    return None if not np.isfinite(best) else best


def _contour_segments(field_2d: np.ndarray) -> np.ndarray:
    lines = [line - 1.0 for line in find_contours(np.pad(field_2d, 1), LEVEL) if len(line) > 1]
    if not lines:
        return np.zeros((0, 2, 2))
    return np.concatenate([np.stack([line[:-1], line[1:]], axis=1) for line in lines]) * SPACING[1:]


def _pairwise_2d(points: np.ndarray, segments: np.ndarray) -> float:
    if len(points) == 0 or len(segments) == 0:
        return np.inf
    p = np.repeat(points, len(segments), axis=0)
    a, b = np.tile(segments[:, 0], (len(points), 1)), np.tile(segments[:, 1], (len(points), 1))
    t = np.clip(((p - a) * (b - a)).sum(-1) / np.maximum(((b - a) ** 2).sum(-1), 1e-18), 0.0, 1.0)
    return float(np.sqrt(((a + t[:, None] * (b - a) - p) ** 2).sum(-1)).min())


def _sampled(array: np.ndarray, points: np.ndarray) -> np.ndarray:
    """``array`` interpolated linearly at in-plane ``points`` (mm), 0 outside."""
    return ndimage.map_coordinates(array, (points / SPACING[1:]).T, order=1, mode="constant")


def _reference_slice(field: np.ndarray, k: int) -> float | None:
    kept = _kept_labels(field) > 0
    if not kept[k].any():
        return None
    tumour_2d = np.where(kept[k] | (field[k] <= LEVEL), field[k], 0.0).astype(np.float32)
    tumour, specimen = _contour_segments(tumour_2d), _contour_segments(SPECIMEN[k])
    specimen_points = specimen[:, 0]
    if (_sampled(tumour_2d, specimen_points) > LEVEL).any():
        return 0.0
    inside = _sampled(SPECIMEN[k], tumour.reshape(-1, 2)).reshape(-1, 2) >= 0.5
    tumour = tumour[inside.all(axis=1)]
    best = min(_pairwise_2d(tumour.reshape(-1, 2), specimen), _pairwise_2d(specimen_points, tumour))
    return None if not np.isfinite(best) else best


def test_every_distance_equals_the_brute_force_minimum_over_all_pairs():
    ensemble = _tumour(5.8, 2.6)
    folds = [_tumour(5.0, 2.6), _tumour(6.2, 2.4), _tumour(3.2, 2.8, satellite=False)]  # the last crosses
    result = analyse_margins(tumour_probability=ensemble, specimen_occupancy=SPECIMEN, spacing=tuple(SPACING),
                             fold_probabilities=folds, tumour_level=LEVEL, min_focus_volume_mm3=MIN_FOCUS_MM3,
                             threshold_mm=1.0)
    specimen = iso_surface(field=SPECIMEN, level=0.5, spacing=SPACING)

    expected = _reference_3d(ensemble, specimen.vertices, specimen.triangles)
    assert 0.5 < expected < 5.0 and result.n_foci == 2
    assert result.closest_mm == pytest.approx(expected, abs=0.006)
    fold_expected = [_reference_3d(f, specimen.vertices, specimen.triangles) for f in folds]
    assert fold_expected[2] == 0.0
    assert [f.closest_mm for f in result.folds] == pytest.approx(fold_expected, abs=0.006)

    face_of_vertex = vertex_faces(occupancy=SPECIMEN, vertices_mm=specimen.vertices, spacing=SPACING,
                                  direction=np.eye(3))
    for index, face in enumerate(result.faces):
        assert face.face == FACE_LABELS[index]
        in_face = face_of_vertex == index
        triangles = specimen.triangles[in_face[specimen.triangles].all(axis=1)]
        assert face.distance_mm == pytest.approx(_reference_3d(ensemble, specimen.vertices, triangles), abs=0.006)
    assert len({f.distance_mm for f in result.faces}) >= 4  # the faces really differ

    assert len(result.slices) >= 5
    for found in result.slices:
        assert found.distance_mm == pytest.approx(_reference_slice(ensemble, found.k), abs=0.006)
        fold_slices = [_reference_slice(f, found.k) for f in folds]
        assert list(found.fold_distances_mm) == pytest.approx(fold_slices, abs=0.006)
