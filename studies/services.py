"""Writes for reader studies, margin calls and ground truth. Every write is audited."""

from __future__ import annotations

import csv
import io
import math
import random
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from cases.models import Case
from inference.models import Segmentation
from petctweb.errors import DomainError
from petctweb.roles import PATHOLOGIST, READER, is_study_admin, user_roles
from studies.models import (
    FACES,
    MARGIN_STATUSES,
    Assignment,
    GroundTruth,
    Read,
    ReadingSession,
    Study,
    StudyCase,
    StudyReader,
)
from studies.selectors import ReaderContext, reader_context

MAX_THRESHOLD_MM = 20.0
MAX_WASHOUT_DAYS = 365
DEFAULT_CROSSOVER_WASHOUT_DAYS = 28


class ReadExists(DomainError):
    """A call already exists in this context; carries its id so the viewer can switch to amending."""

    def __init__(self, message: str, *, read_id: int) -> None:
        super().__init__(message, code="already_submitted", http_status=409)
        self.read_id = read_id


class RowErrors(DomainError):
    """A file with invalid rows: nothing was stored; ``errors`` names every bad row."""

    def __init__(self, message: str, *, errors: list[str]) -> None:
        super().__init__(message, code="invalid_rows", http_status=400)
        self.errors = errors


def _require_admin(user) -> None:
    if not is_study_admin(user):
        raise DomainError("only study administrators may do this", code="forbidden", http_status=403)


def _require_pathologist(user) -> None:
    if not (user.is_authenticated and PATHOLOGIST in user_roles(user)):
        raise DomainError("only pathologists may record ground truth", code="forbidden", http_status=403)


def _require_open(study: Study) -> None:
    if not study.is_open:
        raise DomainError(f"study '{study.name}' is closed; nothing can be changed or submitted",
                          code="study_closed", http_status=409)


# --- studies ---------------------------------------------------------------------------------


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


def _create_sessions(*, study: Study, reader, cases: list[Case], now: datetime) -> None:
    by_code = {c.code: c for c in cases}
    for number, aided in enumerate(_session_plan(study), start=1):
        session = ReadingSession.objects.create(study=study, reader=reader, number=number, aided=aided,
                                                opens_at=now if number == 1 else None)
        order = _shuffled(list(by_code), seed=study.seed, reader=reader, number=number)
        Assignment.objects.bulk_create(
            [Assignment(session=session, case=by_code[code], position=i) for i, code in enumerate(order)]
        )


def _append_cases(*, study: Study, cases: list[Case]) -> None:
    for session in study.sessions.select_related("reader"):
        start = session.assignments.count()
        order = _shuffled([c.code for c in cases], seed=study.seed, reader=session.reader, number=session.number,
                          batch=str(start))
        by_code = {c.code: c for c in cases}
        Assignment.objects.bulk_create(
            [Assignment(session=session, case=by_code[code], position=start + i) for i, code in enumerate(order)]
        )


def study_create(
    *, user, name: str, design: str, case_codes: list[str], reader_usernames: list[str],
    margin_threshold_mm: float | None = None, positive_categories: list[str] | None = None,
    washout_days: int | None = None, seed: int | None = None, description: str = "", allow_amendments: bool = True,
    enforce_order: bool = True,
) -> Study:
    _require_admin(user)
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
    cases = _cases_by_code(codes)
    readers = _readers_by_username(usernames)
    seed = secrets.randbelow(2**31) if seed is None else int(seed)
    with transaction.atomic():
        _check_no_overlap(study=None, cases=cases, readers=readers)
        _check_not_read_freely(cases=cases, readers=readers)
        study = Study.objects.create(
            name=name, description=description or "", design=design, margin_threshold_mm=threshold,
            positive_categories=[c for c in MARGIN_STATUSES if c in categories], washout_days=int(washout_days),
            seed=seed, allow_amendments=allow_amendments, enforce_order=enforce_order, created_by=user,
        )
        StudyCase.objects.bulk_create([StudyCase(study=study, case=case) for case in cases])
        now = timezone.now()
        for reader in readers:
            StudyReader.objects.create(study=study, reader=reader)
            _create_sessions(study=study, reader=reader, cases=cases, now=now)
        audit_record(actor=user, action="study.create", object_type="study", object_id=study.pk,
                     detail={"study_id": study.pk, "name": name, "design": design, "cases": codes,
                             "readers": usernames, "margin_threshold_mm": threshold,
                             "positive_categories": study.positive_categories, "washout_days": study.washout_days,
                             "seed": seed, "allow_amendments": allow_amendments, "enforce_order": enforce_order})
    return study


