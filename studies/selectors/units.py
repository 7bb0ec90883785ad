"""Reading units of lamella studies: look one up from a request, list a study's units."""

from __future__ import annotations

from django.db.models import QuerySet

from cases.models import Case
from petctweb.errors import DomainError
from studies.models import ReadingUnit, Study


def reading_unit_for(*, case: Case, unit_id) -> ReadingUnit | None:
    """The unit named in a request (``?unit=`` or a call's ``unit``), which must be a lamella of ``case``;
    None when none is named. Which units a user may read is decided by the reader context."""
    if unit_id in (None, ""):
        return None
    try:
        pk = int(unit_id)
    except (TypeError, ValueError) as exc:
        raise DomainError("unit must be a reading unit id (a whole number)", code="invalid") from exc
    unit = ReadingUnit.objects.filter(pk=pk, case=case).select_related("study").first()
    if unit is None:
        raise DomainError(f"no reading unit {pk} of case {case.code}", code="not_found", http_status=404)
    return unit


def study_units(*, study: Study) -> QuerySet[ReadingUnit]:
    return ReadingUnit.objects.filter(study=study).select_related("case").order_by("label")


def reading_unit_payload(unit: ReadingUnit) -> dict:
    return {"id": unit.pk, "label": unit.label, "case": unit.case.code, "slice_index": unit.slice_index,
            "source": unit.source}
