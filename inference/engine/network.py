"""The segmentation network: MONAI's UNet with residual units, built from a NetworkConfig."""

from __future__ import annotations

import torch
from monai.networks.nets import UNet

from inference.engine.config import NetworkConfig


def build_network(config: NetworkConfig) -> torch.nn.Module:
    return UNet(
        spatial_dims=config.spatial_dims,
        in_channels=config.in_channels,
        out_channels=config.out_channels,
        channels=tuple(config.channels),
        strides=tuple(config.strides),
        num_res_units=config.num_res_units,
        dropout=config.dropout,
    )


def pad_multiple(config: NetworkConfig) -> int:
    """Input height and width must be multiples of this (the product of the strides)."""
    multiple = 1
    for stride in config.strides:
        multiple *= stride
    return multiple
