"""The one largest-component helper: size, connectivity, empty masks, 2D."""

from __future__ import annotations

import numpy as np

from cases.imaging.components import ALL_NEIGHBOURS, FACES, largest_component


def test_keeps_the_largest_component_only() -> None:
    mask = np.zeros((5, 8, 8), dtype=bool)
    mask[1:3, 1:3, 1:3] = True  # 8 voxels
    mask[1:4, 5:8, 5:8] = True  # 27 voxels
    got = largest_component(mask=mask)
    assert got.dtype == bool and got.sum() == 27 and got[2, 6, 6] and not got[1, 1, 1]


def test_connectivity_decides_whether_corners_join() -> None:
    mask = np.zeros((3, 3, 3), dtype=bool)
    mask[0, 0, 0] = mask[1, 1, 1] = mask[2, 2, 2] = True  # touching only at corners
    assert largest_component(mask=mask, connectivity=FACES).sum() == 1
    assert largest_component(mask=mask, connectivity=ALL_NEIGHBOURS).sum() == 3


def test_empty_mask_gives_an_empty_mask_and_2d_works() -> None:
    assert not largest_component(mask=np.zeros((4, 4, 4), dtype=np.uint8)).any()
    plane = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.uint8)
    assert largest_component(mask=plane, connectivity=ALL_NEIGHBOURS).sum() == 2
    assert largest_component(mask=plane).sum() == 1
