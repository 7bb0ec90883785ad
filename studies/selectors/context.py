"""Which cases a user may see, and what they may see of each (blinding lives here).

Rules (the server enforces them on every endpoint; pages only mirror them):

- Study administrators and superusers see every case, the model's output and ground truth, and
  every reader's calls. They do not make calls.
- Pathologists see every case and all ground truth. On cases that belong to a reader study they
  do not see the model's output, so ground truth stays independent of the model. No calls.
- Readers see a case that belongs to no study freely (model visible, free reads). A case that
  belongs to any study is visible to a reader only through their assignment in such a study,
  and then what they see follows their current reading session: the model's output only in an
  aided session that has opened; never ground truth or another reader's calls or masks.
- A reader's session for a case is the first of their sessions in which they have not called it
  yet, so the aided session of a case opens only after its unaided read and after the washout
  (``ReadingSession.opens_at``). While the next session is not open the reader may still amend
  the previous call (if the study allows amendments). Nothing can be called in a closed study.
- When the study enforces the order (default), a reader's first call in a session is for the next
  case of their own seeded order; other assigned cases are visible but not callable ("queued").
- A reader may be assigned a case in at most one open study, so the context is derived from the
  assignment alone (no URL parameter), and never after having called it outside any study.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Count, Max, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from cases.models import Case
from petctweb.errors import DomainError
from petctweb.roles import PATHOLOGIST, READER, is_study_admin, user_roles
from studies.models import Assignment, GroundTruth, Read, ReadingSession, Study, StudyCase, StudyReader

FREE_CONTEXT = "free"


def session_context_key(session: ReadingSession) -> str:
    return f"session:{session.pk}"


@dataclass(frozen=True)
class CaseAccess:
    """What one user may see and do on one case, decided on the server."""

    can_see_model: bool
    can_see_ground_truth: bool
    can_call: bool
    can_edit_mask: bool
    read_context: dict = field(default_factory=dict)  # {"readId", "studyId", "session", "aided", "canCall", ...}


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

    @property
    def context_key(self) -> str:
        return session_context_key(self.session) if self.session is not None else FREE_CONTEXT

    @property
    def aided(self) -> bool:
        return self.can_see_model


def _latest_reads(*, reader, case: Case) -> dict[str, Read]:
    """The newest version of each of the reader's calls on the case, by context key."""
    latest: dict[str, Read] = {}
    for read in Read.objects.filter(reader=reader, case=case).order_by("version", "id"):
        latest[read.context_key] = read
    return latest


def _session_is_open(session: ReadingSession, now: datetime) -> bool:
    return session.opens_at is not None and session.opens_at <= now


def _waiting_message(session: ReadingSession, study: Study) -> str:
    if session.opens_at is not None:
        return f"Session {session.number} ({'aided' if session.aided else 'unaided'}) opens on {session.opens_at:%Y-%m-%d %H:%M} UTC."
    return (f"Session {session.number} opens {study.washout_days} day(s) after you finish session "
            f"{session.number - 1} (washout).")