def study_add_cases(*, study: Study, user, case_codes: list[str]) -> list[Case]:
    _require_admin(user)
    _require_open(study)
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
    with transaction.atomic():
        readers = [m.reader for m in study.study_readers.select_related("reader")]
        _check_no_overlap(study=study, cases=cases, readers=readers)
        _check_not_read_freely(cases=cases, readers=readers)
        try:
            StudyCase.objects.bulk_create([StudyCase(study=study, case=case) for case in cases])
        except IntegrityError as exc:
            raise DomainError("these cases were added concurrently; reload", code="already_assigned",
                              http_status=409) from exc
        _append_cases(study=study, cases=cases)
        audit_record(actor=user, action="study.add_cases", object_type="study", object_id=study.pk,
                     detail={"study_id": study.pk, "cases": codes})
    return cases


def study_add_readers(*, study: Study, user, usernames: list[str]) -> list:
    _require_admin(user)
    _require_open(study)
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
    _require_admin(user)
    with transaction.atomic():
        locked = Study.objects.select_for_update().get(pk=study.pk)
        _require_open(locked)
        list(ReadingSession.objects.select_for_update().filter(study=locked).values_list("pk", flat=True))
        locked.status = Study.Status.CLOSED
        locked.closed_at = timezone.now()
        locked.closed_by = user
        locked.save(update_fields=["status", "closed_at", "closed_by"])
        audit_record(actor=user, action="study.close", object_type="study", object_id=locked.pk,
                     detail={"study_id": locked.pk, "reads": Read.objects.filter(study=locked).count()})
    return locked


def reading_session_schedule(*, session: ReadingSession, user, opens_at: datetime) -> ReadingSession:
    """Set when a session opens (e.g. end a washout early, or postpone). Per-case order still holds."""
    _require_admin(user)
    _require_open(session.study)
    if timezone.is_naive(opens_at):
        raise DomainError("give the opening time with a time zone", code="invalid")
    previous = session.opens_at
    session.opens_at = opens_at
    session.save(update_fields=["opens_at"])
    audit_record(actor=user, action="session.schedule", object_type="reading_session", object_id=session.pk,
                 detail={"study_id": session.study_id, "reader": session.reader.get_username(),
                         "session": session.number, "opens_at": opens_at.isoformat(),
                         "previous": previous.isoformat() if previous else None})
    return session


def assignment_open(*, user, case: Case) -> ReaderContext:
    """The reader opens a case from the worklist: remember when, for the read's timestamps."""
    context = reader_context(user=user, case=case)
    if context.state == "hidden":
        raise DomainError(f"case {case.code} is not in your assignments", code="not_assigned", http_status=404)
    if context.session is not None and context.state == "open":
        updated = Assignment.objects.filter(session=context.session, case=case, opened_at__isnull=True).update(
            opened_at=timezone.now())
        if updated:
            audit_record(actor=user, action="read.open", object_type="reading_session", object_id=context.session.pk,
                         case_code=case.code, detail={"study_id": context.study.pk, "session": context.session.number})
    return context


# --- reads -----------------------------------------------------------------------------------


