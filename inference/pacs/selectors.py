"""Reads for results-to-PACS: destinations and the deliveries of a case."""

from __future__ import annotations

from django.db.models import QuerySet

from cases.models import Case
from inference.pacs.models import DicomNode, ResultDelivery


def dicom_nodes() -> QuerySet[DicomNode]:
    return DicomNode.objects.all()


def case_deliveries(*, case: Case) -> QuerySet[ResultDelivery]:
    return ResultDelivery.objects.filter(run__case=case).select_related("node", "run__model_version")


def node_payload(node: DicomNode) -> dict:
    return {"id": node.pk, "name": node.name, "ae_title": node.ae_title, "host": node.host, "port": node.port,
            "enabled": node.enabled, "send_after_run": node.send_after_run}


def delivery_payload(delivery: ResultDelivery) -> dict:
    return {"id": delivery.pk, "run_id": delivery.run_id, "node": {"id": delivery.node_id, "name": delivery.node.name},
            "model": delivery.run.model_version.label, "status": delivery.status, "attempts": delivery.attempts,
            "last_error": delivery.last_error, "reidentified": delivery.reidentified,
            "sent_at": delivery.sent_at.isoformat() if delivery.sent_at else None,
            "updated_at": delivery.updated_at.isoformat()}
