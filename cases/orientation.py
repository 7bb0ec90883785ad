"""Specimen orientation: which scanner face of a case is superior, lateral, anterior ... recorded at upload
or in the viewer, directly or through a site suture convention, and versioned. Results keep the scanner
labels (+x .. -z); pages and exports rename faces at display time from the newest orientation, so old
results follow a new orientation.
"""

from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from audit.services import audit_record
from cases.models import Case, SpecimenOrientation
from petctweb.errors import DomainError

FACE_LABELS = ("+x", "-x", "+y", "-y", "+z", "-z")
# Anatomical axes as (name, opposite); superficial/deep is the site's alternative to anterior/posterior.
AXES = (("superior", "inferior"), ("lateral", "medial"), ("anterior", "posterior"))
DEPTH_NAMES = {"superficial": "anterior", "deep": "posterior"}
OPPOSITE_NAME = {a: b for a, b in AXES} | {b: a for a, b in AXES} | {"superficial": "deep", "deep": "superficial"}
ANATOMICAL_NAMES = tuple(OPPOSITE_NAME)
# Used when the site lists none (setting PETCTWEB_ORIENTATION_CONVENTIONS, same shape).
DEFAULT_CONVENTIONS = (
    {"id": "short-superior-long-lateral", "label": "Short suture = superior, long suture = lateral",
     "markers": {"short suture": "superior", "long suture": "lateral"}},
    {"id": "short-superior-long-lateral-double-anterior",
     "label": "Short = superior, long = lateral, double = anterior",
     "markers": {"short suture": "superior", "long suture": "lateral", "double suture": "anterior"}},
)


def opposite_face(face: str) -> str:
    return ("-" if face[0] == "+" else "+") + face[1]


def axis_of(name: str) -> int:
    base = DEPTH_NAMES.get(name, name)
    return next(n for n, pair in enumerate(AXES) if base in pair)


def orientation_conventions() -> list[dict]:
    return list(getattr(settings, "PETCTWEB_ORIENTATION_CONVENTIONS", None) or DEFAULT_CONVENTIONS)


def mapping_from_directions(directions: dict[str, str]) -> dict[str, str]:
    """{anatomical name: scanner face} (e.g. {"superior": "+z", "lateral": "-x"}) -> {face: name} for
    both faces of every axis given. Each anatomical axis at most once, each scanner axis at most once."""
    if not isinstance(directions, dict) or not directions:
        raise DomainError("give at least one direction, e.g. {\"superior\": \"+z\"}", code="invalid_orientation")
    mapping: dict[str, str] = {}
    axes_seen: dict[int, str] = {}
    for name, face in directions.items():
        if name not in OPPOSITE_NAME:
            raise DomainError(f"unknown anatomical direction '{name}' (use {', '.join(ANATOMICAL_NAMES)})",
                              code="invalid_orientation")
        if face not in FACE_LABELS:
            raise DomainError(f"unknown scanner face '{face}' for {name} (use {', '.join(FACE_LABELS)})",
                              code="invalid_orientation")
        axis = axis_of(name)
        if axis in axes_seen:
            raise DomainError(f"'{name}' and '{axes_seen[axis]}' name the same anatomical axis; give each axis once",
                              code="invalid_orientation")
        axes_seen[axis] = name
        for label, anatomical in ((face, name), (opposite_face(face), OPPOSITE_NAME[name])):
            if label in mapping:
                raise DomainError(f"scanner face {label} is both {mapping[label]} and {anatomical}; opposite "
                                  "anatomical directions must lie on opposite faces of one scanner axis",
                                  code="invalid_orientation")
            mapping[label] = anatomical
    return {face: mapping[face] for face in FACE_LABELS if face in mapping}


def mapping_from_markers(*, convention_id: str, markers: dict[str, str]) -> dict[str, str]:
    """Suture markers under a site convention ({"short suture": "+z", ...}) -> {face: name}."""
    convention = next((c for c in orientation_conventions() if c["id"] == convention_id), None)
    if convention is None:
        known = ", ".join(c["id"] for c in orientation_conventions())
        raise DomainError(f"unknown orientation convention '{convention_id}' (this site has: {known})",
                          code="invalid_orientation")
    if not isinstance(markers, dict) or not markers:
        raise DomainError("give the scanner face each suture points to, e.g. {\"short suture\": \"+z\"}",
                          code="invalid_orientation")
    unknown = [m for m in markers if m not in convention["markers"]]
    if unknown:
        raise DomainError(f"convention '{convention_id}' has no marker {', '.join(unknown)} "
                          f"(it has {', '.join(convention['markers'])})", code="invalid_orientation")
    return mapping_from_directions({convention["markers"][m]: face for m, face in markers.items()})