def reader_context(*, user, case: Case, now: datetime | None = None) -> ReaderContext:
    now = now or timezone.now()
    study_ids = list(StudyCase.objects.filter(case=case).values_list("study_id", flat=True))
    latest = _latest_reads(reader=user, case=case)
    if not study_ids:
        read = latest.get(FREE_CONTEXT)
        return ReaderContext(state="free", read=read, can_call=True, can_see_model=True)
    studies = list(
        Study.objects.filter(pk__in=study_ids, study_readers__reader=user).order_by("status", "-created_at", "-id")
    )  # "closed" < "open": pick the open study below
    if not studies:
        return ReaderContext(state="hidden", message="This case belongs to a reader study you are not assigned to.")
    study = next((s for s in studies if s.is_open), studies[0])
    sessions = list(ReadingSession.objects.filter(study=study, reader=user).order_by("number"))
    reads = {s.pk: latest.get(session_context_key(s)) for s in sessions}
    if not study.is_open:
        last = next((s for s in reversed(sessions) if reads[s.pk] is not None), sessions[-1] if sessions else None)
        return ReaderContext(
            state="closed", study=study, session=last, read=reads.get(last.pk) if last else None,
            can_see_model=bool(last and reads.get(last.pk) and last.aided),
            message=f"Study '{study.name}' is closed; calls can no longer be submitted or amended.",
        )
    current = next((s for s in sessions if reads[s.pk] is None), None)
    if current is not None and _session_is_open(current, now):
        if study.enforce_order:
            expected = session_next_case(session=current, previous=sessions[current.number - 2]
                                         if current.number > 1 else None)
            if expected is not None and expected.pk != case.pk:
                return ReaderContext(
                    state="queued", study=study, session=current, can_see_model=current.aided,
                    message=f"Read the cases in your worklist order: case {expected.code} comes first.")
        return ReaderContext(state="open", study=study, session=current, can_call=True, can_see_model=current.aided)
    previous = [s for s in sessions if reads[s.pk] is not None and (current is None or s.number < current.number)]
    if previous:
        last = previous[-1]
        message = "You have called this case in this session."
        if current is not None:
            message += " " + _waiting_message(current, study)
        amendable = study.allow_amendments
        if amendable:
            message += " You may amend your call until the next session opens." if current else " You may amend it."
        return ReaderContext(state="done", study=study, session=last, read=reads[last.pk], can_call=amendable,
                             can_see_model=last.aided, message=message, next_session=current)
    if current is None:  # a reader of the study without sessions: should not happen
        return ReaderContext(state="hidden", study=study, message="You have no reading session in this study.")
    return ReaderContext(state="waiting", study=study, session=current, message=_waiting_message(current, study),
                         next_session=current)


def session_next_case(*, session: ReadingSession, previous: ReadingSession | None) -> Case | None:
    """The first case of the session's order not called yet (whose call in ``previous`` exists)."""
    called = Read.objects.filter(session=session, amends__isnull=True).values("case_id")
    pending = session.assignments.exclude(case_id__in=called)
    if previous is not None:
        pending = pending.filter(case_id__in=Read.objects.filter(session=previous, amends__isnull=True)
                                 .values("case_id"))
    assignment = pending.select_related("case").order_by("position").first()
    return assignment.case if assignment else None


def visible_cases(*, user) -> QuerySet[Case]:
    if not user.is_authenticated:
        return Case.objects.none()
    roles = user_roles(user)
    if user.is_superuser or is_study_admin(user) or PATHOLOGIST in roles:
        return Case.objects.all()
    if READER in roles:
        assigned = StudyCase.objects.filter(study__study_readers__reader=user).values("case_id")
        return Case.objects.filter(Q(study_links__isnull=True) | Q(pk__in=assigned)).distinct()
    return Case.objects.none()


def _read_context_payload(context: ReaderContext | None, *, can_call: bool) -> dict:
    if context is None:
        return {"readId": None, "studyId": None, "session": None, "aided": None, "canCall": can_call}
    study, session = context.study, context.session
    return {
        "readId": context.read.pk if context.read else None,
        "studyId": study.pk if study else None,
        "studyName": study.name if study else None,
        "session": session.number if session else None,
        "aided": context.can_see_model,
        "canCall": can_call,
        "state": context.state,
        "message": context.message,
        "thresholdMm": study.margin_threshold_mm if study else None,
        "opensAt": (context.next_session.opens_at.isoformat()
                    if context.next_session and context.next_session.opens_at else None),
        "worklistUrl": reverse("study-worklist", kwargs={"study_id": study.pk}) if study else None,
    }


