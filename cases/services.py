"""Writes for cases: importing DICOM studies as de-identified cases."""

from __future__ import annotations

import gzip
import json
import logging
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from pydicom.dataelem import RawDataElement

from audit.services import audit_record
from cases.events import case_imported
from cases.imaging.errors import IngestError
from cases.imaging.specimen import specimen_surface_from_ct
from cases.imaging.study import LoadedStudy, load_studies
from cases.imaging.timing import StageClock
from cases.imaging.validation import Limits
from cases.models import Case, CaseVolume, SourceHeaders
from cases.reidentification import reidentification_store
from cases.specimen_surfaces import specimen_surface_initial_create
from cases.volume_store import store_array, store_bytes
from cases.worker_memory import remember
from petctweb.errors import DomainError

logger = logging.getLogger(__name__)

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I confusion when read aloud


@dataclass(frozen=True)
class ImportedCase:
    case: Case
    study: LoadedStudy


def _new_case_code() -> str:
    return "PC-" + "".join(secrets.choice(CODE_ALPHABET) for _ in range(6))


CT_HEADERS = "ct_headers"  # worker_memory kind of the de-identified CT headers (pydicom datasets)
SPECIMEN_QC_KEY = "specimen_surface_qc"  # Case.metadata key of the ingest surface's QC flags


def quantise_occupancy(occupancy: np.ndarray) -> np.ndarray:
    """uint8 = round(255 x occupancy): the 0.5 iso-surface moves by under 0.002 voxel."""
    return np.rint(np.clip(np.asarray(occupancy, dtype=np.float32), 0.0, 1.0) * 255.0).astype(np.uint8)


def _headers_json(study: LoadedStudy) -> str:
    """``json.dumps([d.to_json_dict() for d in study.source_ct_datasets])``, but an element that several slices
    hold as the same file bytes (most of a series' header) is converted and formatted once."""
    converted: dict[tuple, dict] = {}
    shared: dict[int, dict] = {}  # elements de-identification built once and gave every slice
    payload = []
    for dataset in study.source_ct_datasets:
        charset = tuple(dataset.get("SpecificCharacterSet") or ())
        entries = {}
        for tag in dataset.keys():
            element = dataset.get_item(tag)
            if isinstance(element, RawDataElement) and isinstance(element.value, bytes):
                key = (int(tag), element.VR, element.value, element.is_implicit_VR, element.is_little_endian, charset)
                entry = converted.get(key)
                if entry is None:
                    entry = converted[key] = dataset[tag].to_json_dict(None, 1024)
            elif isinstance(element.value, str):  # e.g. a remapped UID or a shifted date: the same in every slice
                key = (int(tag), element.VR, element.value)
                entry = converted.get(key)
                if entry is None:
                    entry = converted[key] = element.to_json_dict(None, 1024)
            else:
                entry = shared.get(id(element))
                if entry is None:
                    entry = shared[id(element)] = dataset[tag].to_json_dict(None, 1024)
            entries[f"{tag:08X}"] = entry
        payload.append(entries)
    return json.dumps(payload)


