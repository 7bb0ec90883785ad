"""Versioned model configuration: architecture and preprocessing, saved beside the weights.

Everything the paper leaves unpublished (channels, normalisation, width) lives here as data,
so a model version can always be rebuilt and its inputs prepared exactly as in training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class PreprocessConfig:
    """How a working-grid PET/CT pair becomes network input channels."""

    working_spacing_mm: float = 0.5  # isotropic working grid shared by PET and CT
    ct_clip_hu: tuple[float, float] = (-1000.0, 400.0)  # clipped, then scaled to [0, 1]
    suv_clip: tuple[float, float] = (0.0, 15.0)  # PET in SUVbw, clipped then scaled to [0, 1]
    # Fallback when SUV is unavailable: PET in Bq/ml divided by the specimen's median uptake
    # (a self-normalised uptake ratio), clipped to this range and scaled to [0, 1].
    uptake_ratio_clip: tuple[float, float] = (0.0, 15.0)
    channels: tuple[str, ...] = ("pet", "ct")


@dataclass(frozen=True)
class NetworkConfig:
    """MONAI UNet with residual units, 2D."""

    spatial_dims: int = 2
    in_channels: int = 2
    out_channels: int = 2  # background, tumour (softmax)
    channels: tuple[int, ...] = (16, 32, 64, 128)
    strides: tuple[int, ...] = (2, 2, 2)
    num_res_units: int = 2
    dropout: float = 0.0


@dataclass(frozen=True)
class ModelConfig:
    architecture: str = "monai.networks.nets.UNet(residual units)"
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    network: NetworkConfig = field(default_factory=NetworkConfig)
    threshold: float = 0.5
    min_component_ml: float = 0.005  # connected components smaller than this are removed from the mask
    # Every tumour focus at least this large counts for the margin (satellites included); smaller
    # ones are dropped as noise. Replaces the paper's largest-component post-processing.
    min_focus_volume_mm3: float = 5.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        pre = {k: tuple(v) if isinstance(v, list) else v for k, v in data.get("preprocess", {}).items()}
        net = {k: tuple(v) if isinstance(v, list) else v for k, v in data.get("network", {}).items()}
        rest = {k: v for k, v in data.items() if k not in ("preprocess", "network")}
        # Bundles written before every focus counted carry keep_largest_only: now ignored.
        rest.pop("keep_largest_only", None)
        return cls(preprocess=PreprocessConfig(**pre), network=NetworkConfig(**net), **rest)