def case_access(*, user, case: Case) -> CaseAccess:
    if not user.is_authenticated:
        return CaseAccess(False, False, False, False, _read_context_payload(None, can_call=False))
    roles = user_roles(user)
    if is_study_admin(user):
        return CaseAccess(True, True, False, True, _read_context_payload(None, can_call=False))
    if PATHOLOGIST in roles:
        in_study = StudyCase.objects.filter(case=case).exists()
        return CaseAccess(not in_study, True, False, True, _read_context_payload(None, can_call=False))
    if READER in roles:
        context = reader_context(user=user, case=case)
        if context.state == "hidden":
            return CaseAccess(False, False, False, False, _read_context_payload(None, can_call=False))
        return CaseAccess(
            can_see_model=context.can_see_model,
            can_see_ground_truth=False,
            can_call=context.can_call,
            can_edit_mask=context.can_call,
            read_context=_read_context_payload(context, can_call=context.can_call),
        )
    return CaseAccess(False, False, False, False, _read_context_payload(None, can_call=False))


# --- studies ---------------------------------------------------------------------------------


def study_list(*, user) -> QuerySet[Study]:
    if is_study_admin(user):
        return Study.objects.annotate(n_cases=Count("study_cases", distinct=True),
                                      n_readers=Count("study_readers", distinct=True))
    return Study.objects.none()


def study_get_for_admin(*, study_id: int, user) -> Study:
    if not is_study_admin(user):
        raise DomainError("only study administrators may manage studies", code="forbidden", http_status=403)
    study = Study.objects.filter(pk=study_id).first()
    if study is None:
        raise DomainError(f"no study {study_id}", code="not_found", http_status=404)
    return study


def study_get_for_reader(*, study_id: int, user) -> Study:
    study = Study.objects.filter(pk=study_id, study_readers__reader=user).first()
    if study is None:
        raise DomainError(f"no study {study_id} that you read in", code="not_found", http_status=404)
    return study


def study_case_codes(*, study: Study) -> list[str]:
    return list(study.study_cases.order_by("case__code").values_list("case__code", flat=True))


def study_reader_usernames(*, study: Study) -> list[str]:
    return list(study.study_readers.order_by("reader__username").values_list("reader__username", flat=True))


@dataclass
class AssignmentRow:
    position: int
    code: str
    state: str  # done | next | todo | blocked | waiting | closed
    read_id: int | None
    opened_at: datetime | None
    submitted_at: datetime | None
    link: bool = False  # the reader may open it from the worklist now


@dataclass
class SessionProgress:
    session: ReadingSession
    state: str  # open | waiting | done | closed
    total: int
    done: int
    message: str
    rows: list[AssignmentRow]
    next_code: str | None
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
        }


def session_progress(*, session: ReadingSession, with_rows: bool = True, now: datetime | None = None,
                     earlier_done: set[int] | None = None) -> SessionProgress:
    """Progress through one session; ``earlier_done``: case ids called in the previous session."""
    now = now or timezone.now()
    study = session.study
    firsts = {r.case_id: r for r in Read.objects.filter(session=session, amends__isnull=True)}
    assignments = list(session.assignments.select_related("case").order_by("position"))
    is_open = _session_is_open(session, now)
    rows: list[AssignmentRow] = []
    next_code = None
    for a in assignments:
        read = firsts.get(a.case_id)
        if read is not None:
            state = "done"
        elif not study.is_open:
            state = "closed"
        elif not is_open:
            state = "waiting"
        elif earlier_done is not None and a.case_id not in earlier_done:
            state = "blocked"  # its unaided read comes first
        elif next_code is None:
            state, next_code = "next", a.case.code
        else:
            state = "todo"
        if with_rows:
            rows.append(AssignmentRow(position=a.position + 1, code=a.case.code, state=state,
                                      read_id=read.pk if read else None, opened_at=a.opened_at,
                                      submitted_at=read.submitted_at if read else None))
    done = len(firsts)
    if not study.is_open:
        state, message = "closed", "The study is closed."
    elif done == len(assignments):
        state, message = "done", "Session complete."
    elif not is_open:
        state, message = "waiting", _waiting_message(session, study)
    else:
        state, message = "open", f"{len(assignments) - done} case(s) to read."
    return SessionProgress(session=session, state=state, total=len(assignments), done=done, message=message,
                           rows=rows, next_code=next_code)


