"""A voxel array that carries its patient-space geometry.

Arrays are indexed ``[k, j, i]`` = ``[slice, row, column]``. The geometry follows
DICOM's patient coordinate system (LPS, millimetres):

    patient(i, j, k) = origin + direction[:, 0] * i * spacing_x
                              + direction[:, 1] * j * spacing_y
                              + direction[:, 2] * k * spacing_z

``direction`` columns are the unit vectors of the column (i), row (j) and slice (k)
index axes in patient space; ``origin`` is the centre of voxel ``[0, 0, 0]``.
Intensity volumes and label volumes are the same type; whoever resamples decides the
interpolation (linear for intensities, nearest for labels).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0, 1.0])


@dataclass(frozen=True)
class Grid:
    """Geometry of a voxel grid, without data."""

    shape: tuple[int, int, int]  # (k, j, i) = (slices, rows, columns)
    spacing: tuple[float, float, float]  # (sz, sy, sx) in mm, same order as shape
    origin: tuple[float, float, float]  # patient (x, y, z) of voxel [0, 0, 0], mm
    direction: tuple[tuple[float, float, float], ...] = field(
        default=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    )  # 3x3, row-major; columns are the i, j, k axes in patient space

    @property
    def direction_matrix(self) -> np.ndarray:
        return np.asarray(self.direction, dtype=float).reshape(3, 3)

    def affine(self) -> np.ndarray:
        """4x4 matrix mapping (i, j, k, 1) voxel indices to patient LPS mm."""
        sz, sy, sx = self.spacing
        matrix = np.eye(4)
        matrix[:3, :3] = self.direction_matrix @ np.diag([sx, sy, sz])
        matrix[:3, 3] = self.origin
        return matrix

    def affine_ras(self) -> np.ndarray:
        """The same mapping into RAS, as NIfTI expects."""
        return LPS_TO_RAS @ self.affine()

    def index_to_patient(self, kji: np.ndarray) -> np.ndarray:
        """Patient LPS coordinates (..., 3) of voxel indices given as (..., 3) in k, j, i order."""
        kji = np.asarray(kji, dtype=float)
        ijk1 = np.concatenate([kji[..., ::-1], np.ones(kji.shape[:-1] + (1,))], axis=-1)
        return (ijk1 @ self.affine().T)[..., :3]

    def patient_to_index(self, xyz: np.ndarray) -> np.ndarray:
        """Continuous voxel indices (..., 3) in k, j, i order of patient LPS points (..., 3)."""
        xyz = np.asarray(xyz, dtype=float)
        xyz1 = np.concatenate([xyz, np.ones(xyz.shape[:-1] + (1,))], axis=-1)
        ijk = (xyz1 @ np.linalg.inv(self.affine()).T)[..., :3]
        return ijk[..., ::-1]

    def to_dict(self) -> dict:
        return {
            "shape": list(self.shape),
            "spacing": [float(s) for s in self.spacing],
            "origin": [float(o) for o in self.origin],
            "direction": [float(d) for row in self.direction for d in row],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Grid:
        flat = [float(d) for d in data["direction"]]
        return cls(
            shape=tuple(int(s) for s in data["shape"]),
            spacing=tuple(float(s) for s in data["spacing"]),
            origin=tuple(float(o) for o in data["origin"]),
            direction=(tuple(flat[0:3]), tuple(flat[3:6]), tuple(flat[6:9])),
        )


@dataclass(frozen=True)
class Volume:
    """A 3D array with its grid."""

    array: np.ndarray
    grid: Grid

    def __post_init__(self) -> None:
        if tuple(self.array.shape) != tuple(self.grid.shape):
            raise ValueError(f"array shape {self.array.shape} does not match grid shape {self.grid.shape}")

    @property
    def spacing(self) -> tuple[float, float, float]:
        return self.grid.spacing

    @property
    def voxel_volume_ml(self) -> float:
        return float(np.prod(self.grid.spacing)) / 1000.0
