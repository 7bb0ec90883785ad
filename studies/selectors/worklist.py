"""Reading progress: a reader's worklist per session, and every reader's progress for administrators."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max
from django.utils import timezone

from studies.models import Read, ReadingSession, Study
from studies.selectors.context import session_is_open, waiting_message


@dataclass
class AssignmentRow:
    position: int
    code: str
    state: str  # done | next | todo | blocked | waiting | closed
    read_id: int | None
    opened_at: datetime | None
    submitted_at: datetime | None
    link: bool = False  # the reader may open it from the worklist now
    unit_id: int | None = None  # lamella studies: the unit (a slice of the case)
    unit_label: str = ""
    slice_index: int | None = None


@dataclass
class SessionProgress:
    session: ReadingSession
    state: str  # open | waiting | done | closed
    total: int
    done: int
    message: str
    rows: list[AssignmentRow]
    next_code: str | None
    next_unit_id: int | None = None
    current: bool = False  # the session the reader stands in now (its called cases can be reopened)

    @property
    def percent(self) -> int:
        return round(100 * self.done / self.total) if self.total else 100

    def to_dict(self) -> dict:
        s = self.session
        return {
            "id": s.pk, "number": s.number, "aided": s.aided, "state": self.state, "total": self.total,
            "done": self.done, "percent": self.percent, "message": self.message,
            "opens_at": s.opens_at.isoformat() if s.opens_at else None,
            "completed_at": s.completed_at.isoformat() if s.completed_at else None,
            "next_case": self.next_code,
            "next_unit": self.next_unit_id,
        }


def session_progress(*, session: ReadingSession, with_rows: bool = True, now: datetime | None = None,
                     earlier_done: set[int] | None = None) -> SessionProgress:
    """Progress through one session; ``earlier_done``: item ids (case ids; lamella studies: unit ids)
    called in the previous session."""
    now = now or timezone.now()
    study = session.study
    item = _item_id(study)
    firsts = {item(r): r for r in Read.objects.filter(session=session, amends__isnull=True)}
    assignments = list(session.assignments.select_related("case", "unit").order_by("position"))
    is_open = session_is_open(session, now)
    rows: list[AssignmentRow] = []
    next_code = next_unit = None
    for a in assignments:
        read = firsts.get(item(a))
        if read is not None:
            state = "done"
        elif not study.is_open:
            state = "closed"
        elif not is_open:
            state = "waiting"
        elif earlier_done is not None and item(a) not in earlier_done:
            state = "blocked"  # its unaided read comes first
        elif next_code is None:
            state, next_code, next_unit = "next", a.case.code, a.unit_id
        else:
            state = "todo"
        if with_rows:
            rows.append(AssignmentRow(position=a.position + 1, code=a.case.code, state=state,
                                      read_id=read.pk if read else None, opened_at=a.opened_at,
                                      submitted_at=read.submitted_at if read else None, unit_id=a.unit_id,
                                      unit_label=a.unit.label if a.unit_id else "",
                                      slice_index=a.unit.slice_index if a.unit_id else None))
    done = len(firsts)
    if not study.is_open:
        state, message = "closed", "The study is closed."
    elif done == len(assignments):
        state, message = "done", "Session complete."
    elif not is_open:
        state, message = "waiting", waiting_message(session, study)
    else:
        state, message = "open", f"{len(assignments) - done} case(s) to read."
    return SessionProgress(session=session, state=state, total=len(assignments), done=done, message=message,
                           rows=rows, next_code=next_code, next_unit_id=next_unit)


def _item_id(study: Study):
    """What one worklist line is: the case, or in a lamella study the unit."""
    if study.reads_lamellae:
        return lambda obj: obj.unit_id
    return lambda obj: obj.case_id


def reader_worklist(*, user, study: Study, with_rows: bool = True) -> list[SessionProgress]:
    sessions = list(ReadingSession.objects.filter(study=study, reader=user).select_related("study").order_by("number"))
    progress: list[SessionProgress] = []
    earlier: set[int] | None = None
    for session in sessions:
        item = session_progress(session=session, with_rows=with_rows, earlier_done=earlier)
        progress.append(item)
        field = "unit_id" if study.reads_lamellae else "case_id"
        earlier = set(Read.objects.filter(session=session, amends__isnull=True).values_list(field, flat=True))
    started = [p for p in progress if p.state != "waiting"]
    if started:
        started[-1].current = True
    for p in progress:
        for row in p.rows:
            row.link = (row.state == "next" or (row.state == "todo" and not study.enforce_order)
                        or (row.state == "done" and p.current))
    return progress


def worklist_next_code(progress: list[SessionProgress]) -> str | None:
    """The case to read next: the first open case in session order (resume where the reader left off)."""
    return next((p.next_code for p in progress if p.next_code), None)


def worklist_next_item(progress: list[SessionProgress]) -> tuple[str, int | None] | None:
    """(case code, unit id or None) to read next, as :func:`worklist_next_code`."""
    return next(((p.next_code, p.next_unit_id) for p in progress if p.next_code), None)


def study_progress(*, study: Study) -> list[dict]:
    """Per reader: each session's progress (for administrators)."""
    result = []
    for membership in study.study_readers.select_related("reader").order_by("reader__username"):
        sessions = reader_worklist(user=membership.reader, study=study, with_rows=False)
        last = Read.objects.filter(study=study, reader=membership.reader).aggregate(last=Max("submitted_at"))["last"]
        result.append({
            "reader": membership.reader.get_username(),
            "reader_id": membership.reader_id,
            "sessions": [p.to_dict() for p in sessions],
            "done": sum(p.done for p in sessions),
            "total": sum(p.total for p in sessions),
            "last_read_at": last.isoformat() if last else None,
        })
    return result