def _store_case_files(*, study: LoadedStudy, code: str, written: list[str], clock: StageClock) -> dict[str, tuple]:
    ct = np.clip(np.rint(study.ct_working.array), -32768, 32767).astype(np.int16)
    pet = study.pet_working.array.astype(np.float32)
    name = {kind: f"volumes/{code}/{kind}.raw.gz" for kind in CaseVolume.Kind.values}
    store = ArrayStore()
    try:
        # CT and PET compress on the other core while the specimen surface is found (found once, here;
        # inference reuses the stored occupancy and QC).
        store.submit(arrays={CaseVolume.Kind.CT: (ct, name[CaseVolume.Kind.CT]),
                             CaseVolume.Kind.PET: (pet, name[CaseVolume.Kind.PET])})
        clock.mark("specimen_surface")
        surface = specimen_surface_from_ct(ct_hu=ct, spacing=study.ct_working.grid.spacing)
        clock.mark("store_volumes")
        specimen = surface.mask.astype(np.uint8)
        occupancy = quantise_occupancy(surface.occupancy)
        store.submit(arrays={CaseVolume.Kind.SPECIMEN: (specimen, name[CaseVolume.Kind.SPECIMEN]),
                             CaseVolume.Kind.SPECIMEN_OCCUPANCY: (occupancy, name[CaseVolume.Kind.SPECIMEN_OCCUPANCY])})
    except BaseException:
        store.abandon(written=written)
        raise
    saved = store.finish(written=written)
    arrays = {CaseVolume.Kind.CT: ct, CaseVolume.Kind.PET: pet, CaseVolume.Kind.SPECIMEN: specimen,
              CaseVolume.Kind.SPECIMEN_OCCUPANCY: occupancy}
    stored = {"specimen_qc": [dict(flag) for flag in surface.qc], "arrays": arrays}
    for kind, array in arrays.items():
        stored_name, sha, size = saved[kind]
        stored[kind] = (stored_name, str(array.dtype), list(array.shape), sha, size)
    stored["specimen_voxels"] = int(np.count_nonzero(specimen))
    clock.mark("store_headers")
    headers_name = store_bytes(payload=gzip.compress(_headers_json(study).encode(), mtime=0), name=f"headers/{code}/ct.json.gz")
    written.append(headers_name)
    stored["headers"] = headers_name
    clock.close()
    return stored


