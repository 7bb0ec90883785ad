"""Size presets and tissue constants of the synthetic specimen generator.

Two presets exist: ``"full"`` (realistic scale, up to about 40 MB of DICOM per case) and
``"small"`` (small specimens on a coarser CT grid, for fast tests and training data).
All ranges are ``(low, high)`` and are sampled uniformly per case from the case seed.

Tissue values follow ``docs/domain.md``: tumour is FDG-avid, fibroglandular tissue
intermediate, fat low; CT values are Hounsfield units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

SizeName = Literal["full", "small"]
MarginCategory = Literal["transected", "close", "clear"]

MARGIN_CATEGORIES: tuple[MarginCategory, ...] = ("transected", "close", "clear")

# Tissue labels of the label map written to truth/labels.nii.gz (CT grid).
LABEL_AIR = 0
LABEL_FAT = 1
LABEL_FIBRO = 2
LABEL_TUMOUR = 3
LABEL_PLATE = 4
LABEL_CLIP = 5
LABEL_NAMES = {
    LABEL_AIR: "air",
    LABEL_FAT: "fat",
    LABEL_FIBRO: "fibroglandular",
    LABEL_TUMOUR: "tumour",
    LABEL_PLATE: "holder_plate",
    LABEL_CLIP: "surgical_clip",
}

# FDG physics.
F18_HALF_LIFE_S = 6586.2
F18_POSITRON_FRACTION = 0.9673
RADIOPHARMACEUTICAL = "Fludeoxyglucose F^18^"


@dataclass(frozen=True)
class SizePreset:
    """Scale of one size option; every range is sampled per case."""

    name: str
    specimen_long_mm: tuple[float, float]  # longest axis of the nominal ellipsoid
    specimen_width_frac: tuple[float, float]  # x extent / long axis
    specimen_height_frac: tuple[float, float]  # y extent (resting height) / long axis
    max_width_mm: float
    max_height_mm: float
    ct_inplane_mm: tuple[float, float]
    ct_slice_mm: tuple[float, float]
    ct_slice_max_mm: float  # the budget may coarsen slices up to this
    pet_voxel_mm: tuple[float, float]
    tumour_diameter_mm: tuple[float, float]
    satellite_diameter_mm: tuple[float, float]
    air_margin_mm: tuple[float, float]  # air around the specimen in the CT field of view
    max_dicom_bytes: int
    max_ct_voxels: int  # keeps generation time bounded


SIZES: dict[str, SizePreset] = {
    "full": SizePreset(
        name="full",
        specimen_long_mm=(32.0, 74.0),  # nominal; the deformed specimen spans about 30-80 mm
        specimen_width_frac=(0.55, 0.85),
        specimen_height_frac=(0.42, 0.65),
        max_width_mm=58.0,
        max_height_mm=38.0,
        ct_inplane_mm=(0.2, 0.3),
        ct_slice_mm=(0.3, 0.5),
        ct_slice_max_mm=0.6,
        pet_voxel_mm=(0.4, 0.5),
        tumour_diameter_mm=(7.0, 22.0),
        satellite_diameter_mm=(3.0, 6.0),
        air_margin_mm=(3.0, 6.0),
        max_dicom_bytes=38_000_000,
        max_ct_voxels=10_000_000,
    ),
    "small": SizePreset(
        name="small",
        specimen_long_mm=(28.0, 37.0),  # deformed: about 25-40 mm
        specimen_width_frac=(0.6, 0.85),
        specimen_height_frac=(0.5, 0.7),
        max_width_mm=34.0,
        max_height_mm=26.0,
        ct_inplane_mm=(0.4, 0.4),
        ct_slice_mm=(0.6, 0.8),
        ct_slice_max_mm=1.0,
        pet_voxel_mm=(0.5, 0.5),
        tumour_diameter_mm=(5.0, 12.0),
        satellite_diameter_mm=(2.5, 4.0),
        air_margin_mm=(2.5, 4.0),
        max_dicom_bytes=6_000_000,
        max_ct_voxels=1_000_000,
    ),
}


# Hounsfield units (mean, per-case jitter range added uniformly).
HU_AIR = -1000.0
HU_FAT = (-110.0, -85.0)
HU_FIBRO = (30.0, 50.0)
HU_TUMOUR = (45.0, 60.0)
HU_PLATE = (100.0, 300.0)
HU_CLIP = 3000.0
CT_NOISE_SD_HU = (10.0, 20.0)

# Body-weight SUV levels.
SUV_FAT = (0.3, 0.6)
SUV_FIBRO = (1.0, 2.0)
SUV_TUMOUR_BASE = (3.5, 8.5)  # voxel SUV = base * (0.7 .. 1.3); max stays <= about 11-12
PET_FWHM_MM = (0.9, 1.2)
PET_NOISE_REL_AT_SUV1 = (0.10, 0.22)  # relative SD of a voxel at SUV 1 (Poisson-like)

# Patient and scan.
PATIENT_WEIGHT_KG = (50.0, 100.0)
DOSE_MBQ_PER_KG = (0.75, 0.85)
UPTAKE_MIN = (60.0, 150.0)  # injection -> PET series start
PET_FRAME_S = 600.0

# Margin categories: target gap between tumour and specimen surface, mm.
CLOSE_GAP_MM = (0.4, 0.8)
CLEAR_GAP_MM = (2.2, 7.0)
TRANSECT_PROTRUSION_FRAC = (0.1, 0.35)  # of the tumour radius pushed through the surface
MIN_SATELLITE_GAP_MM = 2.5