def reader_worklist(*, user, study: Study, with_rows: bool = True) -> list[SessionProgress]:
    sessions = list(ReadingSession.objects.filter(study=study, reader=user).select_related("study").order_by("number"))
    progress: list[SessionProgress] = []
    earlier: set[int] | None = None
    for session in sessions:
        item = session_progress(session=session, with_rows=with_rows, earlier_done=earlier)
        progress.append(item)
        earlier = set(Read.objects.filter(session=session, amends__isnull=True).values_list("case_id", flat=True))
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


def reader_studies(*, user) -> QuerySet[Study]:
    return Study.objects.filter(study_readers__reader=user).order_by("status", "-created_at")


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


def study_summary(study: Study) -> dict:
    return {
        "id": study.pk,
        "name": study.name,
        "description": study.description,
        "design": study.design,
        "status": study.status,
        "margin_threshold_mm": study.margin_threshold_mm,
        "positive_categories": study.positive_categories,
        "washout_days": study.washout_days,
        "seed": study.seed,
        "allow_amendments": study.allow_amendments,
        "enforce_order": study.enforce_order,
        "created_at": study.created_at.isoformat(),
        "created_by": study.created_by.get_username() if study.created_by else None,
        "closed_at": study.closed_at.isoformat() if study.closed_at else None,
        "cases": study_case_codes(study=study),
        "readers": study_reader_usernames(study=study),
    }


# --- reads -----------------------------------------------------------------------------------


def read_payload(read: Read) -> dict:
    return {
        "id": read.pk,
        "case": read.case.code,
        "reader": read.reader.get_username(),
        "study_id": read.study_id,
        "session": read.session.number if read.session_id else None,
        "aided": read.aided,
        "status": read.status,
        "confidence": read.confidence,
        "face_calls": read.face_calls,
        "comment": read.comment,
        "time_spent_s": read.time_spent_s,
        "segmentation_id": read.segmentation_id,
        "version": read.version,
        "amends": read.amends_id,
        "opened_at": read.opened_at.isoformat() if read.opened_at else None,
        "submitted_at": read.submitted_at.isoformat(),
    }


def reads_visible(*, user, case: Case | None = None) -> QuerySet[Read]:
    """Administrators see every call; a reader only their own; nobody else any."""
    reads = Read.objects.select_related("case", "reader", "session")
    if case is not None:
        reads = reads.filter(case=case)
    if is_study_admin(user):
        return reads
    if READER in user_roles(user):
        return reads.filter(reader=user)
    return reads.none()


def read_get_for_user(*, user, case: Case, read_id: int) -> Read:
    read = reads_visible(user=user, case=case).filter(pk=read_id).first()
    if read is None:
        raise DomainError(f"no call {read_id} on case {case.code} that you may see", code="not_found",
                          http_status=404)
    return read


def study_reads(*, study: Study) -> QuerySet[Read]:
    return (Read.objects.filter(study=study).select_related("case", "reader", "session")
            .order_by("reader__username", "session__number", "case__code", "version"))


def study_final_reads(*, study: Study) -> QuerySet[Read]:
    """The latest version of every call of a study: one per reader, session and case (for statistics)."""
    return (Read.objects.filter(study=study, amended_by__isnull=True)
            .select_related("case", "reader", "session", "segmentation")
            .order_by("reader__username", "session__number", "case__code"))


# --- ground truth ----------------------------------------------------------------------------


def ground_truth_final(*, cases) -> dict[int, GroundTruth]:
    """The newest signed-off ground truth of each case (by case id); cases without one are absent."""
    final: dict[int, GroundTruth] = {}
    for gt in (GroundTruth.objects.filter(case__in=cases, signed_off_at__isnull=False)
               .select_related("segmentation").order_by("case_id", "version")):
        final[gt.case_id] = gt
    return final


def can_see_ground_truth(user) -> bool:
    return user.is_authenticated and (is_study_admin(user) or PATHOLOGIST in user_roles(user))


def ground_truth_versions(*, case: Case) -> QuerySet[GroundTruth]:
    return GroundTruth.objects.filter(case=case).select_related("created_by", "signed_off_by").order_by("-version")


