"""Which specimen face each surface vertex belongs to.

Without a recorded orientation the six faces are the patient (LPS) axes +x, -x, +y, -y, +z, -z.
A vertex belongs to the face its outward normal points to most; the normal is minus the gradient
of the occupancy smoothed with a 1 mm Gaussian (so a bumpy surface does not flicker between
faces), turned into patient directions with the grid's direction matrix.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

FACE_LABELS = ("+x", "-x", "+y", "-y", "+z", "-z")
ANATOMICAL_FACES = ("superior", "inferior", "medial", "lateral", "anterior", "posterior")
NORMAL_SMOOTHING_MM = 1.0


def check_orientation(orientation: dict[str, str]) -> None:
    unknown = [face for face in orientation if face not in FACE_LABELS]
    wrong = [name for name in orientation.values() if name not in ANATOMICAL_FACES]
    if unknown or wrong:
        raise ValueError(f"orientation maps faces {FACE_LABELS} to {ANATOMICAL_FACES}; got {orientation}")


def vertex_faces(
    *, occupancy: np.ndarray, vertices_mm: np.ndarray, spacing: np.ndarray, direction: np.ndarray
) -> np.ndarray:
    """Face index (into FACE_LABELS) of every vertex (mm in ``occupancy``'s array frame)."""
    smoothed = ndimage.gaussian_filter(
        np.asarray(occupancy, dtype=np.float32), sigma=NORMAL_SMOOTHING_MM / spacing, mode="constant", cval=0.0
    )
    index = vertices_mm / spacing
    gradient = np.empty((len(index), 3))  # (k, j, i) components, per mm
    for axis in range(3):
        step = np.zeros(3)
        step[axis] = 0.5
        ahead = ndimage.map_coordinates(smoothed, (index + step).T, order=1, mode="constant")
        behind = ndimage.map_coordinates(smoothed, (index - step).T, order=1, mode="constant")
        gradient[:, axis] = (ahead - behind) / spacing[axis]
    outward_patient = -gradient[:, ::-1] @ direction.T  # (i, j, k) order; direction columns are i, j, k
    axis = np.argmax(np.abs(outward_patient), axis=1)
    negative = outward_patient[np.arange(len(axis)), axis] < 0
    return axis * 2 + negative.astype(int)
