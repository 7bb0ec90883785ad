"""Reading sessions and reads: schedule a session, open an assignment, submit and amend margin calls."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from cases.models import Case
from inference.models import Segmentation
from petctweb.errors import DomainError
from petctweb.roles import READER, user_roles
from studies.models import FACES, MARGIN_STATUSES, Assignment, Read, ReadingSession, ReadingUnit
from studies.selectors import ReaderContext, reader_context
from studies.services._checks import require_admin, require_open


class ReadExists(DomainError):
    """A call already exists in this context; carries its id so the viewer can switch to amending."""

    def __init__(self, message: str, *, read_id: int) -> None:
        super().__init__(message, code="already_submitted", http_status=409)
        self.read_id = read_id


def reading_session_schedule(*, session: ReadingSession, user, opens_at: datetime) -> ReadingSession:
    """Set when a session opens (e.g. end a washout early, or postpone). Per-case order still holds."""
    require_admin(user)
    require_open(session.study)
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


def assignment_open(*, user, case: Case, unit: ReadingUnit | None = None) -> ReaderContext:
    """The reader opens a case (lamella studies: a unit) from the worklist: remember when, for the read's
    timestamps."""
    context = reader_context(user=user, case=case, unit=unit)
    if context.state == "hidden":
        raise DomainError(f"case {case.code} is not in your assignments", code="not_assigned", http_status=404)
    if context.session is not None and context.state == "open":
        updated = Assignment.objects.filter(session=context.session, case=case, unit=context.unit,
                                            opened_at__isnull=True).update(opened_at=timezone.now())
        if updated:
            audit_record(actor=user, action="read.open", object_type="reading_session", object_id=context.session.pk,
                         case_code=case.code, detail={"study_id": context.study.pk, "session": context.session.number})
    return context


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


def _locked_context(*, user, case: Case, unit: ReadingUnit | None) -> ReaderContext:
    """The reader's context, re-read under a lock on their session row.

    Closing a study locks every session row of it, so a call and the closing are serialised while
    readers never wait for each other (SQLite serialises all writes anyway).
    """
    context = reader_context(user=user, case=case, unit=unit)
    if context.session is None:
        return context
    list(ReadingSession.objects.select_for_update().filter(pk=context.session.pk).values_list("pk", flat=True))
    return reader_context(user=user, case=case, unit=unit)


def _check_unit(context: ReaderContext, case: Case, unit: ReadingUnit | None) -> None:
    """A lamella study's call names its unit; other calls name none."""
    lamellae = context.study is not None and context.study.reads_lamellae
    if lamellae and unit is None:
        raise DomainError(f"study '{context.study.name}' reads lamellae: give the unit (the reading unit id) "
                          f"you are calling on case {case.code}", code="unit_required")
    if unit is not None and not lamellae:
        raise DomainError(f"case {case.code} is not read by lamella here; call it without a unit",
                          code="invalid")


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
                time_spent_s: float = 0.0, segmentation_id: int | None = None,
                unit: ReadingUnit | None = None) -> Read:
    if READER not in user_roles(user):
        raise DomainError("only readers make margin calls", code="forbidden", http_status=403)
    faces, segmentation = _validated_call(case=case, user=user, status=status, confidence=confidence,
                                          face_calls=face_calls, time_spent_s=time_spent_s,
                                          segmentation_id=segmentation_id)
    with transaction.atomic():
        context = _locked_context(user=user, case=case, unit=unit)
        _refuse_call(context, case)
        _check_unit(context, case, unit)
        if context.read is not None:
            message = (f"you already submitted a call for case {case.code} in this "
                       f"{'session' if context.session else 'context'}; amend it instead")
            if context.next_session is not None:
                message += f". {context.message}"
            raise ReadExists(message, read_id=context.read.pk)
        assignment = (Assignment.objects.filter(session=context.session, case=case, unit=context.unit).first()
                      if context.session else None)
        try:
            with transaction.atomic():
                read = Read.objects.create(
                    case=case, reader=user, study=context.study, session=context.session, unit=context.unit,
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
            "unit_id": read.unit_id,
            "aided": read.aided, "status": read.status, "confidence": read.confidence, "face_calls": read.face_calls,
            "time_spent_s": read.time_spent_s, "segmentation_id": read.segmentation_id, "version": read.version,
            "amends": read.amends_id}


def _complete_session_if_done(session: ReadingSession) -> None:
    field = "unit" if session.study.reads_lamellae else "case"
    remaining = session.assignments.exclude(**{
        f"{field}__in": Read.objects.filter(session=session, amends__isnull=True).values(field)}).exists()
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
               comment: str = "", time_spent_s: float = 0.0, segmentation_id: int | None = None,
               unit: ReadingUnit | None = None) -> Read:
    faces, segmentation = _validated_call(case=case, user=user, status=status, confidence=confidence,
                                          face_calls=face_calls, time_spent_s=time_spent_s,
                                          segmentation_id=segmentation_id)
    with transaction.atomic():
        original = Read.objects.filter(pk=read_id, case=case, reader=user).select_related("session").first()
        if original is None:
            raise DomainError(f"no call {read_id} of yours on case {case.code}", code="not_found", http_status=404)
        unit = unit or original.unit  # an amendment is of the same lamella
        context = _locked_context(user=user, case=case, unit=unit)
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
                    case=case, reader=user, study=original.study, session=original.session, unit=original.unit,
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
