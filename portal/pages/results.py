"""The results dashboard page (study administrators only; the numbers come from the JSON API)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse

from petctweb.errors import DomainError
from petctweb.roles import is_study_admin, primary_role
from portal.access_policy import study_get_for_admin
from studies import services
from studies.results.chart_data import CHARTS
from studies.results.exports import EXPORT_FORMATS

REFRESH_SECONDS = 10
EXPORT_URL_NAMES = {
    "json": "api-study-results-json",
    "reads.csv": "api-study-results-reads",
    "statistics.csv": "api-study-results-statistics",
    "study.imrmc": "api-study-results-imrmc",
    "masks.zip": "api-study-results-masks",
}


@login_required
def study_results_page(request, study_id: int):
    if not is_study_admin(request.user):
        raise PermissionDenied("Only study administrators see a study's results.")
    try:
        study = study_get_for_admin(study_id=study_id, user=request.user)
    except DomainError as exc:
        raise Http404(exc.message) from exc
    services.view_record(user=request.user, what="study_results", object_type="study", object_id=study.pk,
                         detail={"study_id": study.pk, "page": "dashboard"})
    exports = [{"format": fmt, "url": reverse(EXPORT_URL_NAMES[fmt], kwargs={"study_id": study.pk}),
                "testid": "export-" + fmt.replace(".", "-")} for fmt in EXPORT_FORMATS]
    config = {
        "studyId": study.pk,
        "apiUrl": reverse("api-study-results", kwargs={"study_id": study.pk}),
        "refreshSeconds": REFRESH_SECONDS,
        "exports": {e["format"]: e["url"] for e in exports},
        "charts": {chart: reverse("api-study-results-chart", kwargs={"study_id": study.pk, "chart": chart})
                   for chart in CHARTS},
        # The page fills in a case code (the placeholder cannot be a real code: codes have no underscores).
        "gtCaseUrl": reverse("gt-case", kwargs={"code": "__code__"}),
    }
    return render(request, "studies/results/dashboard.html", {
        "role": primary_role(request.user), "study": study, "config": config, "exports": exports,
        "study_url": reverse("study-detail", kwargs={"study_id": study.pk}),
    })
