"""Where a reader stands on a case: free reading, or which session of which study.

``portal.access_policy`` turns this into what the reader may see and do. The studies rules it encodes:

- A reader's session for a case is the first of their sessions in which they have not called it
  yet, so the aided session of a case opens only after its unaided read and after the washout
  (``ReadingSession.opens_at``). While the next session is not open the reader may still amend
  the previous call (if the study allows amendments). Nothing can be called in a closed study.
- When the study enforces the order (default), a reader's first call in a session is for the next
  case of their own seeded order; other assigned cases are visible but not callable ("queued").
- A reader may be assigned a case in at most one open study, so the context is derived from the
  assignment alone (no URL parameter), and never after having called it outside any study.
- In a lamella study the reader calls reading units (a slice of a case), each with its own context
  key; every rule above applies per unit. Sessions are shared by all units, so what a reader may see
  of the case (the model's output) is the same whichever of its units is open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, OuterRef
from django.utils import timezone

from cases.models import Case
from studies.models import Assignment, Read, ReadingSession, ReadingUnit, Study, StudyReader

FREE_CONTEXT = "free"


def session_context_key(session: ReadingSession, unit: ReadingUnit | None = None) -> str:
    return f"session:{session.pk}" if unit is None else f"session:{session.pk}:unit:{unit.pk}"


@dataclass(frozen=True)
class ReaderContext:
    """Where a reader stands on one case: free reading, or a session of a study."""

    state: str  # hidden | free | open | queued (not next in order) | done | waiting | closed
    study: Study | None = None
    session: ReadingSession | None = None
    read: Read | None = None  # the latest version of the reader's call in this context
    can_call: bool = False  # submit a first call, or amend ``read``
    can_see_model: bool = False
    message: str = ""
    next_session: ReadingSession | None = None
    unit: ReadingUnit | None = None  # the lamella in question (lamella studies)

    @property
    def context_key(self) -> str:
        return session_context_key(self.session, self.unit) if self.session is not None else FREE_CONTEXT

    @property
    def aided(self) -> bool:
        return self.can_see_model


def _latest_reads(*, reader, case: Case) -> dict[str, Read]:
    """The newest version of each of the reader's calls on the case, by context key."""
    latest: dict[str, Read] = {}
    for read in Read.objects.filter(reader=reader, case=case).order_by("version", "id"):
        latest[read.context_key] = read
    return latest


def session_is_open(session: ReadingSession, now: datetime) -> bool:
    return session.opens_at is not None and session.opens_at <= now


def waiting_message(session: ReadingSession, study: Study) -> str:
    if session.opens_at is not None:
        return f"Session {session.number} ({'aided' if session.aided else 'unaided'}) opens on {session.opens_at:%Y-%m-%d %H:%M} UTC."
    return (f"Session {session.number} opens {study.washout_days} day(s) after you finish session "
            f"{session.number - 1} (washout).")


def reader_context(*, user, case: Case, unit: ReadingUnit | None = None, now: datetime | None = None) -> ReaderContext:
    """The reader's context on the case (lamella studies: on ``unit``, by default the unit to read next)."""
    now = now or timezone.now()
    # Every study holding the case, flagged where the user reads in it: one query instead of two.
    holding = list(
        Study.objects.filter(study_cases__case=case)
        .annotate(user_reads=Exists(StudyReader.objects.filter(study=OuterRef("pk"), reader=user)))
        .order_by("status", "-created_at", "-id")
    )  # "closed" < "open": pick the open study below
    latest = _latest_reads(reader=user, case=case)
    if not holding:
        read = latest.get(FREE_CONTEXT)
        return ReaderContext(state="free", read=read, can_call=True, can_see_model=True)
    studies = [s for s in holding if s.user_reads]
    if not studies:
        return ReaderContext(state="hidden", message="This case belongs to a reader study you are not assigned to.")
    study = next((s for s in studies if s.is_open), studies[0])
    sessions = list(ReadingSession.objects.filter(study=study, reader=user).order_by("number"))
    for session in sessions:
        session.study = study  # spares a query per use of session.study (same row)
    if not study.reads_lamellae:
        return _unit_context(study=study, sessions=sessions, latest=latest, case=case, unit=None, now=now)
    units = list(ReadingUnit.objects.filter(study=study, case=case).order_by("label"))
    if unit is not None:
        if all(u.pk != unit.pk for u in units):
            return ReaderContext(state="hidden", study=study,
                                 message=f"Reading unit {unit.pk} is not a lamella of case {case.code} in this study.")
        return _unit_context(study=study, sessions=sessions, latest=latest, case=case, unit=unit, now=now)
    contexts = [_unit_context(study=study, sessions=sessions, latest=latest, case=case, unit=u, now=now)
                for u in units]
    if not contexts:
        return ReaderContext(state="hidden", study=study, message="This case has no lamella to read in this study.")
    return (next((c for c in contexts if c.state == "open"), None)
            or next((c for c in contexts if c.state != "done"), None) or contexts[0])


