"""Geometry helpers shared by the phantom shapes: rotations, random directions, quadratic forms."""

from __future__ import annotations

import numpy as np

from cases.imaging.volume import Grid
from cases.phantoms.fields import axis_coords


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
