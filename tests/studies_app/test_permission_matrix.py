"""Every role against every URL pattern of the project, with the exact expected status, and no leaks;
and every role against the access policy itself (``portal.access_policy``), which all of them ask.

The patterns come from ``get_resolver()``, so an endpoint added without a matrix entry fails here.
Every 2xx body is also searched for sentinels that the role must never receive: the model's result
of a blinded case, another reader's comment, and ground truth.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import AnonymousUser
from django.urls import URLPattern, URLResolver, get_resolver

from cases.specimen_surfaces import specimen_surface_latest
from inference.models import DicomNode, MarginResult
from inference.reader_masks import draft_save
from petctweb.errors import DomainError
from portal.access_policy import (
    can_see_ground_truth,
    case_access,
    reads_visible,
    study_get_for_admin,
    visible_cases,
)
from studies.services import (
    ground_truth_record,
    ground_truth_sign_off,
    read_submit,
    study_close,
    study_create,
)
from training.models import TrainingJob

from .conftest import make_case, make_model_result, mask_body

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "no_role", "reader", "outsider", "pathologist", "study_admin", "superuser")
MODEL_SENTINEL = "0.123456"  # the blinded case's model margin distance
COMMENT_SENTINEL = "SENTINEL-OTHER-READER-COMMENT"
GT_SENTINEL = "SENTINEL-GROUND-TRUTH-TYPE"
LOGIN = "login"  # a redirect to the login page
NEVER = {  # sentinel -> roles that must never receive it
    MODEL_SENTINEL: {"anonymous", "no_role", "reader", "outsider", "pathologist"},
    COMMENT_SENTINEL: {"anonymous", "no_role", "reader", "outsider", "pathologist"},
    GT_SENTINEL: {"anonymous", "no_role", "reader", "outsider"},
}


def row(*statuses) -> dict:
    assert len(statuses) == len(ROLES)
    return dict(zip(ROLES, statuses, strict=True))


ADMIN_ONLY_API = row(403, 403, 403, 403, 403, 200, 200)
ANY_ROLE_API = row(403, 403, 200, 200, 200, 200, 200)

# route -> {method: expected per role} ; ("POST", body) pairs use a body that passes no validation, so
# an allowed role gets 400 (or a business 409) and nothing changes.
MATRIX: dict[str, dict] = {
    # --- accounts and pages of the rest of the product
    "accounts/login/": {"GET": row(200, 200, 200, 200, 200, 200, 200)},
    "accounts/logout/": {"GET": row(405, 405, 405, 405, 405, 405, 405)},
    "": {"GET": row(LOGIN, 200, 200, 200, 200, 200, 200)},
    "upload/": {"GET": row(LOGIN, 403, 403, 403, 403, 200, 200)},
    "cases/<str:code>/": {"GET": row(LOGIN, 404, 200, 404, 200, 200, 200)},
    # --- case API
    "api/cases/": {"GET": ANY_ROLE_API},
    "api/cases/upload/": {"POST": row(403, 403, 403, 403, 403, 400, 400), "format": "multipart"},
    "api/cases/<str:code>/": {"GET": row(403, 403, 200, 404, 200, 200, 200)},
    "api/cases/<str:code>/state/": {"GET": row(403, 403, 200, 404, 200, 200, 200)},
    # --- resumable uploads and the live ingest list (portal/api/uploads.py; tests/app/test_upload_sessions.py):
    # administrators only; a session is its uploader's (an unknown token is 404 to them).
    "api/uploads/": {"GET": ADMIN_ONLY_API, "POST": row(403, 403, 403, 403, 403, 400, 400)},
    "api/uploads/<str:token>/": {"GET": row(403, 403, 403, 403, 403, 404, 404),
                                 "PUT": row(403, 403, 403, 403, 403, 404, 404)},
    "api/uploads/<str:token>/complete/": {"POST": row(403, 403, 403, 403, 403, 404, 404)},
    "api/ingests/": {"GET": ADMIN_ONLY_API},
    "api/cases/<str:code>/volumes/<str:kind>/": {"GET": row(403, 403, 403, 404, 403, 200, 200)},
    "api/cases/<str:code>/segmentations/": {"GET": row(403, 403, 200, 404, 200, 200, 200),
                                            "POST": row(403, 403, 400, 404, 400, 400, 400)},
    "api/cases/<str:code>/segmentations/draft/": {"GET": row(403, 403, 200, 404, 204, 204, 204),
                                                  "PUT": row(403, 403, 400, 404, 400, 400, 400)},
    "api/cases/<str:code>/segmentations/<int:segmentation_id>/mask/": {"GET": row(403, 403, 404, 404, 404, 200, 200)},
    # Orientation names faces for everyone who sees the case; administrators and pathologists record it.
    "api/cases/<str:code>/orientation/": {"GET": row(403, 403, 200, 404, 200, 200, 200),
                                          "POST": row(403, 403, 403, 404, 400, 400, 400)},
    # The specimen surface goes with the model's output: administrators and readers who may see it.
    "api/cases/<str:code>/specimen-surfaces/": {"GET": row(403, 403, 403, 404, 403, 200, 200),
                                                "POST": row(403, 403, 403, 404, 403, 400, 400)},
    "api/cases/<str:code>/specimen-surfaces/<int:surface_id>/mask/": {"GET": row(403, 403, 403, 404, 403, 200, 200)},
    "api/cases/<str:code>/inference/": {"POST": row(403, 403, 403, 403, 403, 400, 400), "body": {"model": "nope:0"}},
    "api/cases/<str:code>/results/<str:fmt>/": {"GET": row(403, 403, 403, 404, 403, 200, 200)},
    "api/inference-runs/<int:run_id>/": {"GET": row(403, 403, 403, 404, 403, 200, 200)},
    "api/models/": {"GET": ANY_ROLE_API},
    # --- results to PACS (portal/api/pacs.py): study administrators only
    "api/dicom-nodes/": {"GET": ADMIN_ONLY_API, "POST": row(403, 403, 403, 403, 403, 400, 400)},
    "api/dicom-nodes/<int:node_id>/": {"GET": ADMIN_ONLY_API, "PUT": row(403, 403, 403, 403, 403, 400, 400)},
    "api/cases/<str:code>/results/send/": {"POST": row(403, 403, 403, 403, 403, 400, 400)},
    "api/cases/<str:code>/deliveries/": {"GET": ADMIN_ONLY_API},
    # The API description is served to signed-in users only.
    "api/schema/": {"GET": row(403, 200, 200, 200, 200, 200, 200)},
    "api/docs/": {"GET": row(403, 200, 200, 200, 200, 200, 200)},
    # --- margin calls
    "api/cases/<str:code>/reads/": {"GET": row(403, 403, 200, 404, 200, 200, 200),
                                    "POST": row(403, 403, 400, 404, 403, 403, 403)},
    "api/cases/<str:code>/reads/<int:read_id>/": {"GET": row(403, 403, 404, 404, 404, 200, 200)},
    "api/cases/<str:code>/reads/<int:read_id>/amend/": {"POST": row(403, 403, 404, 404, 403, 403, 403)},
    # --- studies API
    "api/studies/": {"GET": ADMIN_ONLY_API, "POST": row(403, 403, 403, 403, 403, 400, 400)},
    "api/studies/mine/": {"GET": ANY_ROLE_API},
    "api/studies/audit/": {"GET": ADMIN_ONLY_API},
    "api/studies/audit/export/": {"GET": ADMIN_ONLY_API},
    "api/studies/ground-truth/": {"GET": row(403, 403, 403, 403, 200, 200, 200)},
    "api/studies/ground-truth/<str:code>/": {"GET": row(403, 403, 403, 403, 200, 200, 200),
                                             "POST": row(403, 403, 403, 403, 400, 403, 403)},
    "api/studies/ground-truth/<str:code>/<int:ground_truth_id>/": {
        "GET": row(403, 403, 403, 403, 200, 200, 200), "PUT": row(403, 403, 403, 403, 400, 403, 403)},
    "api/studies/ground-truth/<str:code>/<int:ground_truth_id>/sign-off/": {
        "POST": row(403, 403, 403, 403, 409, 403, 403)},  # already signed off
    "api/studies/<int:study_id>/": {"GET": ADMIN_ONLY_API},
    "api/studies/<int:study_id>/cases/": {"POST": row(403, 403, 403, 403, 403, 400, 400)},
    "api/studies/<int:study_id>/readers/": {"POST": row(403, 403, 403, 403, 403, 400, 400)},
    "api/studies/<int:study_id>/close/": {"POST": row(403, 403, 403, 403, 403, 409, 409), "closed_study": True},
    "api/studies/<int:study_id>/sessions/<int:session_id>/schedule/": {"POST": row(403, 403, 403, 403, 403, 400, 400)},
    "api/studies/<int:study_id>/worklist/": {"GET": row(403, 403, 200, 404, 404, 404, 404)},
    "api/studies/<int:study_id>/reads/export/": {"GET": ADMIN_ONLY_API},
    "api/studies/<int:study_id>/ground-truth/import/": {"POST": row(403, 403, 403, 403, 403, 400, 400),
                                                        "format": "multipart"},
    # --- study results
    "api/studies/<int:study_id>/results/": {"GET": ADMIN_ONLY_API},
    "api/studies/<int:study_id>/results/json": {"GET": ADMIN_ONLY_API},
    "api/studies/<int:study_id>/results/reads.csv": {"GET": ADMIN_ONLY_API},
    "api/studies/<int:study_id>/results/statistics.csv": {"GET": ADMIN_ONLY_API},
    "api/studies/<int:study_id>/results/study.imrmc": {"GET": ADMIN_ONLY_API},
    "api/studies/<int:study_id>/results/masks.zip": {"GET": ADMIN_ONLY_API},
    "api/studies/<int:study_id>/results/chart-<str:chart>.csv": {"GET": ADMIN_ONLY_API},
    "studies/<int:study_id>/results/": {"GET": row(LOGIN, 403, 403, 403, 403, 200, 200)},
    # --- studies pages
    "studies/": {"GET": row(LOGIN, 403, 200, 200, 302, 200, 200)},
    "studies/new/": {"GET": row(LOGIN, 403, 403, 403, 403, 200, 200)},
    "studies/audit/": {"GET": row(LOGIN, 403, 403, 403, 403, 200, 200)},
    "studies/ground-truth/": {"GET": row(LOGIN, 403, 403, 403, 200, 200, 200)},
    "studies/ground-truth/<str:code>/": {"GET": row(LOGIN, 403, 403, 403, 200, 200, 200)},
    "studies/<int:study_id>/": {"GET": row(LOGIN, 403, 403, 403, 403, 200, 200)},
    "studies/<int:study_id>/action/": {"GET": row(LOGIN, 405, 405, 405, 405, 405, 405),
                                       "POST": row(LOGIN, 403, 403, 403, 403, 302, 302), "body": {"action": ""}},
    "studies/<int:study_id>/worklist/": {"GET": row(LOGIN, 404, 200, 404, 404, 404, 404)},
    "studies/<int:study_id>/next/": {"GET": row(LOGIN, 404, 302, 404, 404, 404, 404)},
    "studies/<int:study_id>/read/<str:code>/": {"GET": row(LOGIN, 404, 302, 404, 404, 404, 404)},
    # --- training (training/urls.py): study administrators only
    "api/training-jobs/": {"GET": ADMIN_ONLY_API, "POST": row(403, 403, 403, 403, 403, 400, 400), "body": {"folds": 1}},
    "api/training-jobs/<int:job_id>/": {"GET": ADMIN_ONLY_API},
    "training/": {"GET": row(LOGIN, 403, 403, 403, 403, 200, 200)},
    # --- API tokens (portal/api/tokens.py): every signed-in user manages their own (tests/app/test_tokens.py)
    "api/tokens/": {"GET": row(403, 200, 200, 200, 200, 200, 200),
                    "POST": row(403, 400, 400, 400, 400, 400, 400), "body": {"days": 0}},
    "api/tokens/<str:token_key>/": {"GET": row(403, 405, 405, 405, 405, 405, 405)},
}


def all_routes(resolver=None, prefix: str = ""):
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            yield from all_routes(pattern, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


@pytest.fixture
def world(users, client_for):
    case = make_case()
    segmentation = make_model_result(case)
    MarginResult.objects.filter(segmentation=segmentation).update(closest_margin_mm=float(MODEL_SENTINEL))
    free = make_case()
    make_model_result(free)
    study = study_create(user=users["study_admin"], name="Matrix", design="unaided", case_codes=[case.code],
                         reader_usernames=["reader1", "reader2"], seed=5)
    closed = study_create(user=users["study_admin"], name="Closed", design="unaided", case_codes=[make_case().code],
                          reader_usernames=["reader2"])
    study_close(study=closed, user=users["study_admin"])
    other = read_submit(user=users["reader2"], case=case, status="positive", confidence=3, comment=COMMENT_SENTINEL,
                        time_spent_s=3)
    read_submit(user=users["reader"], case=case, status="negative", confidence=4, time_spent_s=5)
    body = mask_body(case)
    draft_save(case=case, author=users["reader"], source="reader", shape=body["shape"], encoding=body["encoding"],
               data=body["data"])
    gt = ground_truth_record(user=users["pathologist"], case=case, margin_status="negative", closest_distance_mm=3,
                             tumour_type=GT_SENTINEL)
    ground_truth_sign_off(user=users["pathologist"], ground_truth=gt)
    values = {
        "code": case.code, "kind": "model_mask", "segmentation_id": segmentation.pk, "fmt": "nifti", "chart": "roc",
        "run_id": segmentation.inference_run_id, "read_id": other.pk, "ground_truth_id": gt.pk,
        "study_id": study.pk, "session_id": study.sessions.filter(reader=users["reader"]).get().pk,
        "surface_id": specimen_surface_latest(case=case).pk,
        "token_key": "notakey",
        "token": "0" * 32,  # an upload session nobody opened
        "node_id": DicomNode.objects.create(name="matrix", ae_title="PACS", host="127.0.0.1", port=104).pk,
        "job_id": TrainingJob.objects.create(status="done", is_active=False, requested_by=users["study_admin"]).pk,
    }
    clients = {"anonymous": client_for(None), "outsider": client_for("reader3"),
               **{r: client_for(r) for r in ("no_role", "reader", "pathologist", "study_admin", "superuser")}}
    return {"values": values, "closed_study": closed.pk, "clients": clients, "free_case": free, "study_case": case,
            "study": study}


def _url(route: str, values: dict) -> str:
    def fill(match):
        return str(values[match.group(2)])

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", fill, route)


def _outcome(response, expected) -> bool:
    if expected == LOGIN:
        return response.status_code == 302 and "/accounts/login/" in response["Location"]
    return response.status_code == expected


def _leaks(role: str, response) -> list[str]:
    if not 200 <= response.status_code < 300 or getattr(response, "streaming", False):
        return []
    body = response.content.decode("utf-8", errors="replace")
    return [s for s, roles in NEVER.items() if role in roles and s in body]


def test_every_url_pattern_has_a_matrix_entry():
    routes = {route for route, _ in all_routes() if not route.startswith("admin/")}
    missing = sorted(routes - set(MATRIX))
    stale = sorted(set(MATRIX) - routes)
    assert not missing, f"URL patterns without a permission-matrix entry: {missing}"
    assert not stale, f"matrix entries for URL patterns that no longer exist: {stale}"


def test_permission_matrix(world):
    failures = []
    for route, entry in MATRIX.items():
        values = dict(world["values"])
        if entry.get("closed_study"):
            values["study_id"] = world["closed_study"]
        url = _url(route, values)
        for method in ("GET", "POST", "PUT"):
            if method not in entry:
                continue
            for role, expected in entry[method].items():
                client = world["clients"][role]
                if method == "GET":
                    response = client.get(url)
                else:
                    fmt = entry.get("format", "json")
                    body = entry.get("body", {})
                    send = client.post if method == "POST" else client.put
                    response = send(url, body, format=fmt) if fmt == "multipart" else send(url, body, format="json")
                if not _outcome(response, expected):
                    failures.append(f"{method} {url} as {role}: {response.status_code}, expected {expected}")
                leaked = _leaks(role, response)
                if leaked:
                    failures.append(f"LEAK {method} {url} as {role}: {leaked}")
    assert not failures, "\n".join(failures)


def test_the_admin_site_is_for_staff_only(world):
    values = {"object_id": "1", "content_type_id": "1", "id": "1", "app_label": "audit", "url": "nothing/"}
    failures = []
    for route, pattern in all_routes():
        if not route.startswith("admin/"):
            continue
        url = "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: values[m.group(2)], route)
        url = re.sub(r"\^?\(\?P<(\w+)>[^)]*\)(/?)\$?", lambda m: values[m.group(1)].rstrip("/") + m.group(2), url)
        for role in ROLES[:-1]:  # every non-staff role
            response = world["clients"][role].get(url)
            ok = (response.status_code in (302, 404, 405) and "/admin/" in response.get("Location", "/admin/")) or (
                pattern.name == "login" and response.status_code == 200)
            if not ok or _leaks(role, response):
                failures.append(f"GET {url} as {role}: {response.status_code} {response.get('Location')}")
    assert not failures, "\n".join(failures)


# --- the policy's own decisions -------------------------------------------------------------

# role -> (can_see_model, can_see_ground_truth, can_call, can_edit_mask) on the study case (unaided,
# already called by "reader", amendments allowed) and on the free case (in no study).
POLICY_STUDY_CASE = row(None, None, (False, False, True, True), None, (False, True, False, True),
                        (True, True, False, True), (True, True, False, True))
POLICY_FREE_CASE = row(None, None, (True, False, True, True), (True, False, True, True), (True, True, False, True),
                       (True, True, False, True), (True, True, False, True))
SEES_READS_OF_OTHERS = row(False, False, False, False, False, True, True)


def _policy_user(users, role: str):
    return AnonymousUser() if role == "anonymous" else users["reader3" if role == "outsider" else role]


def test_access_policy_per_role(world, users):
    failures = []
    for role in ROLES:
        user = _policy_user(users, role)
        visible = set(visible_cases(user=user).values_list("pk", flat=True))
        for case, expected in ((world["study_case"], POLICY_STUDY_CASE[role]),
                               (world["free_case"], POLICY_FREE_CASE[role])):
            access = case_access(user=user, case=case)
            got = (access.can_see_model, access.can_see_ground_truth, access.can_call, access.can_edit_mask)
            if (case.pk in visible) != (expected is not None):
                failures.append(f"{role}: case {case.code} visible={case.pk in visible}, expected {expected is not None}")
            if got != (expected or (False, False, False, False)):
                failures.append(f"{role}: case {case.code} access {got}, expected {expected}")
        others = reads_visible(user=user, case=world["study_case"]).exclude(reader=user.pk).exists()
        if others != SEES_READS_OF_OTHERS[role]:
            failures.append(f"{role}: sees other readers' calls={others}")
        if can_see_ground_truth(user) != (role in ("pathologist", "study_admin", "superuser")):
            failures.append(f"{role}: can_see_ground_truth={can_see_ground_truth(user)}")
        try:
            study_get_for_admin(study_id=world["study"].pk, user=user)
            manages = True
        except DomainError:
            manages = False
        if manages != (role in ("study_admin", "superuser")):
            failures.append(f"{role}: manages the study={manages}")
    assert not failures, "\n".join(failures)
