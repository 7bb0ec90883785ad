"""Automatic slice size for tiny specimens: never so small that the network's bottleneck is one pixel."""

from __future__ import annotations

import numpy as np

from inference.engine.config import ModelConfig, NetworkConfig
from inference.engine.network import pad_multiple
from training.loop.data import auto_slice_size


def test_auto_slice_size_leaves_the_bottleneck_more_than_one_pixel() -> None:
    multiple = pad_multiple(ModelConfig(network=NetworkConfig()).network)  # 8 for strides (2, 2, 2)
    specimen = np.zeros((3, 40, 40), dtype=bool)
    specimen[1, 10:14, 10:15] = True  # 4 x 5 pixels
    assert auto_slice_size(specimens=[specimen], multiple=multiple) == 2 * multiple
    specimen[1, 0:30, 0:20] = True
    assert auto_slice_size(specimens=[specimen], multiple=multiple) == 32
