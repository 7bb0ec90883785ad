"""Writes and reads for people's masks: versioned segmentations and one autosaved draft per author."""

from __future__ import annotations

import numpy as np
from django.core.files.storage import default_storage
from django.db import transaction

from audit.services import audit_record
from cases.models import Case
from cases.volume_store import store_array
from inference.maskcodec import ENCODING, MaskPayloadError, decode_rle
from inference.models import Segmentation
from petctweb.errors import DomainError


def _decode(*, case: Case, shape, encoding: str, data: str) -> np.ndarray:
    if encoding != ENCODING:
        raise DomainError(f"unknown mask encoding '{encoding}'; use {ENCODING}", code="bad_mask")
    expected = list(case.grid.shape)
    if [int(s) for s in shape] != expected:
        raise DomainError(f"mask shape {list(shape)} does not match the case grid {expected}", code="bad_mask")
    try:
        return decode_rle(data=data, shape=tuple(expected))
    except MaskPayloadError as exc:
        raise DomainError(f"corrupt mask payload: {exc}", code="bad_mask") from exc


def segmentation_save(
    *, case: Case, author, source: str, shape, encoding: str, data: str, parent_id: int | None = None
) -> Segmentation:
    """Store a new version of the author's mask (nothing is overwritten); clears their draft."""
    mask = _decode(case=case, shape=shape, encoding=encoding, data=data)
    parent = None
    if parent_id is not None:
        parent = Segmentation.objects.filter(pk=parent_id, case=case, is_draft=False).first()
        if parent is None:
            raise DomainError(f"parent segmentation {parent_id} does not belong to this case", code="bad_parent")
        if parent.source != Segmentation.Source.MODEL and parent.author_id != author.pk:
            raise DomainError("you can only build on your own or the model's segmentation", code="bad_parent",
                              http_status=403)
    mine = Segmentation.objects.filter(case=case, author=author, source=source, is_draft=False)
    version = (mine.order_by("-version").values_list("version", flat=True).first() or 0) + 1
    name, _, _ = store_array(array=mask, name=f"masks/{case.code}/{source}-{author.pk}-v{version}.raw.gz")
    with transaction.atomic():
        segmentation = Segmentation.objects.create(
            case=case, source=source, author=author, parent=parent, version=version, mask_file=name,
            voxel_count=int(mask.sum()),
        )
        Segmentation.objects.filter(case=case, author=author, source=source, is_draft=True).delete()
        audit_record(actor=author, action="segmentation.save", object_type="segmentation", object_id=segmentation.pk,
                     case_code=case.code, detail={"version": version, "source": source, "voxels": int(mask.sum())})
    return segmentation


def draft_save(*, case: Case, author, source: str, shape, encoding: str, data: str) -> Segmentation:
    """Autosave: one draft per author, case and source, replaced each time (drafts are not records)."""
    mask = _decode(case=case, shape=shape, encoding=encoding, data=data)
    name, _, _ = store_array(array=mask, name=f"masks/{case.code}/draft-{source}-{author.pk}.raw.gz")
    with transaction.atomic():
        old = list(Segmentation.objects.filter(case=case, author=author, source=source, is_draft=True))
        draft = Segmentation.objects.create(
            case=case, source=source, author=author, is_draft=True, version=0, mask_file=name,
            voxel_count=int(mask.sum()),
        )
        stale = [item.mask_file.name for item in old if item.mask_file.name != name]
        for item in old:
            item.delete()
        transaction.on_commit(lambda: [default_storage.delete(n) for n in stale])
    return draft


def draft_get(*, case: Case, author, source: str) -> Segmentation | None:
    return Segmentation.objects.filter(case=case, author=author, source=source, is_draft=True).first()