def _validated_call(*, case: Case, user, status: str, confidence: int, face_calls: dict | None,
                    time_spent_s: float, segmentation_id: int | None) -> tuple[dict, Segmentation | None]:
    if status not in MARGIN_STATUSES:
        raise DomainError("status must be positive, close or negative", code="invalid")
    if not (isinstance(confidence, int) and 1 <= confidence <= 5):
        raise DomainError("confidence must be a whole number from 1 to 5", code="invalid")
    faces = face_calls or {}
    unknown = [f for f in faces if f not in FACES]
    if unknown:
        raise DomainError(f"unknown face(s) {', '.join(unknown)}; use {', '.join(FACES)}", code="invalid")
    bad = [f for f, v in faces.items() if v not in MARGIN_STATUSES]
    if bad:
        raise DomainError(f"face call(s) for {', '.join(bad)} must be positive, close or negative", code="invalid")
    if not (math.isfinite(time_spent_s) and 0 <= time_spent_s <= 7 * 24 * 3600):
        raise DomainError("time_spent_s must be a number of seconds, 0 or more", code="invalid")
    segmentation = None
    if segmentation_id is not None:
        segmentation = Segmentation.objects.filter(pk=segmentation_id, case=case, author=user, is_draft=False,
                                                   source=Segmentation.Source.READER).first()
        if segmentation is None:
            raise DomainError(f"segmentation {segmentation_id} is not one of your saved masks of case {case.code}",
                              code="bad_segmentation")
    return {f: faces[f] for f in FACES if f in faces}, segmentation


def _locked_context(*, user, case: Case) -> ReaderContext:
    """The reader's context, re-read under a lock on their session row.

    Closing a study locks every session row of it, so a call and the closing are serialised while
    readers never wait for each other (SQLite serialises all writes anyway).
    """
    context = reader_context(user=user, case=case)
    if context.session is None:
        return context
    list(ReadingSession.objects.select_for_update().filter(pk=context.session.pk).values_list("pk", flat=True))
    return reader_context(user=user, case=case)


def _refuse_call(context: ReaderContext, case: Case) -> None:
    if context.state == "hidden":
        raise DomainError(f"case {case.code} is not in your assignments", code="not_assigned", http_status=403)
    if context.state == "closed":
        raise DomainError(context.message, code="study_closed", http_status=409)
    if context.state == "queued":
        raise DomainError(context.message, code="out_of_order", http_status=409)
    if context.state == "waiting":
        raise DomainError(f"you cannot call case {case.code} now: {context.message}", code="session_not_open",
                          http_status=409)


def read_submit(*, user, case: Case, status: str, confidence: int, face_calls: dict | None = None, comment: str = "",
                time_spent_s: float = 0.0, segmentation_id: int | None = None) -> Read:
    if READER not in user_roles(user):
        raise DomainError("only readers make margin calls", code="forbidden", http_status=403)
    faces, segmentation = _validated_call(case=case, user=user, status=status, confidence=confidence,
                                          face_calls=face_calls, time_spent_s=time_spent_s,
                                          segmentation_id=segmentation_id)
    with transaction.atomic():
        context = _locked_context(user=user, case=case)
        _refuse_call(context, case)
        if context.read is not None:
            message = (f"you already submitted a call for case {case.code} in this "
                       f"{'session' if context.session else 'context'}; amend it instead")
            if context.next_session is not None:
                message += f". {context.message}"
            raise ReadExists(message, read_id=context.read.pk)
        assignment = (Assignment.objects.filter(session=context.session, case=case).first()
                      if context.session else None)
        try:
            with transaction.atomic():
                read = Read.objects.create(
                    case=case, reader=user, study=context.study, session=context.session,
                    context_key=context.context_key, aided=context.can_see_model, status=status,
                    confidence=confidence, face_calls=faces, comment=comment or "", time_spent_s=float(time_spent_s),
                    segmentation=segmentation, version=1, opened_at=assignment.opened_at if assignment else None,
                )
        except IntegrityError as exc:
            existing = Read.objects.filter(reader=user, case=case, context_key=context.context_key,
                                           amends__isnull=True).first()
            raise ReadExists(f"you already submitted a call for case {case.code}",
                             read_id=existing.pk if existing else 0) from exc
        if context.session is not None:
            _complete_session_if_done(context.session)
        audit_record(actor=user, action="read.submit", object_type="read", object_id=read.pk, case_code=case.code,
                     detail=_read_audit_detail(read))
    return read