def validate_mapping(mapping: dict[str, str]) -> dict[str, str]:
    """A full {face: name} mapping checked by turning it back into directions (both faces of an axis)."""
    if not isinstance(mapping, dict) or not mapping:
        raise DomainError("mapping must map scanner faces to anatomical names", code="invalid_orientation")
    directions: dict[str, str] = {}
    for face, name in mapping.items():
        if face not in FACE_LABELS:
            raise DomainError(f"unknown scanner face '{face}' (use {', '.join(FACE_LABELS)})", code="invalid_orientation")
        if name not in OPPOSITE_NAME:
            raise DomainError(f"unknown anatomical name '{name}' for {face}", code="invalid_orientation")
        partner = mapping.get(opposite_face(face))
        if partner is not None and partner != OPPOSITE_NAME[name]:
            raise DomainError(f"{face} is {name} but {opposite_face(face)} is {partner}; opposite faces must be "
                              f"{name} / {OPPOSITE_NAME[name]}", code="invalid_orientation")
        if name in directions.values() or OPPOSITE_NAME[name] in directions:
            continue  # its partner already stands for this axis
        directions[name] = face
    result = mapping_from_directions(directions)
    if any(result.get(face) != name for face, name in mapping.items()):
        raise DomainError("each anatomical name may appear on one face only", code="invalid_orientation")
    return result


# --- selectors ------------------------------------------------------------------------------------


def orientation_latest(*, case: Case) -> SpecimenOrientation | None:
    return SpecimenOrientation.objects.filter(case=case).select_related("author").order_by("-version").first()


def orientation_versions(*, case: Case) -> list[SpecimenOrientation]:
    return list(SpecimenOrientation.objects.filter(case=case).select_related("author").order_by("-version"))


def face_names(*, case: Case) -> dict[str, str]:
    """{face: display name} for all six faces: anatomical where the newest orientation says, else the label."""
    latest = orientation_latest(case=case)
    mapping = latest.mapping if latest else {}
    return {face: mapping.get(face, face) for face in FACE_LABELS}


def face_names_for_codes(*, codes) -> dict[str, dict[str, str]]:
    """{case code: {face: anatomical name}} from each case's newest orientation (cases without one absent)."""
    latest: dict[str, dict[str, str]] = {}
    rows = SpecimenOrientation.objects.filter(case__code__in=list(codes)).order_by("case_id", "-version")
    for code, mapping in rows.values_list("case__code", "mapping"):
        latest.setdefault(code, mapping)
    return latest


# --- services -------------------------------------------------------------------------------------


def orientation_record(
    *, case: Case, author, directions: dict[str, str] | None = None, mapping: dict[str, str] | None = None,
    convention: str = "", markers: dict[str, str] | None = None,
) -> SpecimenOrientation:
    """A new orientation version from exactly one of: directions, mapping, or convention + markers."""
    given = [n for n, v in (("directions", directions), ("mapping", mapping), ("convention", convention)) if v]
    if len(given) != 1:
        raise DomainError("give exactly one of: directions, mapping, or convention with markers",
                          code="invalid_orientation")
    if directions:
        resolved = mapping_from_directions(directions)
    elif mapping:
        resolved = validate_mapping(mapping)
    else:
        resolved = mapping_from_markers(convention_id=convention, markers=markers or {})
    try:
        with transaction.atomic():
            latest = SpecimenOrientation.objects.select_for_update().filter(case=case).order_by("-version").first()
            row = SpecimenOrientation.objects.create(
                case=case, version=(latest.version + 1) if latest else 1, mapping=resolved,
                convention=convention or "", markers=(markers or {}) if convention else {}, author=author,
            )
            audit_record(actor=author, action="specimen_orientation.record", object_type="specimen_orientation",
                         object_id=row.pk, case_code=case.code,
                         detail={"version": row.version, "mapping": resolved, "convention": convention or ""})
    except IntegrityError as exc:  # two people at once: the second one retries
        raise DomainError("someone recorded an orientation at the same moment; reload and try again",
                          code="conflict", http_status=409) from exc
    return row
