"""The case page's "Sent to PACS" section: deliveries of the case's results, for study administrators only."""

from __future__ import annotations

from django import template

from cases.models import Case
from inference.pacs.selectors import case_deliveries, delivery_payload, dicom_nodes
from petctweb.roles import is_study_admin

register = template.Library()


@register.inclusion_tag("portal/pacs_deliveries.html", takes_context=True)
def pacs_deliveries(context, case_code: str) -> dict:
    request = context.get("request")
    if request is None or not is_study_admin(request.user):
        return {"show": False}
    case = Case.objects.filter(code=case_code).first()
    if case is None:
        return {"show": False}
    return {"show": True, "case_code": case_code,
            "deliveries": [delivery_payload(d) for d in case_deliveries(case=case)],
            "nodes": [{"id": n.pk, "name": n.name} for n in dicom_nodes().filter(enabled=True)]}