def _read_audit_detail(read: Read) -> dict:
    return {"study_id": read.study_id, "session": read.session.number if read.session_id else None,
            "aided": read.aided, "status": read.status, "confidence": read.confidence, "face_calls": read.face_calls,
            "time_spent_s": read.time_spent_s, "segmentation_id": read.segmentation_id, "version": read.version,
            "amends": read.amends_id}


def _complete_session_if_done(session: ReadingSession) -> None:
    remaining = session.assignments.exclude(
        case__in=Read.objects.filter(session=session, amends__isnull=True).values("case")).exists()
    if remaining or session.completed_at is not None:
        return
    now = timezone.now()
    session.completed_at = now
    session.save(update_fields=["completed_at"])
    following = ReadingSession.objects.filter(study=session.study, reader=session.reader,
                                              number=session.number + 1, opens_at__isnull=True).first()
    if following is not None:
        following.opens_at = now + timedelta(days=session.study.washout_days)
        following.save(update_fields=["opens_at"])
        audit_record(actor=None, action="session.schedule", object_type="reading_session", object_id=following.pk,
                     detail={"study_id": session.study_id, "reader": session.reader.get_username(),
                             "session": following.number, "opens_at": following.opens_at.isoformat(),
                             "reason": f"session {session.number} complete; washout {session.study.washout_days} day(s)"})


def read_amend(*, user, case: Case, read_id: int, status: str, confidence: int, face_calls: dict | None = None,
               comment: str = "", time_spent_s: float = 0.0, segmentation_id: int | None = None) -> Read:
    faces, segmentation = _validated_call(case=case, user=user, status=status, confidence=confidence,
                                          face_calls=face_calls, time_spent_s=time_spent_s,
                                          segmentation_id=segmentation_id)
    with transaction.atomic():
        original = Read.objects.filter(pk=read_id, case=case, reader=user).select_related("session").first()
        if original is None:
            raise DomainError(f"no call {read_id} of yours on case {case.code}", code="not_found", http_status=404)
        context = _locked_context(user=user, case=case)
        _refuse_call(context, case)
        if original.context_key != context.context_key:
            raise DomainError("that call belongs to an earlier reading session, which can no longer be amended",
                              code="session_over", http_status=409)
        if not context.can_call:
            raise DomainError(context.message or "calls in this study cannot be amended", code="amend_not_allowed",
                              http_status=409)
        if context.read is None or context.read.pk != original.pk:
            latest = context.read.pk if context.read else None
            raise DomainError(f"call {read_id} was already amended; amend the latest version ({latest})",
                              code="stale_version", http_status=409)
        try:
            with transaction.atomic():
                read = Read.objects.create(
                    case=case, reader=user, study=original.study, session=original.session,
                    context_key=original.context_key, aided=context.can_see_model, status=status,
                    confidence=confidence, face_calls=faces, comment=comment or "", time_spent_s=float(time_spent_s),
                    segmentation=segmentation, version=original.version + 1, amends=original,
                    opened_at=original.opened_at,
                )
        except IntegrityError as exc:
            raise DomainError(f"call {read_id} was amended concurrently; reload", code="stale_version",
                              http_status=409) from exc
        audit_record(actor=user, action="read.amend", object_type="read", object_id=read.pk, case_code=case.code,
                     detail=_read_audit_detail(read))
    return read


# --- ground truth ----------------------------------------------------------------------------


