"""Server-rendered case pages; data and access come from the same policy and payloads as the API."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render

from audit.services import audit_record
from cases.orientation import FACE_LABELS, orientation_conventions
from petctweb.errors import DomainError
from petctweb.roles import READER, is_study_admin, primary_role, user_roles
from portal.access_policy import case_access, case_get_for_user
from portal.payloads import case_detail, case_summaries_for
from studies.selectors import reading_unit_for
from studies.services import assignment_open


@login_required
def case_list_page(request):
    cases = case_summaries_for(user=request.user)
    return render(request, "frontend/case_list.html", {
        "cases": cases, "can_upload": is_study_admin(request.user), "role": primary_role(request.user),
    })


@login_required
def upload_page(request):
    if not is_study_admin(request.user):
        raise PermissionDenied("Only study administrators may upload cases.")
    return render(request, "frontend/upload.html", {"role": primary_role(request.user),
                                                    "chunk_bytes": settings.PETCTWEB_UPLOAD_CHUNK_BYTES,
                                                    "orientation_conventions": orientation_conventions(),
                                                    "orientation_directions": ("superior", "lateral", "anterior"),
                                                    "faces": FACE_LABELS})


@login_required
def case_page(request, code: str):
    try:
        case = case_get_for_user(code=code, user=request.user)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    try:
        unit = reading_unit_for(case=case, unit_id=request.GET.get("unit"))  # a lamella of a lamella study
    except DomainError as exc:
        raise Http404(exc.message) from exc
    audit_record(actor=request.user, action="case.view", object_type="case", object_id=case.pk, case_code=case.code)
    if READER in user_roles(request.user):
        try:
            assignment_open(user=request.user, case=case, unit=unit)  # records when the reader opened an assigned case
        except DomainError:
            pass  # not an assigned case: a free read
    access = case_access(user=request.user, case=case, unit=unit)
    detail = case_detail(case, can_see_model=access.can_see_model, user=request.user,
                           can_see_ground_truth=access.can_see_ground_truth)
    config = {
        "caseCode": case.code,
        "apiBase": f"/api/cases/{case.code}/",
        "user": {"username": request.user.get_username(), "role": primary_role(request.user)},
        "canSeeModel": access.can_see_model,
        "canSeeGroundTruth": access.can_see_ground_truth,
        "canCall": access.can_call,
        "canEditMask": access.can_edit_mask,
        "readContext": {**access.read_context, "canCall": access.can_call},
    }
    return render(request, "frontend/case.html", {
        "case": detail, "viewer_config": config, "role": primary_role(request.user),
        "can_request": is_study_admin(request.user) and access.can_see_model,
    })
