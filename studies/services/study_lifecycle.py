"""Study lifecycle: create a study (cases, readers, seeded sessions), add cases or readers, close it."""

from __future__ import annotations

import math
import random
import secrets
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from cases.models import Case
from petctweb.errors import DomainError
from petctweb.roles import PATHOLOGIST, READER, is_study_admin, user_roles
from studies.models import (
    MARGIN_STATUSES,
    Assignment,
    Read,
    ReadingSession,
    ReadingUnit,
    Study,
    StudyCase,
    StudyReader,
)
from studies.services._checks import require_admin, require_open
from studies.services.reading_units import create_units, plan_units

MAX_THRESHOLD_MM = 20.0
MAX_WASHOUT_DAYS = 365
DEFAULT_CROSSOVER_WASHOUT_DAYS = 28


def _unique(values: Iterable[str], what: str) -> list[str]:
    seen: list[str] = []
    for value in values:
        value = str(value).strip()
        if not value:
            continue
        if value in seen:
            raise DomainError(f"{what} {value} is listed twice", code="duplicate", http_status=400)
        seen.append(value)
    return seen


def _cases_by_code(codes: list[str]) -> list[Case]:
    found = {c.code: c for c in Case.objects.filter(code__in=codes)}
    missing = [code for code in codes if code not in found]
    if missing:
        raise DomainError(f"no such case(s): {', '.join(missing)}", code="unknown_case", http_status=400)
    return [found[code] for code in codes]


def _readers_by_username(usernames: list[str]) -> list:
    User = get_user_model()
    found = {u.get_username(): u for u in User.objects.filter(username__in=usernames, is_active=True)}
    missing = [name for name in usernames if name not in found]
    if missing:
        raise DomainError(f"no such active user(s): {', '.join(missing)}", code="unknown_user", http_status=400)
    readers = [found[name] for name in usernames]
    for user in readers:
        roles = user_roles(user)
        if READER not in roles:
            raise DomainError(f"{user.get_username()} does not have the reader role", code="not_a_reader",
                              http_status=400)
        if is_study_admin(user) or PATHOLOGIST in roles:
            raise DomainError(
                f"{user.get_username()} is also a study administrator or pathologist and could see ground truth "
                "or other readers' calls; study readers must be readers only", code="not_blindable", http_status=400)
    return readers


def _check_no_overlap(*, study: Study | None, cases: list[Case], readers: list) -> None:
    """A reader reads a case in at most one open study, so the reading context is never ambiguous."""
    clash = (
        StudyCase.objects.filter(case__in=cases, study__status=Study.Status.OPEN,
                                 study__study_readers__reader__in=readers)
        .exclude(study=study)
        .select_related("case", "study")
        .first()
    )
    if clash is not None:
        reader = clash.study.study_readers.filter(reader__in=readers).select_related("reader").first()
        raise DomainError(
            f"case {clash.case.code} is already assigned to {reader.reader.get_username()} in the open study "
            f"'{clash.study.name}'; close that study first or choose other cases or readers",
            code="already_assigned", http_status=409)


def _check_not_read_freely(*, cases: list[Case], readers: list) -> None:
    """A reader who already called a case outside any study (model visible) would not read it blind."""
    prior = (Read.objects.filter(case__in=cases, reader__in=readers, study__isnull=True)
             .select_related("case", "reader").first())
    if prior is not None:
        raise DomainError(
            f"{prior.reader.get_username()} already read case {prior.case.code} outside a study, with the model's "
            "output visible; choose other cases or readers", code="already_read", http_status=409)


def _shuffled(codes: list[str], *, seed: int, reader, number: int, batch: str = "") -> list[str]:
    ordered = sorted(codes)
    rng = random.Random(f"{seed}|{reader.get_username()}|{number}|{batch}")  # reproducible per reader and session
    rng.shuffle(ordered)
    return ordered


def _session_plan(study: Study) -> list[bool]:
    """The aided flag of each session, in order."""
    if study.design == Study.Design.CROSSOVER:
        return [False, True]
    return [study.design == Study.Design.AIDED]


def _items(*, study: Study, cases: list[Case]) -> dict[str, tuple[Case, ReadingUnit | None]]:
    """What readers call, by order key: the cases, or in a lamella study their units (by label)."""
    if study.reads_lamellae:
        return {u.label: (u.case, u) for u in ReadingUnit.objects.filter(study=study, case__in=cases)
                .select_related("case")}
    return {c.code: (c, None) for c in cases}


def _assign(*, session: ReadingSession, items: dict, order: list[str], start: int) -> None:
    Assignment.objects.bulk_create([Assignment(session=session, case=items[key][0], unit=items[key][1],
                                               position=start + i) for i, key in enumerate(order)])