def ground_truth_current(*, case: Case) -> GroundTruth | None:
    return ground_truth_versions(case=case).first()


def ground_truth_get(*, case: Case, ground_truth_id: int) -> GroundTruth:
    gt = ground_truth_versions(case=case).filter(pk=ground_truth_id).first()
    if gt is None:
        raise DomainError(f"no ground truth {ground_truth_id} for case {case.code}", code="not_found", http_status=404)
    return gt


def ground_truth_payload(gt: GroundTruth) -> dict:
    return {
        "id": gt.pk,
        "case": gt.case.code,
        "version": gt.version,
        "supersedes": gt.supersedes_id,
        "margin_status": gt.margin_status,
        "closest_distance_mm": gt.closest_distance_mm,
        "face_status": gt.face_status,
        "tumour_type": gt.tumour_type,
        "segmentation_id": gt.segmentation_id,
        "slice_index": gt.slice_index,
        "notes": gt.notes,
        "correction_reason": gt.correction_reason,
        "source": gt.source,
        "created_by": gt.created_by.get_username() if gt.created_by else None,
        "created_at": gt.created_at.isoformat(),
        "signed_off": gt.signed_off,
        "signed_off_by": gt.signed_off_by.get_username() if gt.signed_off_by else None,
        "signed_off_at": gt.signed_off_at.isoformat() if gt.signed_off_at else None,
    }


def ground_truth_overview(*, study: Study | None = None) -> list[dict]:
    """Cases (of one study, or all) with the state of their current ground truth."""
    cases = Case.objects.order_by("code")
    if study is not None:
        cases = cases.filter(study_links__study=study)
    current: dict[int, GroundTruth] = {}
    for gt in GroundTruth.objects.filter(case__in=cases).order_by("case_id", "version"):
        current[gt.case_id] = gt
    rows = []
    for case in cases:
        gt = current.get(case.pk)
        rows.append({
            "code": case.code,
            "state": "missing" if gt is None else ("signed_off" if gt.signed_off else "draft"),
            "version": gt.version if gt else None,
            "margin_status": gt.margin_status if gt else None,
            "closest_distance_mm": gt.closest_distance_mm if gt else None,
            "has_outline": bool(gt and gt.segmentation_id),
        })
    return rows


# --- audit -----------------------------------------------------------------------------------


def audit_events(*, actor: str = "", action: str = "", object_type: str = "", case_code: str = "",
                 study_id: int | None = None, since: datetime | None = None, until: datetime | None = None):
    from audit.models import AuditEvent

    events = AuditEvent.objects.select_related("actor").order_by("-at", "-id")
    if actor:
        events = events.filter(actor__username=actor)
    if action:
        events = events.filter(action__startswith=action)
    if object_type:
        events = events.filter(object_type=object_type)
    if case_code:
        events = events.filter(case_code=case_code)
    if study_id is not None:
        events = events.filter(Q(detail__study_id=study_id) | Q(object_type="study", object_id=str(study_id)))
    if since is not None:
        events = events.filter(at__gte=since)
    if until is not None:
        events = events.filter(at__lt=until)
    return events


def audit_event_payload(event) -> dict:
    return {
        "id": event.pk,
        "at": event.at.isoformat(),
        "actor": event.actor.get_username() if event.actor else None,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "case_code": event.case_code,
        "detail": event.detail,
    }


def assignment_for(*, session: ReadingSession, case: Case) -> Assignment | None:
    return Assignment.objects.filter(session=session, case=case).first()


def study_reader_exists(*, study: Study, user) -> bool:
    return StudyReader.objects.filter(study=study, reader=user).exists()


def ensure_model_visible(*, user, case: Case) -> None:
    """Refuse (403) the model's output to a user who is blinded to it on this case."""
    from petctweb.errors import DomainError

    if not case_access(user=user, case=case).can_see_model:
        raise DomainError("the model's output is hidden in this reading session", code="blinded", http_status=403)
