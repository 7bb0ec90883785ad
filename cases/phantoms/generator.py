"""Public entry points of the synthetic specimen generator (Django-free).

* :func:`generate_case` builds one case in memory (arrays, grids, header values, truth).
* :func:`write_case` writes it as ``case_dir/{ct/CT0001.dcm.., pet/PT0001.dcm.., truth/..}``.
* :func:`generate_phantoms` writes ``n`` cases plus ``manifest.json`` into ``out_dir``.

Everything is a pure function of the seed: per-case seeds are
``case_seed(seed=S, index=i)``, all random draws come from ``numpy.random.SeedSequence``
children of the case seed, and DICOM UIDs, dates and times are derived from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from cases.imaging.volume import Grid
from cases.phantoms import config as C
from cases.phantoms.anatomy import (
    SpecimenShape,
    build_clips,
    build_fibro,
    build_specimen,
    build_tumour,
    largest_component,
    paint_clips,
)
from cases.phantoms.ct import CT_RESCALE_INTERCEPT, store_ct, synthesise_ct
from cases.phantoms.dicom_writer import StudyInfo, seeded_uid, write_ct_series, write_pet_series
from cases.phantoms.fields import nearest_mask, smooth_noise
from cases.phantoms.grids import choose_grids
from cases.phantoms.pet import PetCalibration, simulate_pet, store_pet, stored_to_suv, suv_map
from cases.phantoms.placement import GapProbe, Placement, paste, place_primary, place_satellite
from cases.phantoms.report import GENERATOR_VERSION, build_truth
from cases.phantoms.truth import (
    index_to_xyz,
    measure_margins,
    surface_model,
    write_json,
    write_mask_nifti,
)

MANIFEST_SCHEMA = "petctweb-phantom-manifest/1"

# Category schedule of a batch: 3 transected, 2 close, 5 clear per 10 cases, so any run
# of 3 or more consecutive cases contains both margin-positive and -negative cases at 1 mm.
_SCHEDULE: tuple[str, ...] = (
    "transected",
    "clear",
    "close",
    "clear",
    "transected",
    "clear",
    "close",
    "clear",
    "transected",
    "clear",
)

_INSTITUTIONS = (
    "Synthetic University Hospital",
    "General Hospital of Nowhere",
    "St. Example Breast Clinic",
    "Imaginary Cancer Centre",
)
_PHYSICIANS = ("DOE^JANE", "ROE^RICHARD", "SMITH^ALEX", "JANSSENS^AN", "PEETERS^MARC")


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


@dataclass(frozen=True)
class PhantomSummary:
    case_id: str
    seed: int
    size: str
    path: Path
    closest_margin_mm: float
    status_0mm: str
    status_1mm: str
    n_tumours: int
    has_clips: bool
    n_ct_files: int
    n_pet_files: int
    dicom_bytes: int

    def to_dict(self, *, relative_to: Path | None = None) -> dict:
        path = self.path.relative_to(relative_to) if relative_to is not None else self.path
        return {
            "case_id": self.case_id,
            "seed": self.seed,
            "size": self.size,
            "path": str(path),
            "closest_margin_mm": self.closest_margin_mm,
            "status_0mm": self.status_0mm,
            "status_1mm": self.status_1mm,
            "n_tumours": self.n_tumours,
            "has_clips": self.has_clips,
            "n_ct_files": self.n_ct_files,
            "n_pet_files": self.n_pet_files,
            "dicom_bytes": self.dicom_bytes,
        }


def case_seed(*, seed: int, index: int) -> int:
    """Per-case seed of case ``index`` of a batch with seed ``seed`` (uint32)."""
    return int(np.random.SeedSequence([int(seed), int(index), 0x5EC1]).generate_state(1)[0])


def _rngs(seed: int) -> dict[str, np.random.Generator]:
    names = ("specimen", "grids", "fibro", "tumour", "placement", "clips", "ct", "pet", "meta")
    children = np.random.SeedSequence([int(seed), 0xC0FFEE]).spawn(len(names))
    return {name: np.random.default_rng(child) for name, child in zip(names, children, strict=True)}


def _study(
    *, rng: np.random.Generator, seed: int, case_number: int, weight_kg: float
) -> tuple[StudyInfo, datetime]:
    day = datetime(2022, 1, 3) + timedelta(days=int(rng.integers(0, 900)))
    injection = day + timedelta(hours=7, seconds=int(rng.integers(0, 3 * 3600)))
    birth = datetime(1945, 1, 1) + timedelta(days=int(rng.integers(0, 45 * 365)))
    study = StudyInfo(
        case_number=case_number,
        seed=seed,
        study_uid=seeded_uid(seed, case_number, "study"),
        frame_of_reference_uid=seeded_uid(seed, case_number, "frame-of-reference"),
        study_time=injection,  # replaced below once the scan times are known
        patient_birth_date=birth.strftime("%Y%m%d"),
        patient_weight_kg=weight_kg,
        accession_number=f"A{int(rng.integers(10**7, 10**8))}",
        institution_name=_INSTITUTIONS[int(rng.integers(len(_INSTITUTIONS)))],
        referring_physician=_PHYSICIANS[int(rng.integers(len(_PHYSICIANS)))],
        operator_name=_PHYSICIANS[int(rng.integers(len(_PHYSICIANS)))],
        laterality="L" if rng.random() < 0.5 else "R",
    )
    return study, injection


def _case_number(case_id: str, seed: int) -> int:
    digits = "".join(ch for ch in case_id if ch.isdigit())
    return int(digits[-4:]) if digits else seed % 10000


def _draw_category(rng: np.random.Generator) -> str:
    return str(rng.choice(C.MARGIN_CATEGORIES, p=[0.3, 0.2, 0.5]))


def _place_tumours(
    *,
    rng: np.random.Generator,
    tumour_rng: np.random.Generator,
    preset: C.SizePreset,
    specimen: np.ndarray,
    grid: Grid,
    probe: GapProbe,
    extent_mm: np.ndarray,
    category: str,
) -> list[Placement]:
    min_dim = float(np.min(extent_mm))
    cap = max(3.0, 0.55 * min_dim - 2.0)
    diameter = min(tumour_rng.uniform(*preset.tumour_diameter_mm), cap)
    spiculated = bool(tumour_rng.random() < 0.6)
    centre = index_to_xyz(grid, np.argwhere(specimen[::3, ::3, ::3]) * 3).mean(axis=0)
    primary: Placement | None = None
    for attempt in range(12):
        if attempt and attempt % 3 == 0:
            diameter = max(2.5, diameter * 0.8)
        if attempt == 9:
            spiculated = False
        shape = build_tumour(
            rng=tumour_rng, spacing=grid.spacing, diameter_mm=diameter, spiculated=spiculated
        )
        direction = np.array([0.0, 1.0, 0.0])
        while direction[1] > 0.3:  # mostly sideways (the specimen is flat), not into the plate
            direction = rng.standard_normal(3) * np.array([1.0, 0.5, 1.0])
            direction /= np.linalg.norm(direction)
        origin = centre + rng.uniform(-0.1, 0.1, size=3) * extent_mm
        gap_range = {"close": C.CLOSE_GAP_MM, "clear": C.CLEAR_GAP_MM}.get(category)
        primary = place_primary(
            rng=rng,
            shape=shape,
            probe=probe,
            origin_xyz=origin,
            direction=direction,
            category=category,
            gap_range_mm=gap_range,
            protrusion_mm=float(rng.uniform(*C.TRANSECT_PROTRUSION_FRAC)) * shape.radius_mm,
        )
        if primary is not None:
            break
    if primary is None:
        raise RuntimeError("could not place the tumour")
    placements = [primary]
    if tumour_rng.random() < 0.3:
        sat_shape = build_tumour(
            rng=tumour_rng,
            spacing=grid.spacing,
            diameter_mm=tumour_rng.uniform(*preset.satellite_diameter_mm),
            spiculated=bool(tumour_rng.random() < 0.3),
            lobulated=False,
        )
        reach = primary.shape.radius_mm * 1.45 + (8.0 if primary.shape.n_spicules else 0.0)
        primary_xyz = index_to_xyz(grid, np.asarray(primary.centre_index)[None])[0]
        satellite = place_satellite(
            rng=rng,
            shape=sat_shape,
            probe=probe,
            min_gap_mm=max(C.MIN_SATELLITE_GAP_MM, primary.estimated_gap_mm if category == "clear" else 0.0),
            avoid=[(primary_xyz, reach)],
        )
        if satellite is not None:
            placements.append(satellite)
    return placements


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
    placements = _place_tumours(
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
    _keep_main_components(placements=placements, tumour=tumour, ids=ids, uptake=uptake)

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
    study, injection = _study(rng=rngs["meta"], seed=seed, case_number=case_number, weight_kg=weight)
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


def _keep_main_components(
    *, placements: list[Placement], tumour: np.ndarray, ids: np.ndarray, uptake: np.ndarray
) -> None:
    """After clipping to the specimen keep each tumour's largest connected piece."""
    for number, placement in enumerate(placements, start=1):
        origin = np.asarray(placement.centre_index) - np.asarray(placement.shape.centre_index)
        start = np.maximum(origin, 0)
        stop = np.minimum(origin + np.asarray(placement.shape.mask.shape), tumour.shape)
        crop = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
        mine = ids[crop] == number
        keep = largest_component(mine)
        drop = mine & ~keep
        if drop.any():
            tumour[crop][drop] = False
            ids[crop][drop] = 0
            uptake[crop][drop] = 0.0


