"""Server-rendered pages for reader studies, worklists, ground truth and the audit log.

Pages call the same selectors and services as the API; forms post back here and every refusal is
shown as a message (nothing is half-saved: the services validate before writing).
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from cases.models import Case
from cases.orientation import face_names
from inference.models import Segmentation
from petctweb.errors import DomainError
from petctweb.roles import PATHOLOGIST, READER, is_study_admin, primary_role, user_roles
from portal.access_policy import (
    can_see_ground_truth,
    case_get_for_user,
    study_get_for_admin,
    study_get_for_reader,
)
from portal.api.audit import audit_filters
from portal.api.common import MAX_CSV_BYTES, decode_csv, parse_opens_at
from portal.pages.section_rows import section_rows, section_status_from_rows
from studies import selectors, services
from studies.models import FACES, MARGIN_STATUSES, ReadingSession, Study


def _context(request, **extra) -> dict:
    return {"role": primary_role(request.user), **extra}


def _require_admin(request) -> None:
    if not is_study_admin(request.user):
        raise PermissionDenied("Only study administrators may do this.")


def _require_gt_viewer(request) -> None:
    if not can_see_ground_truth(request.user):
        raise PermissionDenied("Only pathologists and study administrators see ground truth.")


def _admin_study(request, study_id: int) -> Study:
    _require_admin(request)
    try:
        return study_get_for_admin(study_id=study_id, user=request.user)
    except DomainError as exc:
        raise Http404(exc.message) from exc


def _reader_study(request, study_id: int) -> Study:
    try:
        return study_get_for_reader(study_id=study_id, user=request.user)
    except DomainError as exc:
        raise Http404(exc.message) from exc


@login_required
def studies_home(request):
    user = request.user
    if is_study_admin(user):
        studies = list(selectors.study_list(user=user))
        return render(request, "studies/study_list.html", _context(request, studies=studies))
    roles = user_roles(user)
    if READER in roles:
        items = []
        for study in selectors.reader_studies(user=user):
            progress = selectors.reader_worklist(user=user, study=study, with_rows=False)
            done, total = sum(p.done for p in progress), sum(p.total for p in progress)
            items.append({"study": study, "sessions": progress, "done": done, "total": total,
                          "percent": round(100 * done / total) if total else 100,
                          "next_code": selectors.worklist_next_code(progress)})
        return render(request, "studies/my_studies.html", _context(request, items=items))
    if PATHOLOGIST in roles:
        return redirect("gt-list")
    raise PermissionDenied("Your account has no role in petctweb; ask an administrator.")


def _eligible_readers():
    readers = get_user_model().objects.filter(groups__name=READER, is_active=True).order_by("username").distinct()
    return [u for u in readers if not is_study_admin(u) and PATHOLOGIST not in user_roles(u)]


@login_required
def study_create_page(request):
    _require_admin(request)
    form = {"design": "crossover", "margin_threshold_mm": "", "washout_days": "", "seed": "", "name": "",
            "description": "", "cases": [], "readers": [], "positive_categories": ["positive", "close"],
            "allow_amendments": True, "enforce_order": True, "indeterminate_counts_as": "positive",
            "reading_unit": "specimen", "allow_context": False, "units": ""}
    if request.method == "POST":
        post = request.POST
        form = {
            "name": post.get("name", ""), "description": post.get("description", ""),
            "design": post.get("design", ""), "margin_threshold_mm": post.get("margin_threshold_mm", ""),
            "washout_days": post.get("washout_days", ""), "seed": post.get("seed", ""),
            "cases": post.getlist("cases"), "readers": post.getlist("readers"),
            "positive_categories": ["positive", *[c for c in post.getlist("positive_categories") if c != "positive"]],
            "allow_amendments": post.get("allow_amendments") == "on",
            "enforce_order": post.get("enforce_order") == "on",
            "indeterminate_counts_as": post.get("indeterminate_counts_as", "positive"),
            "reading_unit": post.get("reading_unit", "specimen"), "allow_context": post.get("allow_context") == "on",
            "units": post.get("units", ""),
        }
        try:
            study = services.study_create(
                user=request.user, name=form["name"], description=form["description"], design=form["design"],
                case_codes=form["cases"], reader_usernames=form["readers"],
                margin_threshold_mm=_optional_number(form["margin_threshold_mm"], "margin threshold", float),
                positive_categories=form["positive_categories"],
                washout_days=_optional_number(form["washout_days"], "washout", int),
                seed=_optional_number(form["seed"], "seed", int), allow_amendments=form["allow_amendments"],
                enforce_order=form["enforce_order"], indeterminate_counts_as=form["indeterminate_counts_as"],
                reading_unit=form["reading_unit"], allow_context=form["allow_context"],
                units=_unit_lines(form["units"]),
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Study '{study.name}' created with {len(form['cases'])} case(s) and "
                                      f"{len(form['readers'])} reader(s).")
            return redirect("study-detail", study_id=study.pk)
    busy = set(Case.objects.filter(study_links__study__status=Study.Status.OPEN).values_list("code", flat=True))
    cases = [{"code": c.code, "created_at": c.created_at, "in_open_study": c.code in busy}
             for c in Case.objects.order_by("code")]
    return render(request, "studies/study_create.html", _context(
        request, form=form, cases=cases, readers=_eligible_readers(), designs=Study.Design.choices,
        statuses=MARGIN_STATUSES, indeterminate_choices=Study.IndeterminateCountsAs.choices,
        reading_units=Study.ReadingUnit.choices))


def _unit_lines(text: str) -> list[dict] | None:
    """Lamellae typed one per line as ``case slice_index [label]``; None when blank."""
    units = []
    for n, line in enumerate((text or "").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) not in (2, 3):
            raise DomainError(f"lamella line {n}: write 'case slice_index' or 'case slice_index label'",
                              code="invalid")
        units.append({"case": parts[0], "slice_index": _optional_number(parts[1], f"slice index on line {n}", int),
                      **({"label": parts[2]} if len(parts) == 3 else {})})
    return units or None


def _optional_number(value: str, name: str, kind):
    value = (value or "").strip()
    if not value:
        return None
    try:
        return kind(value)
    except ValueError as exc:
        raise DomainError(f"{name} must be a {'whole ' if kind is int else ''}number", code="invalid") from exc


@login_required
def study_detail_page(request, study_id: int):
    study = _admin_study(request, study_id)
    progress = selectors.study_progress(study=study)
    for reader in progress:
        reader["percent"] = round(100 * reader["done"] / reader["total"]) if reader["total"] else 100
    sessions = {s.pk: s for s in ReadingSession.objects.filter(study=study)}
    in_study = set(selectors.study_case_codes(study=study))
    readers_in = set(selectors.study_reader_usernames(study=study))
    ground_truth = selectors.ground_truth_overview(study=study)
    return render(request, "studies/study_detail.html", _context(
        request, study=study, progress=progress, sessions=sessions,
        summary=selectors.study_summary(study), ground_truth=ground_truth,
        lacking_truth=[g for g in ground_truth if g["state"] != "signed_off"],
        reads_started=study.reads.exists(),
        addable_cases=[c for c in Case.objects.order_by("code").values_list("code", flat=True) if c not in in_study],
        addable_readers=[u.get_username() for u in _eligible_readers() if u.get_username() not in readers_in],
        audit_url=reverse("audit-log") + "?" + urlencode({"study": study.pk}),
        csv_columns=", ".join(services.CSV_COLUMNS + ("signed_off",)),
    ))


@login_required
@require_POST
def study_action(request, study_id: int):
    study = _admin_study(request, study_id)
    action = request.POST.get("action", "")
    try:
        if action == "close":
            services.study_close(study=study, user=request.user)
            messages.success(request, f"Study '{study.name}' is closed.")
        elif action == "add_cases":
            added = services.study_add_cases(study=study, user=request.user, case_codes=request.POST.getlist("cases"))
            messages.success(request, f"Added {len(added)} case(s).")
        elif action == "add_readers":
            added = services.study_add_readers(study=study, user=request.user,
                                               usernames=request.POST.getlist("readers"))
            messages.success(request, f"Added {len(added)} reader(s).")
        elif action == "schedule":
            session_id = _optional_number(request.POST.get("session_id", ""), "session", int)
            session = ReadingSession.objects.filter(pk=session_id or 0, study=study).first()
            if session is None:
                raise DomainError("no such session in this study", code="not_found", http_status=404)
            session = services.reading_session_schedule(session=session, user=request.user,
                                                        opens_at=parse_opens_at(request.POST.get("opens_at", "")))
            messages.success(request, f"Session {session.number} of {session.reader.get_username()} opens "
                                      f"{session.opens_at:%Y-%m-%d %H:%M} UTC.")
        elif action == "import_ground_truth":
            upload = request.FILES.get("file")
            if upload is None:
                raise DomainError("choose a CSV file to import", code="invalid")
            if upload.size > MAX_CSV_BYTES:
                raise DomainError("the file is too large", code="too_large")
            created = services.ground_truth_import_csv(
                user=request.user, study=study, text=decode_csv(upload.read()), source_name=upload.name or "upload",
                sign_off=request.POST.get("sign_off") == "on")
            messages.success(request, f"Imported ground truth for {len(created)} case(s).")
        else:
            raise DomainError(f"unknown action '{action}'", code="invalid")
    except services.RowErrors as exc:
        messages.error(request, exc.message)
        for line in exc.errors[:200]:
            messages.error(request, line)
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("study-detail", study_id=study.pk)


@login_required
def worklist_page(request, study_id: int):
    study = _reader_study(request, study_id)
    progress = selectors.reader_worklist(user=request.user, study=study)
    done, total = sum(p.done for p in progress), sum(p.total for p in progress)
    return render(request, "studies/worklist.html", _context(
        request, study=study, sessions=progress, done=done, total=total,
        percent=round(100 * done / total) if total else 100, next_code=selectors.worklist_next_code(progress)))


@login_required
def worklist_next(request, study_id: int):
    study = _reader_study(request, study_id)
    item = selectors.worklist_next_item(selectors.reader_worklist(user=request.user, study=study, with_rows=False))
    if item is None:
        messages.info(request, "Nothing to read now.")
        return redirect("study-worklist", study_id=study.pk)
    code, unit_id = item
    url = reverse("study-read", kwargs={"study_id": study.pk, "code": code})
    return redirect(url if unit_id is None else f"{url}?unit={unit_id}")


@login_required
def study_read(request, study_id: int, code: str):
    """Open a case from the worklist: the opening time is recorded, then the viewer opens."""
    study = _reader_study(request, study_id)
    case = Case.objects.filter(code=code, study_links__study=study).first()
    if case is None:
        raise Http404(f"case {code} is not in this study")
    try:
        unit = selectors.reading_unit_for(case=case, unit_id=request.GET.get("unit"))
        if unit is not None and unit.study_id != study.pk:
            raise DomainError(f"lamella {unit.label} is not in this study", code="not_found", http_status=404)
        services.assignment_open(user=request.user, case=case, unit=unit)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    suffix = f"&unit={unit.pk}" if unit is not None else ""
    return redirect(reverse("case-page", kwargs={"code": case.code}) + f"?study={study.pk}{suffix}")


@login_required
def ground_truth_list_page(request):
    _require_gt_viewer(request)
    studies = list(Study.objects.order_by("-created_at"))
    study = None
    if request.GET.get("study"):
        study = next((s for s in studies if str(s.pk) == request.GET["study"]), None)
        if study is None:
            raise Http404("no such study")
    rows = selectors.ground_truth_overview(study=study)
    counts = {state: sum(1 for r in rows if r["state"] == state) for state in ("missing", "draft", "signed_off")}
    return render(request, "studies/ground_truth_list.html", _context(
        request, rows=rows, studies=studies, study=study, counts=counts,
        can_edit=PATHOLOGIST in user_roles(request.user)))


def _truth_values(post) -> dict:
    return {
        "margin_status": post.get("margin_status", ""),
        "closest_distance_mm": post.get("closest_distance_mm", "").strip() or None,
        "face_status": {f: post.get(f"face_{f}", "") for f in FACES if post.get(f"face_{f}")},
        "tumour_type": post.get("tumour_type", ""),
        "segmentation_id": _optional_number(post.get("segmentation_id", ""), "outline", int),
        "slice_index": post.get("slice_index", "").strip() or None,
        "notes": post.get("notes", ""),
        "section_status": section_status_from_rows(post),
    }


@login_required
def ground_truth_case_page(request, code: str):
    _require_gt_viewer(request)
    try:
        case = case_get_for_user(code=code, user=request.user)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    can_edit = PATHOLOGIST in user_roles(request.user)
    posted = None
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only pathologists record ground truth.")
        action = request.POST.get("action", "")
        try:
            current = selectors.ground_truth_current(case=case)
            if action == "sign_off":
                gt = selectors.ground_truth_get(case=case, ground_truth_id=int(request.POST.get("ground_truth_id", 0)))
                services.ground_truth_sign_off(user=request.user, ground_truth=gt)
                messages.success(request, f"Version {gt.version} signed off: it is the final truth used for "
                                          "statistics and training, and locked.")
            elif action in ("save_sign_off", "correct_sign_off"):
                posted = _truth_values(request.POST)
                gt = services.ground_truth_save_and_sign_off(
                    user=request.user, case=case, correction_reason=request.POST.get("correction_reason", ""),
                    **posted)
                messages.success(request, f"Version {gt.version} saved and signed off: it is the final truth "
                                          "used for statistics and training.")
            elif action == "save" and current is not None and not current.signed_off:
                posted = _truth_values(request.POST)
                services.ground_truth_update(user=request.user, ground_truth=current, **posted)
                messages.warning(request, f"Version {current.version} saved as a draft: it does not count until "
                                            "it is signed off.")
            elif action in ("save", "correct"):
                posted = _truth_values(request.POST)
                gt = services.ground_truth_record(user=request.user, case=case,
                                                  correction_reason=request.POST.get("correction_reason", ""),
                                                  **posted)
                messages.warning(request, f"Version {gt.version} saved as a draft: it does not count until it "
                                            "is signed off.")
            else:
                raise DomainError(f"unknown action '{action}'", code="invalid")
        except (DomainError, ValueError) as exc:
            messages.error(request, getattr(exc, "message", str(exc)))
        else:
            return redirect("gt-case", code=case.code)
    services.view_record(user=request.user, what="ground_truth", case=case)
    versions = list(selectors.ground_truth_versions(case=case))
    current = versions[0] if versions else None
    initial = posted or (
        {"margin_status": current.margin_status, "closest_distance_mm": current.closest_distance_mm,
         "face_status": current.face_status, "tumour_type": current.tumour_type,
         "segmentation_id": current.segmentation_id, "slice_index": current.slice_index, "notes": current.notes,
         "section_status": current.section_status}
        if current else {"margin_status": "", "face_status": {}})
    outlines = Segmentation.objects.filter(case=case, source=Segmentation.Source.GROUND_TRUTH,
                                           is_draft=False).select_related("author").order_by("-created_at")
    studies = Study.objects.filter(study_cases__case=case).order_by("-created_at")
    return render(request, "studies/ground_truth_case.html", _context(
        request, case=case, versions=versions, current=current, initial=initial, can_edit=can_edit,
        signed_version=next((v for v in versions if v.signed_off), None),
        statuses=MARGIN_STATUSES, faces=FACES, outlines=outlines, studies=studies,
        face_rows=[(f, (initial.get("face_status") or {}).get(f, ""), name) for f, name in face_names(case=case).items()],
        section_rows=section_rows(case=case, section_status=initial.get("section_status"),
                                  post=request.POST if request.method == "POST" else None),
        slices=case.grid.shape[0], viewer_url=reverse("case-page", kwargs={"code": case.code})))


@login_required
def audit_page(request):
    _require_admin(request)
    try:
        filters = audit_filters(request.GET)
    except DomainError as exc:
        messages.error(request, exc.message)
        filters = audit_filters({})
    events = selectors.audit_events(**filters)
    page = Paginator(events, 100).get_page(request.GET.get("page"))
    rows = [(event, json.dumps(event.detail, sort_keys=True, ensure_ascii=False)) for event in page]
    query = {k: v for k, v in request.GET.items() if k != "page" and v}
    return render(request, "studies/audit.html", _context(
        request, page=page, rows=rows, params=request.GET, query=urlencode(query),
        export_url=reverse("api-audit-export") + ("?" + urlencode(query) if query else ""),
        studies=Study.objects.order_by("-created_at")))