def _number(value, what: str, *, minimum: float = 0.0) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"{what} must be a number", code="invalid") from exc
    if not math.isfinite(number) or number < minimum:
        raise DomainError(f"{what} must be {minimum:g} or more", code="invalid")
    return number


def _validated_truth(*, case: Case, margin_status: str, closest_distance_mm, face_status: dict | None,
                     tumour_type: str, segmentation_id: int | None, slice_index) -> dict:
    if margin_status not in MARGIN_STATUSES:
        raise DomainError("margin status must be positive, close or negative", code="invalid")
    distance = _number(closest_distance_mm, "closest distance (mm)")
    if distance is not None:
        if margin_status == "positive" and distance > 0:
            raise DomainError("a positive margin means tumour at ink: the closest distance must be 0 mm",
                              code="inconsistent")
        if margin_status != "positive" and distance == 0:
            raise DomainError(f"a {margin_status} margin cannot have tumour at ink (0 mm)", code="inconsistent")
    faces = {k: v for k, v in (face_status or {}).items() if v not in (None, "")}
    unknown = [f for f in faces if f not in FACES]
    if unknown:
        raise DomainError(f"unknown face(s) {', '.join(unknown)}; use {', '.join(FACES)}", code="invalid")
    bad = [f for f, v in faces.items() if v not in MARGIN_STATUSES]
    if bad:
        raise DomainError(f"face status for {', '.join(bad)} must be positive, close or negative", code="invalid")
    if margin_status != "positive" and "positive" in faces.values():
        raise DomainError("a face is positive, so the margin status must be positive", code="inconsistent")
    segmentation = None
    if segmentation_id is not None:
        segmentation = Segmentation.objects.filter(pk=segmentation_id, case=case, is_draft=False,
                                                   source=Segmentation.Source.GROUND_TRUTH).first()
        if segmentation is None:
            raise DomainError(f"segmentation {segmentation_id} is not a saved ground-truth outline of case {case.code}",
                              code="bad_segmentation")
    index = None
    if slice_index not in (None, ""):
        try:
            index = int(slice_index)
        except (TypeError, ValueError) as exc:
            raise DomainError("slice index must be a whole number", code="invalid") from exc
        slices = case.grid.shape[0]
        if not 0 <= index < slices:
            raise DomainError(f"slice index must be between 0 and {slices - 1}", code="invalid")
    return {"margin_status": margin_status, "closest_distance_mm": distance,
            "face_status": {f: faces[f] for f in FACES if f in faces}, "tumour_type": (tumour_type or "").strip(),
            "segmentation": segmentation, "slice_index": index}


def _gt_audit(gt: GroundTruth) -> dict:
    return {"version": gt.version, "margin_status": gt.margin_status, "closest_distance_mm": gt.closest_distance_mm,
            "face_status": gt.face_status, "tumour_type": gt.tumour_type, "segmentation_id": gt.segmentation_id,
            "slice_index": gt.slice_index, "supersedes": gt.supersedes_id, "source": gt.source,
            "correction_reason": gt.correction_reason}


def ground_truth_record(*, user, case: Case, margin_status: str, closest_distance_mm=None,
                        face_status: dict | None = None, tumour_type: str = "", segmentation_id: int | None = None,
                        slice_index=None, notes: str = "", correction_reason: str = "") -> GroundTruth:
    """The first version of a case's ground truth, or a correction of the signed-off current one."""
    _require_pathologist(user)
    values = _validated_truth(case=case, margin_status=margin_status, closest_distance_mm=closest_distance_mm,
                              face_status=face_status, tumour_type=tumour_type, segmentation_id=segmentation_id,
                              slice_index=slice_index)
    with transaction.atomic():
        Case.objects.select_for_update().filter(pk=case.pk).exists()
        current = GroundTruth.objects.filter(case=case).order_by("-version").first()
        if current is not None and not current.signed_off:
            raise DomainError(f"version {current.version} of this ground truth is not signed off yet; edit it "
                              "instead of starting a new version", code="draft_exists", http_status=409)
        if current is not None and not (correction_reason or "").strip():
            raise DomainError(f"version {current.version} is signed off; a correction needs a reason",
                              code="reason_required")
        gt = GroundTruth.objects.create(case=case, version=(current.version + 1) if current else 1,
                                        supersedes=current, notes=notes or "",
                                        correction_reason=(correction_reason or "").strip() if current else "",
                                        created_by=user, **values)
        audit_record(actor=user, action="ground_truth.correct" if current else "ground_truth.create",
                     object_type="ground_truth", object_id=gt.pk, case_code=case.code, detail=_gt_audit(gt))
    return gt