def _unit_context(*, study: Study, sessions: list[ReadingSession], latest: dict[str, Read], case: Case,
                  unit: ReadingUnit | None, now: datetime) -> ReaderContext:
    reads = {s.pk: latest.get(session_context_key(s, unit)) for s in sessions}
    if not study.is_open:
        last = next((s for s in reversed(sessions) if reads[s.pk] is not None), sessions[-1] if sessions else None)
        return ReaderContext(
            state="closed", study=study, session=last, read=reads.get(last.pk) if last else None,
            can_see_model=bool(last and reads.get(last.pk) and last.aided), unit=unit,
            message=f"Study '{study.name}' is closed; calls can no longer be submitted or amended.",
        )
    current = next((s for s in sessions if reads[s.pk] is None), None)
    if current is not None and session_is_open(current, now):
        if study.enforce_order:
            expected = session_next_assignment(session=current, previous=sessions[current.number - 2]
                                               if current.number > 1 else None)
            if expected is not None and (expected.case_id, expected.unit_id) != (case.pk, unit.pk if unit else None):
                what = f"lamella {expected.unit.label}" if expected.unit_id else f"case {expected.case.code}"
                return ReaderContext(
                    state="queued", study=study, session=current, can_see_model=current.aided, unit=unit,
                    message=f"Read the cases in your worklist order: {what} comes first.")
        return ReaderContext(state="open", study=study, session=current, can_call=True, can_see_model=current.aided,
                             unit=unit)
    previous = [s for s in sessions if reads[s.pk] is not None and (current is None or s.number < current.number)]
    if previous:
        last = previous[-1]
        message = f"You have called this {'lamella' if unit else 'case'} in this session."
        if current is not None:
            message += " " + waiting_message(current, study)
        amendable = study.allow_amendments
        if amendable:
            message += " You may amend your call until the next session opens." if current else " You may amend it."
        return ReaderContext(state="done", study=study, session=last, read=reads[last.pk], can_call=amendable,
                             can_see_model=last.aided, message=message, next_session=current, unit=unit)
    if current is None:  # a reader of the study without sessions: should not happen
        return ReaderContext(state="hidden", study=study, message="You have no reading session in this study.")
    return ReaderContext(state="waiting", study=study, session=current, message=waiting_message(current, study),
                         next_session=current, unit=unit)


def session_next_assignment(*, session: ReadingSession, previous: ReadingSession | None) -> Assignment | None:
    """The first assignment of the session's order not called yet (whose call in ``previous`` exists)."""
    field = "unit_id" if session.study.reads_lamellae else "case_id"
    called = Read.objects.filter(session=session, amends__isnull=True).values(field)
    pending = session.assignments.exclude(**{f"{field}__in": called})
    if previous is not None:
        pending = pending.filter(**{f"{field}__in": Read.objects.filter(session=previous, amends__isnull=True)
                                    .values(field)})
    return pending.select_related("case", "unit").order_by("position").first()


def session_next_case(*, session: ReadingSession, previous: ReadingSession | None) -> Case | None:
    """The case of :func:`session_next_assignment`."""
    assignment = session_next_assignment(session=session, previous=previous)
    return assignment.case if assignment else None
