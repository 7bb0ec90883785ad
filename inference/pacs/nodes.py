"""Writes and reads for DICOM destinations (administrators only; the API checks the role)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from audit.services import audit_record
from inference.pacs.models import DicomNode
from petctweb.errors import DomainError

FIELDS = ("name", "ae_title", "host", "port", "enabled", "send_after_run")


def dicom_node_get(*, node_id: int) -> DicomNode:
    node = DicomNode.objects.filter(pk=node_id).first()
    if node is None:
        raise DomainError(f"no DICOM node {node_id}", code="not_found", http_status=404)
    return node


def _save(node: DicomNode) -> None:
    try:
        node.full_clean()
    except ValidationError as exc:
        problems = [f"{name}: {'; '.join(messages)}" for name, messages in exc.message_dict.items()]
        raise DomainError("; ".join(problems), code="invalid") from exc
    node.save()


def dicom_node_create(*, user, values: dict) -> DicomNode:
    node = DicomNode(**{key: values[key] for key in FIELDS if key in values})
    with transaction.atomic():
        _save(node)
        audit_record(actor=user, action="pacs.node.create", object_type="dicom_node", object_id=node.pk,
                     detail={key: getattr(node, key) for key in FIELDS})
    return node


def dicom_node_update(*, user, node: DicomNode, values: dict) -> DicomNode:
    for key in FIELDS:
        if key in values:
            setattr(node, key, values[key])
    with transaction.atomic():
        _save(node)
        audit_record(actor=user, action="pacs.node.update", object_type="dicom_node", object_id=node.pk,
                     detail={key: getattr(node, key) for key in FIELDS})
    return node


def dicom_node_delete(*, user, node: DicomNode) -> None:
    with transaction.atomic():
        audit_record(actor=user, action="pacs.node.delete", object_type="dicom_node", object_id=node.pk,
                     detail={"name": node.name})
        node.delete()
