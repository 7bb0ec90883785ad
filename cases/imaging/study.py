"""The ingest entry point: an upload path in, de-identified PET-CT studies on a common grid out.

collect files -> read headers -> group and pair CT with PET -> both series' geometry from
their headers -> SUV (before de-identification: Philips keeps its factors in private tags)
-> de-identify the headers and build the stored metadata -> working grid from the CT ->
CT (linear, air = -1000 HU outside) and PET (linear, 0 outside) onto it, their pixels read
a few slices at a time and resampled as they come (the acquired-resolution volumes, often
several times the working grid's size, are never held whole).

Nothing is written anywhere except the temporary extraction of a zip, removed before
returning. Errors are :class:`~cases.imaging.errors.IngestError` with a code.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset

from .deid import deidentify_dataset, deidentify_datasets, patient_key, study_metadata
from .errors import GeometryError, UnsupportedError
from .files import (
    DEFAULT_MAX_MEMBERS,
    DEFAULT_MAX_RATIO,
    DEFAULT_MAX_TOTAL_BYTES,
    CollectedFiles,
    collect_files,
)
from .grouping import StudyPair, group_series, pair_series
from .originals import original_identifiers
from .reading import header_text, read_headers
from .resample import resample, resample_slices, working_grid
from .series import LoadedSeries, SeriesGeometry, load_series, series_geometry, slice_reader
from .suv import SuvResult, compute_suv
from .timing import StageClock
from .validation import DEFAULT_LIMITS, Limits, check_volume_size
from .volume import Grid, Volume

CT_FILL_HU = -1000.0  # air outside the CT field of view
PET_FILL = 0.0


@dataclass
class LoadedStudy:
    study_uid: str  # de-identified StudyInstanceUID of the CT
    patient_key: str | None  # keyed hash of the original PatientID (None if it was blank)
    case_code: str
    ct_acquired: Grid
    pet_acquired: Grid
    ct_working: Volume  # HU, float32
    pet_working: Volume  # float32, in pet_units
    pet_units: str  # "Bq/ml" normally; "counts" etc. when no conversion is known
    suv: SuvResult  # factor applies to pet_working values
    metadata: dict  # de-identified, JSON-friendly
    warnings: list[str] = field(default_factory=list)
    source_ct_datasets: list[Dataset] = field(default_factory=list)  # de-identified headers, CT slice order
    originals: dict | None = None  # original identifiers (originals.py), only for the re-identification store

    def pet_suv(self) -> Volume | None:
        """PET on the working grid in SUVbw, or None when SUV is unavailable (see suv.reason)."""
        if self.suv.factor is None:
            return None
        return Volume(array=self.pet_working.array * np.float32(self.suv.factor), grid=self.pet_working.grid)


def _check_overlap(*, pet: Grid, working: Grid, label: str) -> None:
    corners = np.array(
        [
            [k, j, i]
            for k in (0, pet.shape[0] - 1)
            for j in (0, pet.shape[1] - 1)
            for i in (0, pet.shape[2] - 1)
        ],
        dtype=float,
    )
    indices = working.patient_to_index(pet.index_to_patient(corners))
    low, high = indices.min(axis=0), indices.max(axis=0)
    if np.any(high < -0.5) or np.any(low > np.asarray(working.shape) - 0.5):
        raise GeometryError(
            f"{label} lies entirely outside the CT field of view; PET and CT do not overlap in space.",
            code="inconsistent_geometry",
        )


def _series_on_grid(*, series: SeriesGeometry, grid: Grid, label: str, fill: float, scale: float = 1.0) -> Volume:
    """A series' rescaled values (times ``scale``) resampled linearly, with anti-aliasing, onto ``grid``.

    Read slab by slab, so the acquired-resolution volume never exists; where that path does not apply
    (oblique grids, values that are not finite) the whole volume is read and resampled.
    """
    read = slice_reader(geometry=series, label=label, scale=scale)
    working = resample_slices(read_slices=read, source_grid=series.grid, grid=grid, fill=fill, antialias=True)
    if working is not None:
        return working
    array = np.empty(series.grid.shape, dtype=np.float32)
    read(0, array)
    return resample(volume=Volume(array=array, grid=series.grid), grid=grid, order=1, fill=fill, antialias=True)


def load_studies(
    *,
    path: Path,
    working_spacing_mm: float = 0.5,
    deid_secret: str,
    case_code: str | Callable[[str | None], str] = "ANONYMOUS",
    keep_descriptions: bool = False,
    retain_patient_characteristics: bool = True,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_ratio: float = DEFAULT_MAX_RATIO,
    temp_parent: Path | None = None,
    split_patients: bool = False,
    limits: Limits = DEFAULT_LIMITS,
    on_stage: Callable[[str], None] | None = None,
    clock: StageClock | None = None,
) -> list[LoadedStudy]:
    """Every PET-CT study in the upload at ``path`` (one patient), de-identified and on one grid.

    ``split_patients`` accepts several patients (a folder archive imported from disk) and loads
    each patient's studies in turn; without it, two patients in one upload are refused.

    ``case_code`` is the pseudonym written as PatientID/PatientName, or a callable that receives
    the patient key and returns it (so the caller can reuse the code of a patient seen before).
    ``clock`` records how long each step took (headers, pairing, geometry, SUV, de-identification, pixels and resampling).
    """
    if not deid_secret:
        raise ValueError("deid_secret is required")
    stage = on_stage or (lambda _name: None)  # progress for a live ingest state: checking, de-identifying, ...
    stage("checking")
    options = _Options(
        working_spacing_mm=working_spacing_mm,
        deid_secret=deid_secret,
        case_code=case_code,
        keep_descriptions=keep_descriptions,
        retain_patient_characteristics=retain_patient_characteristics,
        limits=limits,
        stage=stage,
        mark=clock.mark if clock is not None else (lambda _name: None),
    )
    options.mark("read_headers")
    with _collector_paused():
        # In a function of its own, so that every header it read and does not return is freed before the
        # collector resumes: what is left for it to walk then is what the studies keep.
        studies = _read_upload(
            collect=lambda: collect_files(
                path=Path(path),
                max_members=max_members,
                max_total_bytes=max_total_bytes,
                max_ratio=max_ratio,
                temp_parent=temp_parent,
            ),
            split_patients=split_patients,
            options=options,
        )
    if clock is not None:
        clock.close()
    return studies


@dataclass(frozen=True)
class _Options:
    """How load_studies was asked to load (the same for every study of the upload)."""

    working_spacing_mm: float
    deid_secret: str
    case_code: str | Callable[[str | None], str]
    keep_descriptions: bool
    retain_patient_characteristics: bool
    limits: Limits
    stage: Callable[[str], None]
    mark: Callable[[str], None]


def _read_upload(
    *, collect: Callable[[], AbstractContextManager[CollectedFiles]], split_patients: bool, options: _Options
) -> list[LoadedStudy]:
    studies: list[LoadedStudy] = []
    with collect() as collected:
        read = read_headers(candidates=collected.files)
        groups = _files_by_patient(read.files) if split_patients else [read.files]
        for files in groups:
            options.mark("pair_series")
            pairing = pair_series(files=files)
            key = patient_key(patient_id=pairing.patient_id, secret=options.deid_secret)
            code = options.case_code(key) if callable(options.case_code) else options.case_code
            common = [*collected.warnings, *read.warnings, *pairing.warnings]
            for pair in pairing.pairs:
                studies.append(
                    _load_pair(
                        pair=pair,
                        patient_id=pairing.patient_id,
                        patient_key=key,
                        code=code,
                        warnings=list(common),
                        options=options,
                    )
                )
    return studies


def _load_pair(
    *, pair: StudyPair, patient_id: str, patient_key: str | None, code: str, warnings: list[str], options: _Options
) -> LoadedStudy:
    """One CT + PET pair: checked, de-identified and on the working grid."""
    mark, limits = options.mark, options.limits
    _check_distinct_instances(pair)
    mark("ct_geometry")  # from the headers: the pixels are read slab by slab while resampling, below
    ct = series_geometry(files=pair.ct.files, label=pair.ct.label(), limits=limits)
    mark("pet_geometry")
    pet = series_geometry(files=pair.pet.files, label=pair.pet.label(), limits=limits)
    warnings += ct.warnings + pet.warnings
    mark("suv")
    pet_headers = [dicom.header for dicom in pet.files]
    suv = compute_suv(headers=pet_headers)  # before de-identification drops private tags
    # Philips CNTS with an activity factor: converted while reading, so every study is in Bq/ml.
    pet_scale = suv.bqml_factor if suv.bqml_factor not in (None, 1.0) else 1.0
    if pet_scale != 1.0:
        suv = suv.in_bqml()
    warnings += list(suv.warnings)
    if suv.factor is None:
        warnings.append(f"SUV unavailable: {suv.reason} PET values are in {suv.pet_value_unit}.")

    options.stage("de-identifying")
    mark("deidentify")
    ct_headers = [dicom.header for dicom in ct.files]
    originals = original_identifiers(ct_headers=ct_headers, pet_header=pet_headers[0])
    deid_options = {
        "secret": options.deid_secret,
        "case_code": code,
        "patient_id": patient_id,
        "keep_descriptions": options.keep_descriptions,
        "retain_patient_characteristics": options.retain_patient_characteristics,
    }
    # In place (these header objects are ours); all CT headers are kept (SEG export), and one pass shares
    # the work between the slices.
    ct_headers = deidentify_datasets(datasets=ct_headers, **deid_options)
    pet_header = deidentify_dataset(dataset=pet_headers[0], in_place=True, **deid_options)
    metadata = study_metadata(ct=ct_headers[0], pet=pet_header)
    grid = working_grid(reference=ct.grid, spacing_mm=options.working_spacing_mm)

    options.stage("resampling")
    mark("pixels_and_resampling")
    check_volume_size(shape=grid.shape, label="The working grid", limits=limits)
    _check_overlap(pet=pet.grid, working=grid, label=pair.pet.label())
    metadata["CT"]["grid"] = ct.grid.to_dict()
    metadata["PET"]["grid"] = pet.grid.to_dict()
    metadata["working_grid"] = grid.to_dict()
    metadata["SUV"] = suv.to_dict()
    if not options.retain_patient_characteristics:  # the weight is a patient characteristic too
        metadata["SUV"]["patient_weight_kg"] = None
    metadata["pet_units"] = suv.pet_value_unit
    return LoadedStudy(
        study_uid=str(ct_headers[0].StudyInstanceUID),
        patient_key=patient_key,
        case_code=code,
        ct_acquired=ct.grid,
        pet_acquired=pet.grid,
        ct_working=_series_on_grid(series=ct, grid=grid, label=pair.ct.label(), fill=CT_FILL_HU),
        pet_working=_series_on_grid(series=pet, grid=grid, label=pair.pet.label(), fill=PET_FILL, scale=pet_scale),
        pet_units=suv.pet_value_unit,
        suv=suv,
        metadata=metadata,
        warnings=warnings,
        source_ct_datasets=ct_headers,
        originals=originals,
    )


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a study is read: pydicom makes some hundred small objects
    per header, which set off collections that walk every object of the process (a worker holds hundreds of
    thousands) over and over, and almost none of them is in a reference cycle (reference counting frees them).
    Whatever cycles there are get collected as usual afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check_distinct_instances(pair) -> None:
    ct_uids = {header_text(f.header, "SOPInstanceUID"): f for f in pair.ct.files}
    for dicom in pair.pet.files:
        twin = ct_uids.get(header_text(dicom.header, "SOPInstanceUID"))
        if twin is not None:
            raise GeometryError(
                f"'{dicom.name}' (PET) and '{twin.name}' (CT) have the same SOPInstanceUID; "
                "every instance needs its own UID.",
                code="duplicate_uid",
                file=dicom.name,
            )


def _files_by_patient(files: list) -> list[list]:
    groups: dict[str, list] = {}
    for item in files:
        groups.setdefault(str(item.header.get("PatientID", "") or ""), []).append(item)
    return list(groups.values())


def load_series_volume(*, path: Path, series_uid: str | None = None) -> LoadedSeries:
    """One series from ``path`` as a rescaled float32 Volume (no pairing, no de-identification).

    With several series present, ``series_uid`` picks one (original UID).
    """
    with collect_files(path=Path(path)) as collected:
        read = read_headers(candidates=collected.files)
        series = group_series(files=read.files)
        if series_uid is not None:
            series = [s for s in series if s.series_uid == series_uid]
        if len(series) != 1:
            raise UnsupportedError(
                f"Expected exactly one series at '{Path(path).name}', found {len(series)}; pass series_uid."
            )
        loaded = load_series(files=series[0].files, label=series[0].label())
        loaded.warnings[:0] = [*collected.warnings, *read.warnings]
        return loaded