def write_case(*, case: PhantomCase, out_dir: Path) -> Path:
    """Write ``case`` into ``out_dir/<case_id>/`` and return that folder."""
    case_dir = Path(out_dir) / case.case_id
    for folder, prefix in (("ct", "CT"), ("pet", "PT")):  # stale slices of an earlier run
        for stale in (case_dir / folder).glob(f"{prefix}*.dcm"):
            stale.unlink()
    ct_paths = write_ct_series(
        study=case.study,
        stored=case.ct_stored,
        grid=case.ct_grid,
        series_time=case.ct_series_time,
        out_dir=case_dir / "ct",
    )
    pet_paths = write_pet_series(
        study=case.study,
        stored=case.pet_stored,
        slopes=case.pet_slopes,
        grid=case.pet_grid,
        calibration=case.calibration,
        frame_duration_s=C.PET_FRAME_S,
        out_dir=case_dir / "pet",
    )
    truth_dir = case_dir / "truth"
    write_mask_nifti(array=case.tumour_mask, grid=case.ct_grid, path=truth_dir / "tumour_mask.nii.gz")
    write_mask_nifti(array=case.specimen_mask, grid=case.ct_grid, path=truth_dir / "specimen_mask.nii.gz")
    write_mask_nifti(array=case.labels, grid=case.ct_grid, path=truth_dir / "labels.nii.gz")
    truth = dict(case.truth)
    truth["files"] = {
        "ct_dir": "ct",
        "pet_dir": "pet",
        "n_ct_files": len(ct_paths),
        "n_pet_files": len(pet_paths),
        "dicom_bytes": int(sum(p.stat().st_size for p in [*ct_paths, *pet_paths])),
        "tumour_mask": "truth/tumour_mask.nii.gz",
        "specimen_mask": "truth/specimen_mask.nii.gz",
        "labels": "truth/labels.nii.gz",
        "masks_grid": "ct_grid",
    }
    write_json(data=truth, path=truth_dir / "truth.json")
    return case_dir


