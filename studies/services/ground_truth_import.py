"""Ground truth from a CSV file: every row is checked first, then all are stored, or none."""

from __future__ import annotations

import csv
import io

from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from cases.models import Case
from petctweb.errors import DomainError
from studies.models import FACES, GroundTruth, Study
from studies.services._checks import require_admin
from studies.services.ground_truth import gt_audit_detail, validated_truth


class RowErrors(DomainError):
    """A file with invalid rows: nothing was stored; ``errors`` names every bad row."""

    def __init__(self, message: str, *, errors: list[str]) -> None:
        super().__init__(message, code="invalid_rows", http_status=400)
        self.errors = errors


CSV_COLUMNS = ("case_code", "margin_status", "closest_distance_mm", "tumour_type", "slice_index", "notes",
               *(f"face_{f}" for f in FACES))
CSV_REQUIRED = ("case_code", "margin_status")
MAX_CSV_ROWS = 10000
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0", ""}


def ground_truth_import_csv(*, user, study: Study, text: str, source_name: str = "upload",
                            sign_off: bool = True) -> list[GroundTruth]:
    """Import ground truth for a study's cases: every row is checked first, then all are stored, or none.

    Columns: case_code, margin_status (required); closest_distance_mm, tumour_type, slice_index, notes,
    face_+x .. face_-z, signed_off (yes/no; default from ``sign_off``). A case that already has ground
    truth gets a new version (its current version must be signed off).
    """
    if user is not None and user.is_authenticated:
        require_admin(user)
    if text.startswith("\ufeff"):
        text = text[1:]
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise RowErrors("the file is empty", errors=["no header row"])
    reader.fieldnames = header
    missing = [c for c in CSV_REQUIRED if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS and c != "signed_off"]
    if missing or unknown:
        problems = ([f"missing column(s): {', '.join(missing)}"] if missing else []) + (
            [f"unknown column(s): {', '.join(unknown)}"] if unknown else [])
        raise RowErrors("the header row is not valid; nothing was imported", errors=problems)
    study_cases = {c.code: c for c in Case.objects.filter(study_links__study=study)}
    errors: list[str] = []
    planned: list[tuple[Case, dict, bool, str]] = []
    seen: dict[str, int] = {}
    rows = list(reader)
    if len(rows) > MAX_CSV_ROWS:
        raise RowErrors(f"too many rows ({len(rows)}; at most {MAX_CSV_ROWS})", errors=["too many rows"])
    if not rows:
        raise RowErrors("the file has no data rows; nothing was imported", errors=["no data rows"])
    for line, row in enumerate(rows, start=2):
        if None in row:
            errors.append(f"row {line}: more values than columns")
            continue
        row = {k: (v or "").strip() for k, v in row.items()}
        code = row.get("case_code", "")
        if not code:
            errors.append(f"row {line}: case_code is empty")
            continue
        if code in seen:
            errors.append(f"row {line}: case {code} already appears in row {seen[code]}")
            continue
        seen[code] = line
        case = study_cases.get(code)
        if case is None:
            errors.append(f"row {line}: case {code} is not in study '{study.name}'")
            continue
        signed = row.get("signed_off", "").lower()
        if signed not in _YES | _NO:
            errors.append(f"row {line}: signed_off must be yes or no, not '{row['signed_off']}'")
            continue
        try:
            values = validated_truth(
                case=case, margin_status=row.get("margin_status", "").lower(),
                closest_distance_mm=row.get("closest_distance_mm"),
                face_status={f: row.get(f"face_{f}", "").lower() for f in FACES},
                tumour_type=row.get("tumour_type", ""), segmentation_id=None, slice_index=row.get("slice_index"))
        except DomainError as exc:
            errors.append(f"row {line} ({code}): {exc.message}")
            continue
        current = GroundTruth.objects.filter(case=case).order_by("-version").first()
        if current is not None and not current.signed_off:
            errors.append(f"row {line} ({code}): version {current.version} is not signed off yet; sign it off "
                          "before importing a new version")
            continue
        signs = (signed in _YES) if signed else sign_off
        planned.append((case, values, signs, row.get("notes", "")))
    if errors:
        raise RowErrors(f"{len(errors)} row(s) are not valid; nothing was imported", errors=errors)
    created: list[GroundTruth] = []
    actor = user if user is not None and user.is_authenticated else None
    with transaction.atomic():
        now = timezone.now()
        for case, values, signs, notes in planned:
            current = GroundTruth.objects.select_for_update().filter(case=case).order_by("-version").first()
            if current is not None and not current.signed_off:
                raise DomainError(f"case {case.code} changed during the import; nothing was imported",
                                  code="conflict", http_status=409)
            gt = GroundTruth.objects.create(
                case=case, version=(current.version + 1) if current else 1, supersedes=current, notes=notes,
                correction_reason=f"imported from {source_name}" if current else "", source=GroundTruth.Source.CSV,
                created_by=actor, signed_off_by=actor if signs else None, signed_off_at=now if signs else None,
                **values)
            created.append(gt)
            audit_record(actor=actor, action="ground_truth.import", object_type="ground_truth", object_id=gt.pk,
                         case_code=case.code, detail={**gt_audit_detail(gt=gt), "study_id": study.pk, "file": source_name,
                                                      "signed_off": signs})
        audit_record(actor=actor, action="study.import_ground_truth", object_type="study", object_id=study.pk,
                     detail={"study_id": study.pk, "file": source_name, "rows": len(created)})
    return created
