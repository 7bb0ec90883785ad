"""Reader studies API: create and manage studies (administrators), worklists (readers), calls export."""

from __future__ import annotations

import io

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from petctweb.csv_safety import csv_writer
from petctweb.errors import DomainError
from petctweb.permissions import HasAnyRole, IsStudyAdmin
from portal.access_policy import study_get_for_admin, study_get_for_reader
from portal.api.common import StudiesApiView, parse_opens_at, validated
from studies import selectors, services
from studies.models import FACES, MARGIN_STATUSES, ReadingSession, Study


class UnitInput(serializers.Serializer):
    """A lamella to read: a case of the study and its axial slice on the working grid."""

    case = serializers.CharField(max_length=64)
    slice_index = serializers.IntegerField(min_value=0)
    label = serializers.CharField(max_length=80, required=False)


class StudyListApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    class StudyCreateInput(serializers.Serializer):
        name = serializers.CharField(max_length=200)
        description = serializers.CharField(allow_blank=True, required=False, default="")
        design = serializers.ChoiceField(choices=Study.Design.values)
        cases = serializers.ListField(child=serializers.CharField(), allow_empty=False)
        readers = serializers.ListField(child=serializers.CharField(), allow_empty=False)
        margin_threshold_mm = serializers.FloatField(required=False, min_value=0, max_value=services.MAX_THRESHOLD_MM)
        positive_categories = serializers.ListField(child=serializers.ChoiceField(choices=MARGIN_STATUSES),
                                                    required=False)
        washout_days = serializers.IntegerField(required=False, min_value=0, max_value=services.MAX_WASHOUT_DAYS)
        seed = serializers.IntegerField(required=False, min_value=0, max_value=2**53)
        allow_amendments = serializers.BooleanField(required=False, default=True)
        enforce_order = serializers.BooleanField(required=False, default=True)
        indeterminate_counts_as = serializers.ChoiceField(choices=Study.IndeterminateCountsAs.values, required=False)
        reading_unit = serializers.ChoiceField(choices=Study.ReadingUnit.values, required=False)
        allow_context = serializers.BooleanField(required=False, default=False)
        units = serializers.ListField(child=UnitInput(), required=False, allow_empty=False, max_length=10000)

    @extend_schema(operation_id="studies_list", responses={200: dict})
    def get(self, request):
        return Response({"results": [selectors.study_summary(s) for s in selectors.study_list(user=request.user)]})

    @extend_schema(request=StudyCreateInput, responses={200: dict, 201: dict})
    def post(self, request):
        data = validated(self.StudyCreateInput, request.data)
        study = services.study_create(
            user=request.user, name=data["name"], description=data["description"], design=data["design"],
            case_codes=data["cases"], reader_usernames=data["readers"],
            margin_threshold_mm=data.get("margin_threshold_mm"), positive_categories=data.get("positive_categories"),
            washout_days=data.get("washout_days"), seed=data.get("seed"), allow_amendments=data["allow_amendments"],
            enforce_order=data["enforce_order"], indeterminate_counts_as=data.get("indeterminate_counts_as"),
            reading_unit=data.get("reading_unit"), allow_context=data["allow_context"],
            units=[dict(u) for u in data["units"]] if data.get("units") else None,
        )
        return Response(selectors.study_summary(study), status=status.HTTP_201_CREATED)


class StudyDetailApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    @extend_schema(responses={200: dict})
    def get(self, request, study_id: int):
        study = study_get_for_admin(study_id=study_id, user=request.user)
        services.view_record(user=request.user, what="study", object_type="study", object_id=study.pk,
                             detail={"study_id": study.pk})
        return Response({**selectors.study_summary(study), "progress": selectors.study_progress(study=study),
                         "ground_truth": selectors.ground_truth_overview(study=study)})


class StudyAddCasesApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    class StudyCasesInput(serializers.Serializer):
        cases = serializers.ListField(child=serializers.CharField(), allow_empty=False)
        units = serializers.ListField(child=UnitInput(), required=False, allow_empty=False, max_length=10000)

    @extend_schema(request=StudyCasesInput, responses={200: dict, 201: dict})
    def post(self, request, study_id: int):
        study = study_get_for_admin(study_id=study_id, user=request.user)
        data = validated(self.StudyCasesInput, request.data)
        services.study_add_cases(study=study, user=request.user, case_codes=data["cases"],
                                 units=[dict(u) for u in data["units"]] if data.get("units") else None)
        return Response(selectors.study_summary(study), status=status.HTTP_201_CREATED)


class StudyAddReadersApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    class StudyReadersInput(serializers.Serializer):
        readers = serializers.ListField(child=serializers.CharField(), allow_empty=False)

    @extend_schema(request=StudyReadersInput, responses={200: dict, 201: dict})
    def post(self, request, study_id: int):
        study = study_get_for_admin(study_id=study_id, user=request.user)
        data = validated(self.StudyReadersInput, request.data)
        services.study_add_readers(study=study, user=request.user, usernames=data["readers"])
        return Response(selectors.study_summary(study), status=status.HTTP_201_CREATED)


class StudyCloseApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    @extend_schema(request=None, responses={200: dict})
    def post(self, request, study_id: int):
        study = study_get_for_admin(study_id=study_id, user=request.user)
        study = services.study_close(study=study, user=request.user)
        return Response(selectors.study_summary(study))


class SessionScheduleApi(StudiesApiView):
    """Set when a reader's session opens, e.g. to end a washout early ("now")."""

    permission_classes = [IsStudyAdmin]

    class SessionScheduleInput(serializers.Serializer):
        opens_at = serializers.CharField()

    @extend_schema(request=SessionScheduleInput, responses={200: dict, 201: dict})
    def post(self, request, study_id: int, session_id: int):
        study = study_get_for_admin(study_id=study_id, user=request.user)
        session = ReadingSession.objects.filter(pk=session_id, study=study).select_related("study", "reader").first()
        if session is None:
            raise DomainError(f"no session {session_id} in study {study.pk}", code="not_found", http_status=404)
        data = validated(self.SessionScheduleInput, request.data)
        session = services.reading_session_schedule(session=session, user=request.user,
                                                    opens_at=parse_opens_at(data["opens_at"]))
        return Response({"id": session.pk, "opens_at": session.opens_at.isoformat()})


def study_read_url(*, study_id: int, code: str, unit_id: int | None) -> str:
    url = reverse("study-read", kwargs={"study_id": study_id, "code": code})
    return url if unit_id is None else f"{url}?unit={unit_id}"


def worklist_payload(study: Study, progress) -> dict:
    return {
        "study": {"id": study.pk, "name": study.name, "design": study.design, "status": study.status,
                  "margin_threshold_mm": study.margin_threshold_mm, "reading_unit": study.reading_unit,
                  "allow_context": study.allow_context},
        "sessions": [{**p.to_dict(), "cases": [
            {"position": r.position, "code": r.code, "state": r.state, "read_id": r.read_id,
             "unit": r.unit_id, "unit_label": r.unit_label or None, "slice_index": r.slice_index,
             "opened_at": r.opened_at.isoformat() if r.opened_at else None,
             "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
             "url": study_read_url(study_id=study.pk, code=r.code, unit_id=r.unit_id) if r.link else None}
            for r in p.rows]} for p in progress],
        "next_case": selectors.worklist_next_code(progress),
        "done": sum(p.done for p in progress),
        "total": sum(p.total for p in progress),
    }


class MyStudiesApi(StudiesApiView):
    """A reader's studies, each with progress and the next case."""

    permission_classes = [HasAnyRole]

    @extend_schema(responses={200: dict})
    def get(self, request):
        results = []
        for study in selectors.reader_studies(user=request.user):
            progress = selectors.reader_worklist(user=request.user, study=study, with_rows=False)
            payload = worklist_payload(study, progress)
            results.append({**payload["study"], "next_case": payload["next_case"], "done": payload["done"],
                            "total": payload["total"], "sessions": payload["sessions"]})
        return Response({"results": results})


class WorklistApi(StudiesApiView):
    permission_classes = [HasAnyRole]

    @extend_schema(responses={200: dict})
    def get(self, request, study_id: int):
        study = study_get_for_reader(study_id=study_id, user=request.user)
        return Response(worklist_payload(study, selectors.reader_worklist(user=request.user, study=study)))


READS_CSV_COLUMNS = ["study", "reader", "session", "aided", "case", "unit", "slice_index", "version", "amends", "status", "positive",
                     "confidence", *[f"face_{f}" for f in FACES], "time_spent_s", "segmentation_id", "opened_at",
                     "submitted_at", "comment"]


class StudyReadsExportApi(StudiesApiView):
    """Every call of a study (all versions) as CSV; ``positive`` applies the study's positive categories."""

    permission_classes = [IsStudyAdmin]

    @extend_schema(responses={200: dict})
    def get(self, request, study_id: int):
        study = study_get_for_admin(study_id=study_id, user=request.user)
        buffer = io.StringIO()
        writer = csv_writer(buffer)
        writer.writerow(READS_CSV_COLUMNS)
        count = 0
        for read in selectors.study_reads(study=study):
            count += 1
            writer.writerow([
                study.name, read.reader.get_username(), read.session.number if read.session_id else "",
                int(read.aided), read.case.code, read.unit.label if read.unit_id else "",
                read.unit.slice_index if read.unit_id else "", read.version, read.amends_id or "", read.status,
                int(read.status in study.positive_categories), read.confidence,
                *[read.face_calls.get(f, "") for f in FACES], read.time_spent_s, read.segmentation_id or "",
                read.opened_at.isoformat() if read.opened_at else "", read.submitted_at.isoformat(), read.comment,
            ])
        services.export_record(user=request.user, what="reads", object_type="study", object_id=study.pk,
                               detail={"study_id": study.pk, "rows": count})
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-reads.csv"'
        return response
