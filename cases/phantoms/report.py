"""truth.json content of a generated case (pure function of the generation state).

Key reference: ``cases/phantoms/README.md``; margin definitions: :mod:`cases.phantoms.truth`.
"""

from __future__ import annotations

import numpy as np

from cases.imaging.volume import Grid
from cases.phantoms import config as C
from cases.phantoms.anatomy import Clip, SpecimenShape
from cases.phantoms.ct import CT_RESCALE_INTERCEPT
from cases.phantoms.dicom_writer import StudyInfo
from cases.phantoms.pet import PetCalibration
from cases.phantoms.placement import Placement
from cases.phantoms.truth import (
    FACE_NAMES,
    MARGIN_DEFINITION,
    MarginTruth,
    SurfaceModel,
    index_to_xyz,
    measure_margins,
)

TRUTH_SCHEMA = "petctweb-phantom-truth/1"
GENERATOR_VERSION = "2"  # 2: close and transected placed by the tumour mass, not a spicule tip


def _r(value: float, digits: int = 4) -> float:
    return float(round(float(value), digits))


def build_truth(
    *,
    case_id: str,
    seed: int,
    size: str,
    category: str,
    shape: SpecimenShape,
    ct_grid: Grid,
    pet_grid: Grid,
    specimen: np.ndarray,
    tumour: np.ndarray,
    ids: np.ndarray,
    placements: list[Placement],
    surface: SurfaceModel,
    margins: MarginTruth,
    suv_true: np.ndarray,
    pet_suv: np.ndarray,
    blurred_suv: np.ndarray,
    tumour_pet: np.ndarray,
    calibration: PetCalibration,
    hu: dict[int, float],
    ct_noise: float,
    fwhm: float,
    noise_rel: float,
    suv_levels: dict[str, float],
    fibro_density: float,
    clips: list[Clip],
    study: StudyInfo,
) -> dict:
    """The truth.json dictionary (without the ``files`` section that :func:`write_case` adds)."""
    voxel_ml = float(np.prod(ct_grid.spacing)) / 1000.0
    spec_idx = np.argwhere(specimen[::2, ::2, ::2]) * 2
    spec_xyz = index_to_xyz(ct_grid, spec_idx)
    spec_lo = spec_xyz.min(axis=0)
    spec_hi = spec_xyz.max(axis=0)
    extent = spec_hi - spec_lo
    true_vals = suv_true[tumour]
    pet_vals = pet_suv[tumour_pet] if tumour_pet.any() else np.zeros(1, np.float32)
    blur_vals = blurred_suv[tumour_pet] if tumour_pet.any() else np.zeros(1, np.float32)
    items = []
    for number, placement in enumerate(placements, start=1):
        one = ids == number
        if not one.any():
            continue
        m = (
            margins
            if len(placements) == 1
            else measure_margins(
                specimen=specimen, tumour=one, grid=ct_grid, surface=surface, check_edt=False
            )
        )
        one_xyz = index_to_xyz(ct_grid, np.argwhere(one))
        items.append(
            {
                "id": number,
                "role": "primary" if number == 1 else "satellite",
                "volume_ml": _r(one.sum() * voxel_ml, 5),
                "nominal_diameter_mm": _r(placement.shape.diameter_mm, 2),
                "centroid_mm": [_r(v, 3) for v in one_xyz.mean(axis=0)],
                "lobes": placement.shape.n_lobes,
                "spicules": placement.shape.n_spicules,
                "necrotic_core": placement.shape.necrotic,
                "closest_margin_mm": m.closest_mm,
                "closest_face": m.closest_face,
                "transected": m.touches_surface,
                "suv_true_max": _r(suv_true[one].max(), 3),
                "suv_true_mean": _r(suv_true[one].mean(), 3),
            }
        )
    n_tumours = len(items)
    cat = margins.category()
    desc = (
        f"{size} phantom: {extent[0]:.0f}x{extent[1]:.0f}x{extent[2]:.0f} mm specimen, "
        f"{n_tumours} tumour{'s' if n_tumours > 1 else ''} "
        f"({'spiculated' if placements[0].shape.n_spicules else 'lobulated'}, "
        f"{placements[0].shape.diameter_mm:.1f} mm, SUVmax {true_vals.max():.1f}), "
        f"closest margin {margins.closest_mm:.2f} mm at {margins.closest_face} "
        f"({cat}; target {category}), {len(clips)} clip limb{'s' if len(clips) != 1 else ''}"
    )
    return {
        "schema": TRUTH_SCHEMA,
        "generator_version": GENERATOR_VERSION,
        "case_id": case_id,
        "seed": seed,
        "size": size,
        "description": desc,
        "ct_grid": ct_grid.to_dict(),
        "pet_grid": pet_grid.to_dict(),
        "closest_margin_mm": margins.closest_mm,
        "closest_margin_centre_mm": margins.closest_centre_mm,
        "closest_face": margins.closest_face,
        "face_margins_mm": margins.faces_mm,
        "margin_status": {"0mm": margins.status(0.0), "1mm": margins.status(1.0)},
        "margin_category": cat,
        "target_margin_category": category,
        "margin_definition": MARGIN_DEFINITION,
        "n_tumours": n_tumours,
        "tumour_volume_ml": _r(tumour.sum() * voxel_ml, 5),
        "tumour_suv": {
            "true_max": _r(true_vals.max(), 4),
            "true_mean": _r(true_vals.mean(), 4),
            "blurred_max": _r(blur_vals.max(), 4),
            "blurred_mean": _r(blur_vals.mean(), 4),
            "pet_max": _r(pet_vals.max(), 4),
            "pet_mean": _r(pet_vals.mean(), 4),
            "pet_mask_voxels": int(tumour_pet.sum()),
            "note": "true = CT-grid SUV before blur/noise; blurred = PET grid after partial volume "
            "and blur, before noise; pet = written PET (blur, noise, quantisation); PET values "
            "inside the tumour mask resampled to the PET grid (nearest)",
        },
        "suv_per_bqml": calibration.suv_per_bqml,
        "has_clips": bool(clips),
        "tumours": items,
        "specimen": {
            "volume_ml": _r(specimen.sum() * voxel_ml, 4),
            "extent_mm": [_r(v, 2) for v in extent],
            "bbox_lo_mm": [_r(v, 3) for v in spec_lo],
            "bbox_hi_mm": [_r(v, 3) for v in spec_hi],
            "surface_voxels_per_face": {
                name: int((surface.faces == f).sum()) for f, name in enumerate(FACE_NAMES)
            },
            "fibroglandular_fraction": _r(fibro_density, 4),
        },
        "plate": {
            "top_y_mm": _r(shape.plate_top_y, 3),
            "thickness_mm": _r(shape.plate_thickness_mm, 3),
            "hu": _r(hu[C.LABEL_PLATE], 1),
            "note": "holder plate occupies top_y <= y < top_y + thickness (patient LPS, +y posterior = down)",
        },
        "clips": [c.to_dict() for c in clips],
        "ct": {
            "hu": {C.LABEL_NAMES[k]: _r(v, 1) for k, v in hu.items()},
            "noise_sd_hu": _r(ct_noise, 2),
            "rescale_slope": 1.0,
            "rescale_intercept": CT_RESCALE_INTERCEPT,
        },
        "pet": {
            "fwhm_mm": _r(fwhm, 3),
            "noise_rel_sd_at_suv1": _r(noise_rel, 4),
            "suv_levels": {k: _r(v, 4) for k, v in suv_levels.items()},
            "frame_duration_s": C.PET_FRAME_S,
        },
        "pet_calibration": calibration.to_dict(),
        "labels": {str(k): v for k, v in C.LABEL_NAMES.items()},
        "dicom": study.to_dict(),
    }
