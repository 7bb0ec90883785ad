"""The access policy: who may see which case, the model's output, ground truth, calls and a study's
results and exports, and what a reader may do on a case (blinding). Every API view and page asks here.

Rules (the server enforces them on every endpoint; pages only mirror them):

- Study administrators and superusers see every case, the model's output and ground truth, and
  every reader's calls, and manage studies and export their results. They do not make calls.
- Pathologists see every case and all ground truth. On cases that belong to a reader study they
  do not see the model's output, so ground truth stays independent of the model. No calls.
- Readers see a case that belongs to no study freely (model visible, free reads). A case that
  belongs to any study is visible to a reader only through their assignment in such a study,
  and then what they see follows their current reading session (``studies.selectors.reader_context``):
  the model's output only in an aided session that has opened; never ground truth or another
  reader's calls or masks.
- Anyone sees, and may fetch, the masks they drew themselves.
- Everyone who sees a case sees its specimen orientation (it only names the faces); study administrators
  and pathologists record it, since a new version renames the faces for every reader of the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.urls import reverse

from cases.models import Case
from inference.models import Segmentation
from petctweb.errors import DomainError
from petctweb.roles import PATHOLOGIST, READER, is_study_admin, user_roles
from studies.models import Read, Study, StudyCase
from studies.selectors import ReaderContext, reader_context


@dataclass(frozen=True)
class CaseAccess:
    """What one user may see and do on one case, decided on the server."""

    can_see_model: bool
    can_see_ground_truth: bool
    can_call: bool
    can_edit_mask: bool
    read_context: dict = field(default_factory=dict)  # {"readId", "studyId", "session", "aided", "canCall", ...}


# --- cases -----------------------------------------------------------------------------------


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


def case_get_for_user(*, code: str, user) -> Case:
    case = visible_cases(user=user).filter(code=code).first()
    if case is None:
        raise DomainError(f"no case {code} that you may see", code="not_found", http_status=404)
    return case


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
        # Lamella studies: the unit to call, its slice (shown first) and whether scrolling away is allowed.
        "unitId": context.unit.pk if context.unit else None,
        "unitLabel": context.unit.label if context.unit else None,
        "sliceIndex": context.unit.slice_index if context.unit else None,
        "allowContext": bool(study.allow_context) if study and context.unit else True,
    }


def case_access(*, user, case: Case, unit=None) -> CaseAccess:
    if not user.is_authenticated:
        return CaseAccess(False, False, False, False, _read_context_payload(None, can_call=False))
    roles = user_roles(user)
    if is_study_admin(user):
        return CaseAccess(True, True, False, True, _read_context_payload(None, can_call=False))
    if PATHOLOGIST in roles:
        in_study = StudyCase.objects.filter(case=case).exists()
        return CaseAccess(not in_study, True, False, True, _read_context_payload(None, can_call=False))
    if READER in roles:
        context = reader_context(user=user, case=case, unit=unit)
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


# --- model output, masks and ground truth ---------------------------------------------------


def ensure_model_visible(*, user, case: Case) -> None:
    """Refuse (403) the model's output to a user who is blinded to it on this case."""
    if not case_access(user=user, case=case).can_see_model:
        raise DomainError("the model's output is hidden in this reading session", code="blinded", http_status=403)


def ensure_specimen_surface_access(*, user, case: Case) -> None:
    """The specimen surface (and correcting it) is part of the model's analysis: administrators, and
    readers who may see the model's output on this case (403 for everyone else)."""
    allowed = is_study_admin(user) or (READER in user_roles(user) and case_access(user=user, case=case).can_see_model)
    if not allowed:
        raise DomainError("the specimen surface is shown with the model's output, which you may not see here",
                          code="forbidden", http_status=403)


def ensure_mask_editable(*, user, case: Case) -> None:
    if not case_access(user=user, case=case).can_edit_mask:
        raise DomainError("you may not edit masks on this case now", code="forbidden", http_status=403)


def can_see_segmentation(*, user, segmentation: Segmentation | None, access: CaseAccess) -> bool:
    """One's own masks; the model's where the model is visible; ground-truth outlines where truth is."""
    return segmentation is not None and (
        segmentation.author_id == user.pk
        or (segmentation.source == Segmentation.Source.MODEL and access.can_see_model)
        or (segmentation.source == Segmentation.Source.GROUND_TRUTH and access.can_see_ground_truth)
    )


def can_see_ground_truth(user) -> bool:
    return user.is_authenticated and (is_study_admin(user) or PATHOLOGIST in user_roles(user))


# --- specimen orientation ------------------------------------------------------------------------


def can_record_orientation(*, user) -> bool:
    return user.is_authenticated and (is_study_admin(user) or PATHOLOGIST in user_roles(user))


def ensure_orientation_recordable(*, user, case: Case) -> None:
    """Refuse (403) a new orientation version to anyone but administrators and pathologists. ``case`` must
    already be one the user may see (404 comes first, so a hidden case is not revealed)."""
    if not can_record_orientation(user=user):
        raise DomainError(f"only study administrators and pathologists record the specimen orientation "
                          f"(case {case.code})", code="forbidden", http_status=403)


# --- calls (reads) -----------------------------------------------------------------------------


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


# --- studies, their results and exports ---------------------------------------------------


def study_get_for_admin(*, study_id: int, user) -> Study:
    """A study its administrator may manage, analyse and export (403 for anyone else)."""
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