class ArrayStore:
    """``store_array`` on a few threads, for arrays handed over as they become ready.

    gzip and SHA-256 release the GIL, so on two cores the volumes compress side by side (and beside other
    work of the caller). ``finish`` (or ``abandon``) waits for every one and adds each file that was stored
    to ``written`` (for the caller's clean-up), even when another one failed.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="store-array")
        self._futures: dict[str, Future] = {}

    def submit(self, *, arrays: dict[str, tuple[np.ndarray, str]]) -> None:
        for key, (array, name) in arrays.items():
            self._futures[key] = self._pool.submit(store_array, array=array, name=name)

    def finish(self, *, written: list[str]) -> dict[str, tuple[str, str, int]]:
        """(stored name, sha256, bytes) by key; raises the first failure once all are done."""
        self._pool.shutdown(wait=True)
        saved, failure = {}, None
        for key, future in self._futures.items():
            try:
                saved[key] = future.result()
            except Exception as exc:  # every stored file must be known before raising
                failure = failure or exc
                continue
            written.append(saved[key][0])
        if failure is not None:
            raise failure
        return saved

    def abandon(self, *, written: list[str]) -> None:
        """Wait for what was handed over and record what got stored; the caller is failing anyway."""
        try:
            self.finish(written=written)
        except Exception:  # the caller's own error is the one to report; this one is logged
            logger.warning("a volume could not be stored while the import was failing anyway", exc_info=True)


def store_arrays(*, arrays: dict[str, tuple[np.ndarray, str]], written: list[str]) -> dict[str, tuple[str, str, int]]:
    """``store_array`` of every (array, name) at once; returns (stored name, sha256, bytes) by key.

    Every file that was stored is added to ``written`` (for the caller's clean-up) even when another one
    failed; then it raises.
    """
    store = ArrayStore()
    store.submit(arrays=arrays)
    return store.finish(written=written)


def _discard_files(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not remove %s after a failed import", name)


def _create_case(*, study: LoadedStudy, source: str, user, clock: StageClock) -> Case:
    code = study.case_code
    suffix = 2
    while Case.objects.filter(code=code).exists():  # a second study of the same patient
        code = f"{study.case_code}-{suffix}"
        suffix += 1
    written: list[str] = []
    try:
        stored = _store_case_files(study=study, code=code, written=written, clock=clock)
        clock.mark("case_rows")
        with transaction.atomic():
            case = Case.objects.create(
                code=code,
                patient_key=study.patient_key or "",
                study_key=study.study_uid,
                source=source,
                created_by=user if user is not None and user.is_authenticated else None,
                metadata={**study.metadata, SPECIMEN_QC_KEY: stored["specimen_qc"]},
                ct_acquired=study.ct_acquired.to_dict(),
                pet_acquired=study.pet_acquired.to_dict(),
                working_grid=study.ct_working.grid.to_dict(),
                pet_units=study.pet_units,
                suv_factor=study.suv.factor,
                suv_unavailable_reason=study.suv.reason or "",
                warnings=list(study.warnings),
            )
            for kind in (CaseVolume.Kind.CT, CaseVolume.Kind.PET, CaseVolume.Kind.SPECIMEN,
                         CaseVolume.Kind.SPECIMEN_OCCUPANCY):
                name, dtype, shape, sha, size = stored[kind]
                CaseVolume.objects.create(case=case, kind=kind, file=name, dtype=dtype, shape=shape, sha256=sha, size_bytes=size)
            SourceHeaders.objects.create(case=case, ct_headers=stored["headers"])
            reidentification_store(case=case, study=study, user=user)
            specimen_surface_initial_create(case=case, mask_file=stored[CaseVolume.Kind.SPECIMEN][0],
                                            voxel_count=stored["specimen_voxels"])
            audit_record(actor=user, action="case.import", object_type="case", object_id=case.pk, case_code=code,
                         detail={"source": source, "warnings": list(study.warnings)})
        # The next tasks on this case (inference, PACS delivery) often run in this process: spare them the re-reads.
        for kind, array in stored["arrays"].items():
            remember(case=case, kind=kind, name=stored[kind][0], value=array)
        remember(case=case, kind=CT_HEADERS, name=stored["headers"], value=study.source_ct_datasets)
    except IntegrityError as exc:
        _discard_files(written)
        raise DomainError("this study was imported concurrently; try again", code="duplicate_study", http_status=409) from exc
    except BaseException:
        _discard_files(written)
        raise
    return case


def case_import(*, path: Path, source: str, user=None, split_patients: bool = False,
                on_stage: Callable[[str], None] | None = None, clock: StageClock | None = None) -> list[ImportedCase]:
    """Import every PET/CT study found under ``path`` (file, .zip or folder tree).

    All studies are read and validated before anything is stored, so a bad file anywhere stores
    nothing. Uploads hold one patient; ``split_patients`` lets a folder archive from disk hold many. Inference is requested for each new case when automatic inference is on.
    ``clock`` records the time of each step.
    """
    clock = clock or StageClock(task="case_import")
    try:
        studies = load_studies(
            path=Path(path),
            working_spacing_mm=settings.PETCTWEB_WORKING_SPACING_MM,
            deid_secret=settings.PETCTWEB_DEID_SECRET,
            case_code=lambda _patient_key: _new_case_code(),
            split_patients=split_patients,
            limits=Limits(max_voxels=settings.PETCTWEB_MAX_VOXELS),
            on_stage=on_stage,
            clock=clock,
        )
    except IngestError as exc:
        raise DomainError(str(exc), code=getattr(exc, "code", "invalid_dicom")) from exc
    except Exception as exc:
        # Malformed input that slipped past validation must still be a clear 400, never a 500. The
        # message may hold uploaded file names, so only the exception's type is logged and answered.
        logger.warning("import refused after an unexpected %s while reading the study", type(exc).__name__)
        raise DomainError(
            f"the study could not be read ({type(exc).__name__}); nothing was stored", code="unreadable_dicom"
        ) from exc
    duplicates = [s for s in studies if Case.objects.filter(study_key=s.study_uid).exists()]
    if duplicates:
        codes = ", ".join(Case.objects.filter(study_key__in=[s.study_uid for s in duplicates]).values_list("code", flat=True))
        raise DomainError(f"already imported as case(s) {codes}; nothing was stored", code="duplicate_study", http_status=409)
    imported: list[ImportedCase] = []
    created: list[Case] = []
    try:
        for study in studies:
            case = _create_case(study=study, source=source, user=user, clock=clock)
            created.append(case)
            imported.append(ImportedCase(case=case, study=study))
    except BaseException:
        # Keep "nothing stored half-way" across several studies in one import.
        for case in created:
            case_delete(case=case)
        raise
    clock.mark("case_imported_hooks")
    for item in imported:
        case_imported(case=item.case, user=user)  # e.g. inference queues the default model
    clock.close()
    return imported


def case_delete(*, case: Case) -> None:
    names = [v.file.name for v in case.volumes.all()]
    if hasattr(case, "source_headers"):
        names.append(case.source_headers.ct_headers.name)
    case.delete()
    _discard_files(names)
