"""The ground-truth page's pathology-section rows: slice index + status, for lamella studies.

Each row posts ``section_slice``, ``section_status`` and ``section_unit`` ("1" on rows offered
because a lamella study reads that slice: those may stay without a status). Rows become the
``section_status`` mapping the ground-truth services validate (range, statuses), so the page and
the API refuse the same things; only what a mapping cannot express (a slice listed twice, half a
row) is checked here.
"""

from __future__ import annotations

from cases.models import Case
from petctweb.errors import DomainError
from studies.models import MARGIN_STATUSES, ReadingUnit

BLANK_ROWS = 2  # free rows without script; frontend/section_rows.mjs adds more


def section_status_from_rows(post) -> dict[str, str]:
    """{"<k>": status} from the posted rows; DomainError naming the row when one is half filled."""
    slices, statuses = post.getlist("section_slice"), post.getlist("section_status")
    units = post.getlist("section_unit")
    if len(slices) != len(statuses):
        raise DomainError("the section rows were garbled; reload the page and enter them again", code="invalid")
    sections: dict[str, str] = {}
    for n, (raw_slice, status) in enumerate(zip(slices, statuses, strict=True), start=1):
        raw_slice, status = raw_slice.strip(), status.strip()
        unit = units[n - 1].strip() if n - 1 < len(units) else ""
        if not raw_slice and not status:
            continue
        if not raw_slice:
            raise DomainError(f"section row {n}: give the slice index of the {status} section", code="invalid")
        try:
            k = int(raw_slice)
        except ValueError as exc:
            raise DomainError(f"section row {n}: the slice index '{raw_slice}' must be a whole number",
                              code="invalid") from exc
        if not status:
            if unit:  # a lamella offered for convenience: no separate status recorded for it
                continue
            raise DomainError(f"section row {n}: choose positive, close or negative for slice {k}", code="invalid")
        if status not in MARGIN_STATUSES:
            raise DomainError(f"section row {n}: status must be positive, close or negative", code="invalid")
        if str(k) in sections:
            raise DomainError(f"section slice {k} is listed twice; give each section one status", code="duplicate")
        sections[str(k)] = status
    return sections


def section_rows(*, case: Case, section_status: dict | None, post=None) -> list[dict]:
    """Rows to show: each lamella read in a study (labelled) and every recorded section, by slice, then
    blank rows; after a refused post, the rows as typed, so nothing has to be entered again."""
    units: dict[int, list[str]] = {}
    for k, label, study in (ReadingUnit.objects.filter(case=case).order_by("slice_index", "label")
                            .values_list("slice_index", "label", "study__name")):
        units.setdefault(k, []).append(f"{label} ({study})")
    if post is not None:
        typed = zip(post.getlist("section_slice"), post.getlist("section_status"), strict=False)
        rows = [{"slice": k.strip(), "status": s, "unit": _unit_text(units, k)} for k, s in typed if k.strip() or s]
    else:
        recorded = {int(k): v for k, v in (section_status or {}).items()}
        rows = [{"slice": str(k), "status": recorded.get(k, ""), "unit": "; ".join(units.get(k, []))}
                for k in sorted(set(units) | set(recorded))]
    return rows + [{"slice": "", "status": "", "unit": ""} for _ in range(BLANK_ROWS)]


def _unit_text(units: dict[int, list[str]], raw_slice: str) -> str:
    try:
        return "; ".join(units.get(int(raw_slice), []))
    except ValueError:
        return ""
