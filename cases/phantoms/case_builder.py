"""One synthetic case in memory: :func:`generate_case` and :class:`PhantomCase` (Django-free).

Everything is a pure function of the seed: all random draws come from ``numpy.random.SeedSequence``
children of the case seed, and DICOM UIDs, dates and times are derived from it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

import numpy as np

from cases.imaging.volume import Grid
from cases.phantoms import config as C
from cases.phantoms.anatomy import (
    SpecimenShape,
    build_clips,
    build_fibro,
    build_specimen,
    paint_clips,
)
from cases.phantoms.ct import CT_RESCALE_INTERCEPT, store_ct, synthesise_ct
from cases.phantoms.dicom_writer import StudyInfo
from cases.phantoms.fields import nearest_mask, smooth_noise
from cases.phantoms.grids import choose_grids
from cases.phantoms.pet import PetCalibration, simulate_pet, store_pet, stored_to_suv, suv_map
from cases.phantoms.placement import GapProbe, paste
from cases.phantoms.report import build_truth
from cases.phantoms.study_meta import draw_study
from cases.phantoms.truth import (
    index_to_xyz,
    measure_margins,
    surface_model,
)
from cases.phantoms.tumour_layout import keep_main_components, place_tumours


@dataclass(frozen=True)
class PhantomCase:
    """One generated case in memory (CT-grid arrays are the fine truth grid)."""

    case_id: str
    case_number: int
    seed: int
    size: str
    ct_grid: Grid
    pet_grid: Grid
    ct_stored: np.ndarray  # uint16 [k, j, i], HU = stored - 1024
    pet_stored: np.ndarray  # int16 [k, j, i], Bq/ml = stored * pet_slopes[k]
    pet_slopes: list[str]
    labels: np.ndarray  # uint8 [k, j, i] on the CT grid, see config.LABEL_NAMES
    specimen_mask: np.ndarray  # bool, CT grid
    tumour_mask: np.ndarray  # bool, CT grid (inside the specimen)
    tumour_ids: np.ndarray  # uint8, CT grid: 1 = primary, 2 = satellite
    suv_true: np.ndarray  # float32, CT grid, before blur and noise
    pet_suv_intended: np.ndarray  # float32, PET grid: blurred + noisy SUV before quantisation
    calibration: PetCalibration
    study: StudyInfo
    ct_series_time: datetime
    truth: dict = field(repr=False)

    @property
    def ct_hu(self) -> np.ndarray:
        return self.ct_stored.astype(np.float32) + np.float32(CT_RESCALE_INTERCEPT)

    @property
    def pet_suv(self) -> np.ndarray:
        """SUV of the stored PET, as a reader of the header would compute it."""
        return stored_to_suv(stored=self.pet_stored, slopes=self.pet_slopes, calibration=self.calibration)


def _rngs(seed: int) -> dict[str, np.random.Generator]:
    names = ("specimen", "grids", "fibro", "tumour", "placement", "clips", "ct", "pet", "meta")
    children = np.random.SeedSequence([int(seed), 0xC0FFEE]).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


def _case_number(case_id: str, seed: int) -> int:
    digits = "".join(ch for ch in case_id if ch.isdigit())
    return int(digits[-4:]) if digits else seed % 10000


def _draw_category(rng: np.random.Generator) -> str:
    return str(rng.choice(C.MARGIN_CATEGORIES, p=[0.3, 0.2, 0.5]))


def generate_case(
    *,
    seed: int,
    size: str = "full",
    case_id: str | None = None,
    margin_category: str | None = None,
) -> PhantomCase:
    """Build one case in memory. ``margin_category`` (transected/close/clear) defaults to a
    draw from the seed; the truth is measured after placement either way."""
    if size not in C.SIZES:
        raise ValueError(f"size must be one of {sorted(C.SIZES)}")
    preset = C.SIZES[size]
    seed = int(seed)
    case_id = case_id or f"seed_{seed}"
    case_number = _case_number(case_id, seed)
    rngs = _rngs(seed)
    drawn = _draw_category(rngs["meta"])  # always drawn, so forcing a category changes nothing else
    category = margin_category or drawn
    if category not in C.MARGIN_CATEGORIES:
        raise ValueError(f"margin_category must be one of {C.MARGIN_CATEGORIES}")

    # --- specimen and grids
    shape: SpecimenShape = build_specimen(rng=rngs["specimen"], preset=preset)
    box_lo, box_hi = shape.bounding_box(step_mm=0.5 if size == "small" else 1.0)
    ct_grid, pet_grid = choose_grids(
        rng=rngs["grids"],
        preset=preset,
        specimen_lo=box_lo,
        specimen_hi=box_hi,
        plate_bottom_y=shape.plate_top_y + shape.plate_thickness_mm,
    )
    specimen = shape.inside_on_grid(ct_grid)
    border = np.zeros_like(specimen)
    border[[0, -1]] = border[:, [0, -1]] = border[:, :, [0, -1]] = True
    if (specimen & border).any():
        raise RuntimeError("specimen touches the CT field-of-view border")
    plate = shape.plate_on_grid(ct_grid)
    surface = surface_model(specimen=specimen, grid=ct_grid)
    probe = GapProbe(specimen=specimen, grid=ct_grid, surface=surface)

    # --- tissue
    fibro_tex = build_fibro(rng=rngs["fibro"], lo_xyz=box_lo, hi_xyz=box_hi, small=size == "small")
    fibro = fibro_tex.on_grid(ct_grid)
    fibro &= specimen

    # --- tumours
    extent = box_hi - box_lo
    placements = place_tumours(
        rng=rngs["placement"],
        tumour_rng=rngs["tumour"],
        preset=preset,
        specimen=specimen,
        grid=ct_grid,
        probe=probe,
        extent_mm=extent,
        category=category,
    )
    tumour = np.zeros(ct_grid.shape, bool)
    uptake = np.zeros(ct_grid.shape, np.float32)
    ids = np.zeros(ct_grid.shape, np.uint8)
    for number, placement in enumerate(placements, start=1):
        paste(placement=placement, mask=tumour, uptake=uptake, label=number, ids=ids)
    tumour &= specimen
    ids[~tumour] = 0
    keep_main_components(placements=placements, tumour=tumour, ids=ids, uptake=uptake)

    # --- clips
    clip_rng = rngs["clips"]
    has_clips = bool(clip_rng.random() < 0.45)
    clips = []
    if has_clips:
        avoid = [
            (index_to_xyz(ct_grid, np.asarray(p.centre_index)[None])[0], p.shape.radius_mm * 1.5 + 2.0)
            for p in placements
        ]
        clips = build_clips(
            rng=clip_rng,
            surface_xyz=surface.xyz,
            normals_xyz=surface.normals,
            avoid_xyz=avoid,
            count=int(clip_rng.integers(1, 4)),
        )
        has_clips = bool(clips)
    clip_mask = paint_clips(grid=ct_grid, clips=clips) if clips else None

    labels = np.zeros(ct_grid.shape, np.uint8)
    labels[plate] = C.LABEL_PLATE
    labels[specimen] = C.LABEL_FAT
    labels[fibro] = C.LABEL_FIBRO
    labels[tumour] = C.LABEL_TUMOUR
    if clip_mask is not None:
        labels[clip_mask] = C.LABEL_CLIP

    # --- CT
    ct_rng = rngs["ct"]
    hu = {
        C.LABEL_AIR: C.HU_AIR,
        C.LABEL_FAT: float(ct_rng.uniform(*C.HU_FAT)),
        C.LABEL_FIBRO: float(ct_rng.uniform(*C.HU_FIBRO)),
        C.LABEL_TUMOUR: float(ct_rng.uniform(*C.HU_TUMOUR)),
        C.LABEL_PLATE: float(ct_rng.uniform(*C.HU_PLATE)),
        C.LABEL_CLIP: C.HU_CLIP,
    }
    ct_noise = float(ct_rng.uniform(*C.CT_NOISE_SD_HU))
    ct_stored = store_ct(
        synthesise_ct(labels=labels, hu=hu, noise_sd_hu=ct_noise, tumour_texture=None, rng=ct_rng)
    )

    # --- PET
    pet_rng = rngs["pet"]
    suv_fat = float(pet_rng.uniform(*C.SUV_FAT))
    suv_fibro = float(pet_rng.uniform(*C.SUV_FIBRO))
    suv_base = float(pet_rng.uniform(*C.SUV_TUMOUR_BASE))
    sat_factor = float(pet_rng.uniform(0.7, 1.1))
    modulation = smooth_noise(rng=pet_rng, lo_xyz=box_lo, hi_xyz=box_hi, sigma_mm=4.0).on_grid_coarse(ct_grid)
    np.clip(modulation, -2.0, 2.0, out=modulation)
    tumour_suv = uptake * np.float32(suv_base)
    if len(placements) > 1:
        tumour_suv[ids == 2] *= np.float32(sat_factor)
    suv_true = suv_map(
        labels=labels,
        suv_fat=suv_fat,
        suv_fibro=suv_fibro,
        modulation=modulation,
        tumour_suv=tumour_suv,
        tumour=tumour,
    )
    del modulation, tumour_suv
    weight = float(np.round(pet_rng.uniform(*C.PATIENT_WEIGHT_KG), 1))
    dose = float(np.round(weight * pet_rng.uniform(*C.DOSE_MBQ_PER_KG) * 1e6, -3))
    study, injection = draw_study(rng=rngs["meta"], seed=seed, case_number=case_number, weight_kg=weight)
    series_time = injection + timedelta(seconds=int(pet_rng.uniform(*C.UPTAKE_MIN) * 60))
    calibration = PetCalibration(
        patient_weight_kg=weight, injected_dose_bq=dose, injection_time=injection, series_time=series_time
    )
    ct_time = series_time - timedelta(seconds=int(pet_rng.integers(120, 360)))
    study = replace(study, study_time=ct_time - timedelta(seconds=60))
    fwhm = float(pet_rng.uniform(*C.PET_FWHM_MM))
    noise_rel = float(pet_rng.uniform(*C.PET_NOISE_REL_AT_SUV1))
    blurred_suv, noisy_suv = simulate_pet(
        suv_ct=suv_true,
        ct_grid=ct_grid,
        pet_grid=pet_grid,
        fwhm_mm=fwhm,
        noise_rel_at_suv1=noise_rel,
        rng=pet_rng,
    )
    pet_stored, slopes = store_pet(noisy_suv / np.float32(calibration.suv_per_bqml))

    # --- truth
    margins = measure_margins(specimen=specimen, tumour=tumour, grid=ct_grid, surface=surface)
    pet_suv = stored_to_suv(stored=pet_stored, slopes=slopes, calibration=calibration)
    tumour_pet = nearest_mask(mask=tumour, source=ct_grid, target=pet_grid)
    truth = build_truth(
        case_id=case_id,
        seed=seed,
        size=size,
        category=category,
        shape=shape,
        ct_grid=ct_grid,
        pet_grid=pet_grid,
        specimen=specimen,
        tumour=tumour,
        ids=ids,
        placements=placements,
        surface=surface,
        margins=margins,
        suv_true=suv_true,
        pet_suv=pet_suv,
        blurred_suv=blurred_suv,
        tumour_pet=tumour_pet,
        calibration=calibration,
        hu=hu,
        ct_noise=ct_noise,
        fwhm=fwhm,
        noise_rel=noise_rel,
        suv_levels={"fat": suv_fat, "fibroglandular": suv_fibro, "tumour_base": suv_base},
        fibro_density=float(fibro.sum() / max(int(specimen.sum()), 1)),
        clips=clips,
        study=study,
    )
    return PhantomCase(
        case_id=case_id,
        case_number=case_number,
        seed=seed,
        size=size,
        ct_grid=ct_grid,
        pet_grid=pet_grid,
        ct_stored=ct_stored,
        pet_stored=pet_stored,
        pet_slopes=slopes,
        labels=labels,
        specimen_mask=specimen,
        tumour_mask=tumour,
        tumour_ids=ids,
        suv_true=suv_true,
        pet_suv_intended=noisy_suv,
        calibration=calibration,
        study=study,
        ct_series_time=ct_time,
        truth=truth,
    )