def _summary(case: PhantomCase, case_dir: Path) -> PhantomSummary:
    files = json.loads((case_dir / "truth" / "truth.json").read_text())["files"]
    t = case.truth
    return PhantomSummary(
        case_id=case.case_id,
        seed=case.seed,
        size=case.size,
        path=case_dir,
        closest_margin_mm=t["closest_margin_mm"],
        status_0mm=t["margin_status"]["0mm"],
        status_1mm=t["margin_status"]["1mm"],
        n_tumours=t["n_tumours"],
        has_clips=t["has_clips"],
        n_ct_files=files["n_ct_files"],
        n_pet_files=files["n_pet_files"],
        dicom_bytes=files["dicom_bytes"],
    )


def batch_categories(*, seed: int, n: int) -> list[str]:
    """Target margin categories of a batch: the fixed schedule from a seed-derived offset."""
    offset = int(np.random.default_rng(np.random.SeedSequence([int(seed), 0xCA7])).integers(len(_SCHEDULE)))
    return [_SCHEDULE[(offset + i) % len(_SCHEDULE)] for i in range(n)]


def generate_phantoms(
    *,
    out_dir: Path,
    n: int,
    seed: int,
    size: str = "full",
    progress: Callable[[int, int, PhantomSummary], None] | None = None,
) -> list[PhantomSummary]:
    """Generate and write ``n`` cases ``case_0000..`` plus ``manifest.json`` into ``out_dir``.

    ``progress(done, n, summary)`` is called after each case is written.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if size not in C.SIZES:
        raise ValueError(f"size must be one of {sorted(C.SIZES)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    categories = batch_categories(seed=seed, n=n)
    summaries: list[PhantomSummary] = []
    for index in range(n):
        case = generate_case(
            seed=case_seed(seed=seed, index=index),
            size=size,
            case_id=f"case_{index:04d}",
            margin_category=categories[index],
        )
        case_dir = write_case(case=case, out_dir=out_dir)
        summary = _summary(case, case_dir)
        summaries.append(summary)
        del case
        if progress is not None:
            progress(index + 1, n, summary)
    manifest = {
        "schema": MANIFEST_SCHEMA,
        "generator_version": GENERATOR_VERSION,
        "seed": int(seed),
        "n": int(n),
        "size": size,
        "case_seed_rule": "numpy SeedSequence([seed, index, 0x5EC1]).generate_state(1)[0]",
        "cases": [s.to_dict(relative_to=out_dir) for s in summaries],
    }
    write_json(data=manifest, path=out_dir / "manifest.json")
    return summaries
