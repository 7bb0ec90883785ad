"""Versioned specimen surfaces of a case: the automatic one found at ingest (version 1) and people's
corrections (new versions, never edits). Reads and writes of ``SpecimenSurface`` live here."""

from __future__ import annotations

import numpy as np
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from audit.services import audit_record
from cases.models import Case, CaseVolume, SpecimenSurface
from cases.volume_store import load_array, store_array
from petctweb.errors import DomainError


def specimen_surface_initial_create(*, case: Case, mask_file: str, voxel_count: int) -> SpecimenSurface:
    """Version 1, the automatic surface: it shares the stored ``specimen`` volume's file."""
    return SpecimenSurface.objects.create(
        case=case, version=1, source=SpecimenSurface.Source.AUTO, mask_file=mask_file, voxel_count=voxel_count
    )


def _backfill_initial(case: Case) -> SpecimenSurface | None:
    # Cases imported before surfaces were versioned have only the "specimen" volume.
    volume = case.volumes.filter(kind=CaseVolume.Kind.SPECIMEN).first()
    if volume is None:
        return None
    mask = load_array(name=volume.file.name, dtype=volume.dtype, shape=volume.shape)
    try:
        with transaction.atomic():
            return specimen_surface_initial_create(case=case, mask_file=volume.file.name,
                                                   voxel_count=int(np.count_nonzero(mask)))
    except IntegrityError:  # another request backfilled it first
        return SpecimenSurface.objects.filter(case=case, version=1).first()


def specimen_surfaces(*, case: Case) -> list[SpecimenSurface]:
    """Every version, newest first; version 1 is created from the ingest's mask when missing."""
    surfaces = list(SpecimenSurface.objects.filter(case=case).select_related("author").order_by("-version"))
    if not surfaces:
        initial = _backfill_initial(case)
        surfaces = [initial] if initial is not None else []
    return surfaces


def specimen_surface_latest(*, case: Case) -> SpecimenSurface | None:
    found = specimen_surfaces(case=case)
    return found[0] if found else None


def specimen_surface_get(*, case: Case, surface_id: int) -> SpecimenSurface:
    specimen_surfaces(case=case)  # backfill version 1 if needed
    surface = SpecimenSurface.objects.filter(case=case, pk=surface_id).first()
    if surface is None:
        raise DomainError(f"case {case.code} has no specimen surface {surface_id}", code="not_found",
                          http_status=404)
    return surface


def specimen_surface_mask(*, surface: SpecimenSurface) -> np.ndarray:
    return load_array(name=surface.mask_file.name, dtype="uint8", shape=surface.case.grid.shape)


def specimen_surface_correct(*, case: Case, parent: SpecimenSurface, mask: np.ndarray, author) -> SpecimenSurface:
    """Store a corrected surface as the next version. Call inside a transaction; if it rolls back,
    delete ``mask_file`` of the returned row (the file is written before the row).

    ``parent`` must be the newest version: a correction of an older one would silently undo someone
    else's ("stale_parent").
    """
    if parent.case_id != case.pk:
        raise DomainError(f"specimen surface {parent.pk} belongs to another case", code="invalid_parent")
    latest = SpecimenSurface.objects.select_for_update().filter(case=case).order_by("-version").first()
    if latest is None or latest.pk != parent.pk:
        raise DomainError(
            f"specimen surface version {parent.version} is not the newest (version "
            f"{latest.version if latest else '?'}); reload and correct the newest one", code="stale_parent",
        )
    mask = np.asarray(mask, dtype=np.uint8)
    if tuple(mask.shape) != tuple(case.grid.shape):
        raise DomainError(f"mask shape {list(mask.shape)} does not match the case grid {list(case.grid.shape)}",
                          code="invalid_mask")
    voxels = int(np.count_nonzero(mask))
    if voxels == 0:
        raise DomainError("the corrected specimen surface is empty", code="invalid_mask")
    version = parent.version + 1
    name, _, _ = store_array(array=mask, name=f"specimen/{case.code}/v{version}.raw.gz")
    try:
        surface = SpecimenSurface.objects.create(
            case=case, version=version, parent=parent, source=SpecimenSurface.Source.MANUAL, author=author,
            mask_file=name, voxel_count=voxels,
        )
    except IntegrityError as exc:
        default_storage.delete(name)
        raise DomainError("another correction was saved at the same time; reload", code="stale_parent") from exc
    audit_record(actor=author, action="specimen_surface.correct", object_type="specimen_surface",
                 object_id=surface.pk, case_code=case.code,
                 detail={"version": version, "parent": parent.pk, "voxels": voxels})
    return surface