def _create_sessions(*, study: Study, reader, cases: list[Case], now: datetime) -> None:
    items = _items(study=study, cases=cases)
    for number, aided in enumerate(_session_plan(study), start=1):
        session = ReadingSession.objects.create(study=study, reader=reader, number=number, aided=aided,
                                                opens_at=now if number == 1 else None)
        order = _shuffled(list(items), seed=study.seed, reader=reader, number=number)
        _assign(session=session, items=items, order=order, start=0)


def _append_cases(*, study: Study, cases: list[Case]) -> None:
    items = _items(study=study, cases=cases)
    for session in study.sessions.select_related("reader"):
        start = session.assignments.count()
        order = _shuffled(list(items), seed=study.seed, reader=session.reader, number=session.number,
                          batch=str(start))
        _assign(session=session, items=items, order=order, start=start)


def study_create(
    *, user, name: str, design: str, case_codes: list[str], reader_usernames: list[str],
    margin_threshold_mm: float | None = None, positive_categories: list[str] | None = None,
    washout_days: int | None = None, seed: int | None = None, description: str = "", allow_amendments: bool = True,
    enforce_order: bool = True, indeterminate_counts_as: str | None = None, reading_unit: str | None = None,
    allow_context: bool = False, units: list[dict] | None = None,
) -> Study:
    """Create a study with its readers' seeded sessions. ``reading_unit`` "lamella": readers call slices
    (``units`` [{case, slice_index, label?}], else each case's ground-truth slice index)."""
    require_admin(user)
    name = (name or "").strip()
    if not name:
        raise DomainError("a study needs a name", code="invalid")
    if Study.objects.filter(name=name).exists():
        raise DomainError(f"a study named '{name}' already exists", code="duplicate_name", http_status=409)
    if design not in Study.Design.values:
        raise DomainError(f"unknown design '{design}' (unaided, aided or crossover)", code="invalid")
    threshold = settings.PETCTWEB_MARGIN_THRESHOLD_MM if margin_threshold_mm is None else float(margin_threshold_mm)
    if not (math.isfinite(threshold) and 0.0 <= threshold <= MAX_THRESHOLD_MM):
        raise DomainError(f"margin threshold must be between 0 and {MAX_THRESHOLD_MM:g} mm", code="invalid")
    categories = list(positive_categories) if positive_categories is not None else ["positive", "close"]
    if not categories or any(c not in MARGIN_STATUSES for c in categories) or len(set(categories)) != len(categories):
        raise DomainError("positive categories must be distinct values of positive, close, negative", code="invalid")
    if "positive" not in categories or "negative" in categories:
        raise DomainError("'positive' must count as positive and 'negative' cannot", code="invalid")
    indeterminate = indeterminate_counts_as or Study.IndeterminateCountsAs.POSITIVE
    if indeterminate not in Study.IndeterminateCountsAs.values:
        raise DomainError(f"the model's indeterminate call counts as one of positive, negative, excluded, not "
                          f"'{indeterminate}'", code="invalid")
    if washout_days is None:
        washout_days = DEFAULT_CROSSOVER_WASHOUT_DAYS if design == Study.Design.CROSSOVER else 0
    if not (0 <= int(washout_days) <= MAX_WASHOUT_DAYS):
        raise DomainError(f"washout must be between 0 and {MAX_WASHOUT_DAYS} days", code="invalid")
    codes = _unique(case_codes, "case")
    usernames = _unique(reader_usernames, "reader")
    if not codes:
        raise DomainError("choose at least one case", code="invalid")
    if not usernames:
        raise DomainError("choose at least one reader", code="invalid")
    unit_kind = reading_unit or Study.ReadingUnit.SPECIMEN
    if unit_kind not in Study.ReadingUnit.values:
        raise DomainError(f"reading unit must be specimen or lamella, not '{unit_kind}'", code="invalid")
    cases = _cases_by_code(codes)
    readers = _readers_by_username(usernames)
    unit_plans = plan_units(study_unit=unit_kind, cases=cases, units=units)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    with transaction.atomic():
        _check_no_overlap(study=None, cases=cases, readers=readers)
        _check_not_read_freely(cases=cases, readers=readers)
        study = Study.objects.create(
            name=name, description=description or "", design=design, margin_threshold_mm=threshold,
            positive_categories=[c for c in MARGIN_STATUSES if c in categories], washout_days=int(washout_days),
            seed=seed, allow_amendments=allow_amendments, enforce_order=enforce_order, created_by=user,
            indeterminate_counts_as=indeterminate, reading_unit=unit_kind,
            allow_context=bool(allow_context) and unit_kind == Study.ReadingUnit.LAMELLA,
        )
        StudyCase.objects.bulk_create([StudyCase(study=study, case=case) for case in cases])
        create_units(study=study, plans=unit_plans)
        now = timezone.now()
        for reader in readers:
            StudyReader.objects.create(study=study, reader=reader)
            _create_sessions(study=study, reader=reader, cases=cases, now=now)
        audit_record(actor=user, action="study.create", object_type="study", object_id=study.pk,
                     detail={"study_id": study.pk, "name": name, "design": design, "cases": codes,
                             "readers": usernames, "margin_threshold_mm": threshold,
                             "positive_categories": study.positive_categories, "washout_days": study.washout_days,
                             "seed": seed, "allow_amendments": allow_amendments, "enforce_order": enforce_order,
                             "reading_unit": unit_kind, "allow_context": study.allow_context,
                             "units": [{"case": p.case.code, "slice_index": p.slice_index, "label": p.label,
                                        "source": p.source} for p in unit_plans]})
    return study


