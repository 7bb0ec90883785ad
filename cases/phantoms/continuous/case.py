"""``generate_continuous_case``: a specimen case whose truth is continuous and exact.

CT and PET are rendered on their native grids from supersampled partial-volume occupancies
(sub-samples <= 0.125 mm apart), with the generator's realistic HU / FDG values, the CT system
blur and noise, PET blur (0.9-1.2 mm FWHM) and noise; written with the shared DICOM writer.
The margin truth comes from the continuous surfaces (:mod:`.margins`), not from voxels.
Deterministic per seed (every draw comes from children of the seed's SeedSequence).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from scipy import ndimage as ndi

from cases.imaging.resample import working_grid as make_working_grid
from cases.imaging.volume import Grid
from cases.phantoms import config as C
from cases.phantoms.anatomy import build_fibro
from cases.phantoms.continuous.margins import measure_continuous_margins
from cases.phantoms.continuous.materials import specimen_occupancy, tumour_occupancy, wrapping_occupancies
from cases.phantoms.continuous.scene import WRAPPINGS, Wrapping, build_scene, draw_margin, place_foci
from cases.phantoms.continuous.shapes import ContinuousSpecimen, SphereUnion
from cases.phantoms.ct import CT_RESCALE_INTERCEPT, store_ct
from cases.phantoms.dicom_writer import StudyInfo, write_ct_series, write_pet_series
from cases.phantoms.grids import choose_grids
from cases.phantoms.pet import PetCalibration, simulate_pet, store_pet, stored_to_suv
from cases.phantoms.study_meta import draw_study
from cases.phantoms.truth import write_json

SCHEMA = "petctweb-continuous-truth/1"
# 2: walls and gauze fill the boundary voxels they share with the specimen (no false air gap at contact)
GENERATOR_VERSION = 2
WORKING_SPACING_MM = 0.5
WRAP_HU = {"film": (-150.0, 0.0), "wall": (-150.0, 100.0), "gauze": (-100.0, 100.0)}


@dataclass(frozen=True)
class ContinuousCase:
    case_id: str
    seed: int
    size: str
    wrapping: str
    specimen: ContinuousSpecimen = field(repr=False)
    tumour: SphereUnion = field(repr=False)
    ct_grid: Grid
    pet_grid: Grid
    working_grid: Grid
    ct_stored: np.ndarray = field(repr=False)
    pet_stored: np.ndarray = field(repr=False)
    pet_slopes: list[str] = field(repr=False)
    calibration: PetCalibration = field(repr=False)
    study: StudyInfo = field(repr=False)
    ct_series_time: datetime
    specimen_occupancy: np.ndarray = field(repr=False)  # working grid, float32 in [0, 1]
    tumour_occupancy: np.ndarray = field(repr=False)  # working grid
    ct_specimen_occupancy: np.ndarray = field(repr=False)  # CT grid
    truth: dict = field(repr=False)

    @property
    def ct_hu(self) -> np.ndarray:
        return self.ct_stored.astype(np.float32) + np.float32(CT_RESCALE_INTERCEPT)

    @property
    def pet_suv(self) -> np.ndarray:
        return stored_to_suv(stored=self.pet_stored, slopes=self.pet_slopes, calibration=self.calibration)

    def write(self, out_dir: Path) -> Path:
        """Write ``out_dir/<case_id>/{ct,pet}/*.dcm`` and ``truth/truth.json``; return the case folder."""
        case_dir = Path(out_dir) / self.case_id
        for folder, prefix in (("ct", "CT"), ("pet", "PT")):
            for stale in (case_dir / folder).glob(f"{prefix}*.dcm"):
                stale.unlink()
        ct_paths = write_ct_series(study=self.study, stored=self.ct_stored, grid=self.ct_grid,
                                   series_time=self.ct_series_time, out_dir=case_dir / "ct")
        pet_paths = write_pet_series(study=self.study, stored=self.pet_stored, slopes=self.pet_slopes,
                                     grid=self.pet_grid, calibration=self.calibration,
                                     frame_duration_s=C.PET_FRAME_S, out_dir=case_dir / "pet")
        truth = dict(self.truth)
        truth["files"] = {"ct_dir": "ct", "pet_dir": "pet", "n_ct_files": len(ct_paths),
                          "n_pet_files": len(pet_paths)}
        write_json(data=truth, path=case_dir / "truth" / "truth.json")
        return case_dir


def _rngs(seed: int) -> dict[str, np.random.Generator]:
    names = ("scene", "margin", "tumour", "grids", "fibro", "ct", "pet", "meta")
    children = np.random.SeedSequence([int(seed), 0xC0A7]).spawn(len(names))
    return {n: np.random.default_rng(c) for n, c in zip(names, children, strict=True)}


def _box(specimen: ContinuousSpecimen, wrapping: Wrapping) -> tuple[np.ndarray, np.ndarray]:
    pts, _ = specimen.sample_surface(spacing_mm=1.0)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    grow = wrapping.film_mm + wrapping.wall_thickness_mm + (8.0 if wrapping.kind == "film" else 0.0)
    return lo - grow, hi + grow


def generate_continuous_case(
    *, seed: int, size: str = "full", margin_mm: float | None = None, wrapping: str = "none",
    band: bool = False, case_id: str | None = None,
) -> ContinuousCase:
    """One case; ``margin_mm`` forces the exact closest margin, ``band`` draws it in 0.3-2.5 mm."""
    if size not in C.SIZES:
        raise ValueError(f"size must be one of {sorted(C.SIZES)}")
    if wrapping not in WRAPPINGS:
        raise ValueError(f"wrapping must be one of {WRAPPINGS}")
    if margin_mm is not None and not 0.0 <= float(margin_mm) <= 6.0:
        raise ValueError("margin_mm must be between 0 and 6 mm")
    preset = C.SIZES[size]
    seed = int(seed)
    rngs = _rngs(seed)
    drawn = draw_margin(rng=rngs["margin"], band=band)
    margin = float(margin_mm) if margin_mm is not None else drawn
    specimen, wrap, direction = build_scene(rng=rngs["scene"], preset=preset, wrapping=wrapping)
    tumour = place_foci(rng=rngs["tumour"], preset=preset, specimen=specimen, direction=direction,
                        margin_mm=margin)
    margins = measure_continuous_margins(specimen=specimen, tumour=tumour)

    lo, hi = _box(specimen, wrap)
    ct_grid, pet_grid = choose_grids(rng=rngs["grids"], preset=preset, specimen_lo=lo, specimen_hi=hi,
                                     plate_bottom_y=wrap.tray_top_y + wrap.tray_thickness_mm)
    work = make_working_grid(reference=ct_grid, spacing_mm=WORKING_SPACING_MM)

    spec_ct = specimen_occupancy(specimen=specimen, grid=ct_grid)
    tum_ct = np.minimum(tumour_occupancy(tumour=tumour, grid=ct_grid), spec_ct)
    others = wrapping_occupancies(specimen=specimen, wrapping=wrap, grid=ct_grid, specimen_occ=spec_ct)
    fibro = build_fibro(rng=rngs["fibro"], lo_xyz=lo, hi_xyz=hi, small=size == "small").on_grid(ct_grid)

    ct_rng = rngs["ct"]
    fat, fib = ct_rng.uniform(*C.HU_FAT), ct_rng.uniform(*C.HU_FIBRO)
    # Trays below about +150 HU blur under the plate detector's +100 HU threshold (a documented
    # limit, flagged by QC); the continuous phantoms test the wrappings, so their trays stay above it.
    hu_tum, hu_tray = ct_rng.uniform(*C.HU_TUMOUR), ct_rng.uniform(150.0, C.HU_PLATE[1])
    wrap_hu = {name: float(ct_rng.uniform(*rng_)) for name, rng_ in WRAP_HU.items()}
    air = C.HU_AIR
    tissue = np.where(fibro, np.float32(fib), np.float32(fat))
    hu = air + spec_ct * (tissue - air) + tum_ct * np.float32(hu_tum - tissue)
    hu += others["tray"] * np.float32(hu_tray - air)
    for name in ("film", "wall", "gauze"):
        if name in others:
            hu += others[name] * np.float32(wrap_hu[name] - air)
    hu = ndi.correlate1d(hu.astype(np.float32), [0.25, 0.5, 0.25], axis=2, mode="nearest")
    hu = ndi.correlate1d(hu, [0.25, 0.5, 0.25], axis=1, mode="nearest")
    hu = ndi.correlate1d(hu, [0.15, 0.7, 0.15], axis=0, mode="nearest")
    ct_noise = float(ct_rng.uniform(*C.CT_NOISE_SD_HU))
    hu += ct_rng.standard_normal(hu.shape, dtype=np.float32) * np.float32(ct_noise)
    ct_stored = store_ct(hu)
    del hu

    pet_rng = rngs["pet"]
    suv_fat, suv_fib = pet_rng.uniform(*C.SUV_FAT), pet_rng.uniform(*C.SUV_FIBRO)
    suv_tum = pet_rng.uniform(*C.SUV_TUMOUR_BASE)
    background = np.where(fibro, np.float32(suv_fib), np.float32(suv_fat))
    suv = (spec_ct * background + tum_ct * (np.float32(suv_tum) - background)).astype(np.float32)
    weight = float(np.round(pet_rng.uniform(*C.PATIENT_WEIGHT_KG), 1))
    dose = float(np.round(weight * pet_rng.uniform(*C.DOSE_MBQ_PER_KG) * 1e6, -3))
    study, injection = draw_study(rng=rngs["meta"], seed=seed, case_number=seed % 10000, weight_kg=weight)
    series_time = injection + timedelta(seconds=int(pet_rng.uniform(*C.UPTAKE_MIN) * 60))
    calibration = PetCalibration(patient_weight_kg=weight, injected_dose_bq=dose,
                                 injection_time=injection, series_time=series_time)
    ct_time = series_time - timedelta(seconds=int(pet_rng.integers(120, 360)))
    study = replace(study, study_time=ct_time - timedelta(seconds=60))
    fwhm = float(pet_rng.uniform(*C.PET_FWHM_MM))
    _, noisy = simulate_pet(suv_ct=suv, ct_grid=ct_grid, pet_grid=pet_grid, fwhm_mm=fwhm,
                            noise_rel_at_suv1=float(pet_rng.uniform(*C.PET_NOISE_REL_AT_SUV1)), rng=pet_rng)
    pet_stored, slopes = store_pet(noisy / np.float32(calibration.suv_per_bqml))

    spec_work = specimen_occupancy(specimen=specimen, grid=work)
    tum_work = np.minimum(tumour_occupancy(tumour=tumour, grid=work), spec_work)
    truth = {
        "schema": SCHEMA,
        "generator_version": GENERATOR_VERSION,
        "case_id": case_id or f"continuous_{seed}",
        "seed": seed,
        "size": size,
        "wrapping": wrap.to_dict(),
        "closest_margin_mm": round(margins.closest_mm, 4),
        "face_margins_mm": margins.faces_mm,
        "closest_face": margins.closest_face,
        "closest_tumour_point_xyz": list(margins.closest_tumour_point_xyz),
        "closest_surface_point_xyz": list(margins.closest_surface_point_xyz),
        "margin_status": {"1mm": margins.status(1.0), "2mm": margins.status(2.0),
                          "0mm": "positive" if margins.closest_mm <= 1e-6 else "negative"},
        "n_foci": tumour.n_foci,
        "focus_margins_mm": margins.per_focus_mm,
        "margin_definition": "exact distance between the continuous tumour and specimen surfaces, mm",
        "ct_grid": ct_grid.to_dict(),
        "pet_grid": pet_grid.to_dict(),
        "working_grid": work.to_dict(),
        "specimen_volume_ml": round(float(spec_ct.sum()) * float(np.prod(ct_grid.spacing)) / 1000.0, 3),
        "tumour_volume_ml": round(float(tum_ct.sum()) * float(np.prod(ct_grid.spacing)) / 1000.0, 4),
        "pet_fwhm_mm": fwhm,
        "ct_noise_sd_hu": ct_noise,
        "hu": {"fat": fat, "fibroglandular": fib, "tumour": hu_tum, "tray": hu_tray, **wrap_hu},
        "suv": {"fat": suv_fat, "fibroglandular": suv_fib, "tumour": suv_tum},
        "calibration": calibration.to_dict(),
    }
    return ContinuousCase(
        case_id=truth["case_id"], seed=seed, size=size, wrapping=wrapping, specimen=specimen, tumour=tumour,
        ct_grid=ct_grid, pet_grid=pet_grid, working_grid=work, ct_stored=ct_stored, pet_stored=pet_stored,
        pet_slopes=slopes, calibration=calibration, study=study, ct_series_time=ct_time,
        specimen_occupancy=spec_work, tumour_occupancy=tum_work, ct_specimen_occupancy=spec_ct, truth=truth,
    )