def ground_truth_update(*, user, ground_truth: GroundTruth, margin_status: str, closest_distance_mm=None,
                        face_status: dict | None = None, tumour_type: str = "", segmentation_id: int | None = None,
                        slice_index=None, notes: str = "") -> GroundTruth:
    """Edit a version that is not signed off yet; a signed-off version is never changed."""
    _require_pathologist(user)
    case = ground_truth.case
    values = _validated_truth(case=case, margin_status=margin_status, closest_distance_mm=closest_distance_mm,
                              face_status=face_status, tumour_type=tumour_type, segmentation_id=segmentation_id,
                              slice_index=slice_index)
    with transaction.atomic():
        locked = GroundTruth.objects.select_for_update().get(pk=ground_truth.pk)
        if locked.signed_off:
            raise DomainError(f"version {locked.version} was signed off and is locked; record a correction as a "
                              "new version", code="signed_off", http_status=409)
        before = _gt_audit(locked)
        for key, value in values.items():
            setattr(locked, key, value)
        locked.notes = notes or ""
        locked.save()
        audit_record(actor=user, action="ground_truth.update", object_type="ground_truth", object_id=locked.pk,
                     case_code=case.code, detail={**_gt_audit(locked), "before": before})
    return locked


def ground_truth_sign_off(*, user, ground_truth: GroundTruth) -> GroundTruth:
    _require_pathologist(user)
    with transaction.atomic():
        locked = GroundTruth.objects.select_for_update().get(pk=ground_truth.pk)
        if locked.signed_off:
            raise DomainError(f"version {locked.version} is already signed off", code="signed_off", http_status=409)
        newer = GroundTruth.objects.filter(case=locked.case_id, version__gt=locked.version).exists()
        if newer:
            raise DomainError("a newer version exists; sign off the current version", code="stale_version",
                              http_status=409)
        locked.signed_off_by = user
        locked.signed_off_at = timezone.now()
        locked.save(update_fields=["signed_off_by", "signed_off_at", "updated_at"])
        audit_record(actor=user, action="ground_truth.sign_off", object_type="ground_truth", object_id=locked.pk,
                     case_code=locked.case.code, detail=_gt_audit(locked))
    return locked


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
        _require_admin(user)
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
            values = _validated_truth(
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
                         case_code=case.code, detail={**_gt_audit(gt), "study_id": study.pk, "file": source_name,
                                                      "signed_off": signs})
        audit_record(actor=actor, action="study.import_ground_truth", object_type="study", object_id=study.pk,
                     detail={"study_id": study.pk, "file": source_name, "rows": len(created)})
    return created


def export_record(*, user, what: str, object_type: str, object_id="", detail: dict | None = None) -> None:
    audit_record(actor=user, action=f"{what}.export", object_type=object_type, object_id=object_id,
                 detail=detail or {})


def view_record(*, user, what: str, case: Case | None = None, object_type: str = "case", object_id="",
                detail: dict | None = None) -> None:
    """Who looked at what (ground truth, a study's calls): reads of sensitive data are audited too."""
    audit_record(actor=user, action=f"{what}.view", object_type=object_type,
                 object_id=object_id or (case.pk if case else ""), case_code=case.code if case else "",
                 detail=detail or {})