def study_add_cases(*, study: Study, user, case_codes: list[str], units: list[dict] | None = None) -> list[Case]:
    """Add cases before reading starts (lamella studies: with their units, as in :func:`study_create`)."""
    require_admin(user)
    require_open(study)
    codes = _unique(case_codes, "case")
    if not codes:
        raise DomainError("choose at least one case to add", code="invalid")
    cases = _cases_by_code(codes)
    already = list(StudyCase.objects.filter(study=study, case__in=cases).values_list("case__code", flat=True))
    if already:
        raise DomainError(f"case(s) {', '.join(sorted(already))} are already in study '{study.name}'",
                          code="already_assigned", http_status=409)
    started = Read.objects.filter(study=study).count()
    if started:
        raise DomainError(f"reading has started ({started} call(s)); cases cannot be added to study "
                          f"'{study.name}' any more, so every reader reads the same set; create a new study",
                          code="reading_started", http_status=409)
    unit_plans = plan_units(study_unit=study.reading_unit, cases=cases, units=units)
    taken = set(ReadingUnit.objects.filter(study=study, label__in=[p.label for p in unit_plans])
                .values_list("label", flat=True))
    if taken:
        raise DomainError(f"unit label(s) {', '.join(sorted(taken))} are already used in this study", code="duplicate")
    with transaction.atomic():
        readers = [m.reader for m in study.study_readers.select_related("reader")]
        _check_no_overlap(study=study, cases=cases, readers=readers)
        _check_not_read_freely(cases=cases, readers=readers)
        try:
            StudyCase.objects.bulk_create([StudyCase(study=study, case=case) for case in cases])
        except IntegrityError as exc:
            raise DomainError("these cases were added concurrently; reload", code="already_assigned",
                              http_status=409) from exc
        create_units(study=study, plans=unit_plans)
        _append_cases(study=study, cases=cases)
        audit_record(actor=user, action="study.add_cases", object_type="study", object_id=study.pk,
                     detail={"study_id": study.pk, "cases": codes})
    return cases


def study_add_readers(*, study: Study, user, usernames: list[str]) -> list:
    require_admin(user)
    require_open(study)
    names = _unique(usernames, "reader")
    if not names:
        raise DomainError("choose at least one reader to add", code="invalid")
    readers = _readers_by_username(names)
    already = list(StudyReader.objects.filter(study=study, reader__in=readers)
                   .values_list("reader__username", flat=True))
    if already:
        raise DomainError(f"{', '.join(sorted(already))} already read(s) in study '{study.name}'",
                          code="already_assigned", http_status=409)
    cases = [link.case for link in study.study_cases.select_related("case")]
    with transaction.atomic():
        _check_no_overlap(study=study, cases=cases, readers=readers)
        _check_not_read_freely(cases=cases, readers=readers)
        now = timezone.now()
        for reader in readers:
            try:
                with transaction.atomic():
                    StudyReader.objects.create(study=study, reader=reader)
            except IntegrityError as exc:
                raise DomainError(f"{reader.get_username()} was added concurrently; reload",
                                  code="already_assigned", http_status=409) from exc
            _create_sessions(study=study, reader=reader, cases=cases, now=now)
        audit_record(actor=user, action="study.add_readers", object_type="study", object_id=study.pk,
                     detail={"study_id": study.pk, "readers": names})
    return readers


def study_close(*, study: Study, user) -> Study:
    require_admin(user)
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        require_open(locked)
        list(ReadingSession.objects.select_for_update().filter(study=locked).values_list("pk", flat=True))
        locked.status = Study.Status.CLOSED
        locked.closed_at = timezone.now()
        locked.closed_by = user
        locked.save(update_fields=["status", "closed_at", "closed_by"])
        audit_record(actor=user, action="study.close", object_type="study", object_id=locked.pk,
                     detail={"study_id": locked.pk, "reads": Read.objects.filter(study=locked).count()})
    return locked
