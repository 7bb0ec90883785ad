"""Results API for study administrators: the dashboard's data and the exports (each export audited).

- ``GET api/studies/<id>/results/``: the stored report as JSON with ``computed_at`` and ``stale`` (the
  dashboard polls it); a missing or stale one is recomputed by a worker, 202 ``{"status": "computing"}``
  until the first is ready;
- ``GET api/studies/<id>/results/json``: the same report as a download;
- ``GET api/studies/<id>/results/reads.csv``, ``statistics.csv``, ``study.imrmc``, ``masks.zip``;
- ``GET api/studies/<id>/results/chart-<roc|forest>.csv``: the data of one dashboard chart.

Optional query parameter ``model=name:version`` analyses another registered model version.
"""

from __future__ import annotations

import json
import tempfile

from django.core.cache import cache
from django.http import FileResponse, HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from petctweb.errors import DomainError
from petctweb.permissions import IsStudyAdmin
from portal.access_policy import study_get_for_admin
from studies import services
from studies.results import exports
from studies.results.chart_data import CHARTS, chart_csv
from studies.results.compute import compute
from studies.results.data import study_table
from studies.results.stored import study_report_current

VIEW_AUDIT_SECONDS = 15 * 60  # the dashboard polls; one "study_results.view" per user and study per 15 min
MODEL_PARAM = OpenApiParameter("model", str, description="model version 'name:version' (default: see report)")


def audit_view(*, user, study) -> None:
    if cache.add(f"studyres:viewed:{user.pk}:{study.pk}", 1, VIEW_AUDIT_SECONDS):
        services.view_record(user=user, what="study_results", object_type="study", object_id=study.pk,
                             detail={"study_id": study.pk})


class ResultsApiView(APIView):
    permission_classes = [IsStudyAdmin]

    def study(self, request, study_id: int):
        return study_get_for_admin(study_id=study_id, user=request.user)

    def model_label(self, request) -> str | None:
        return (request.query_params.get("model") or "").strip() or None

    def download(self, request, study, fmt: str, content: str | bytes, content_type: str,
                 detail: dict | None = None) -> HttpResponse:
        exports.record_export(user=request.user, study_id=study.pk, fmt=fmt, detail=detail)
        response = HttpResponse(content, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{exports.file_name(study.pk, fmt)}"'
        return response


class StudyResultsApi(ResultsApiView):
    @extend_schema(operation_id="study_results", parameters=[MODEL_PARAM], responses={200: dict, 202: dict})
    def get(self, request, study_id: int):
        study = self.study(request, study_id)
        stored = study_report_current(study=study, model_label=self.model_label(request) or "")
        audit_view(user=request.user, study=study)
        if not stored.report_json:
            if stored.status == "failed":
                raise DomainError(f"the report could not be computed: {stored.error}", code="not_computable",
                                  http_status=409)
            return Response({"status": "computing"}, status=202)
        # The stored text is MBs: prefixed with its state rather than parsed and serialised again.
        head = json.dumps({"computed_at": stored.computed_at.isoformat(), "stale": stored.stale})
        return HttpResponse(head[:-1] + "," + stored.report_json[1:], content_type="application/json")


class StudyResultsJsonExportApi(ResultsApiView):
    @extend_schema(operation_id="study_results_json", parameters=[MODEL_PARAM], responses={200: dict})
    def get(self, request, study_id: int):
        study = self.study(request, study_id)
        _, report = compute(study, model_label=self.model_label(request))
        return self.download(request, study, "json", exports.report_json(report), "application/json",
                             {"model": report["model"]["label"]})


class StudyReadsCsvExportApi(ResultsApiView):
    @extend_schema(operation_id="study_results_reads_csv", parameters=[MODEL_PARAM], responses={200: str})
    def get(self, request, study_id: int):
        study = self.study(request, study_id)
        table = study_table(study=study, model_label=self.model_label(request))
        return self.download(request, study, "reads.csv", exports.reads_csv(table), "text/csv; charset=utf-8",
                             {"rows": len(table.all_reads), "model": table.model.label})


class StudyStatisticsCsvExportApi(ResultsApiView):
    @extend_schema(operation_id="study_results_statistics_csv", parameters=[MODEL_PARAM], responses={200: str})
    def get(self, request, study_id: int):
        study = self.study(request, study_id)
        _, report = compute(study, model_label=self.model_label(request))
        return self.download(request, study, "statistics.csv", exports.statistics_csv(report),
                             "text/csv; charset=utf-8", {"model": report["model"]["label"]})


class StudyImrmcExportApi(ResultsApiView):
    @extend_schema(operation_id="study_results_imrmc", responses={200: str})
    def get(self, request, study_id: int):
        study = self.study(request, study_id)
        table = study_table(study=study)
        try:
            text = exports.imrmc_text(table)
        except exports.ExportUnavailable as exc:
            raise DomainError(str(exc), code="not_computable", http_status=409) from exc
        return self.download(request, study, "study.imrmc", text, "text/plain; charset=utf-8")


class StudyMasksZipExportApi(ResultsApiView):
    @extend_schema(operation_id="study_results_masks_zip", parameters=[MODEL_PARAM], responses={200: bytes})
    def get(self, request, study_id: int):
        study = self.study(request, study_id)
        table = study_table(study=study, model_label=self.model_label(request))
        spool = tempfile.SpooledTemporaryFile(max_size=64 * 1024 * 1024)  # FileResponse closes it
        manifest = exports.write_masks_zip(table, spool)
        spool.seek(0)
        exports.record_export(user=request.user, study_id=study.pk, fmt="masks.zip",
                              detail={"files": len(manifest["files"]), "model": table.model.label})
        return FileResponse(spool, as_attachment=True, filename=exports.file_name(study.pk, "masks.zip"),
                            content_type="application/zip")


class StudyChartCsvExportApi(ResultsApiView):
    @extend_schema(operation_id="study_results_chart_csv", parameters=[MODEL_PARAM], responses={200: str})
    def get(self, request, study_id: int, chart: str):
        study = self.study(request, study_id)
        if chart not in CHARTS:
            raise DomainError(f"no chart '{chart}'; use one of {', '.join(CHARTS)}", code="not_found",
                              http_status=404)
        _, report = compute(study, model_label=self.model_label(request))
        return self.download(request, study, f"chart-{chart}.csv", chart_csv(report, chart=chart),
                             "text/csv; charset=utf-8", {"model": report["model"]["label"]})
