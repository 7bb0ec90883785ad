"""Reader studies API: studies and worklists, margin calls, ground truth and the audit log."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, time, timedelta

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.selectors import case_get_for_user
from petctweb.errors import DomainError
from petctweb.permissions import HasAnyRole, IsStudyAdmin
from petctweb.roles import PATHOLOGIST, READER, user_roles
from studies import selectors, services
from studies.models import FACES, MARGIN_STATUSES, ReadingSession, Study

MAX_CSV_BYTES = 5 * 1024 * 1024


def validated(serializer_class, data) -> dict:
    """Validate input; errors become one readable 400 {detail, code, errors}."""
    serializer = serializer_class(data=data)
    if not serializer.is_valid():
        parts = []
        for name, problems in serializer.errors.items():
            text = "; ".join(str(p) for p in problems) if isinstance(problems, list) else str(problems)
            parts.append(text if name == "non_field_errors" else f"{name}: {text}")
        raise services.RowErrors("; ".join(parts) or "invalid input", errors=parts)
    return serializer.validated_data


def error_response(exc: DomainError) -> Response:
    body = {"detail": exc.message, "code": exc.code}
    if isinstance(exc, services.ReadExists):
        body["read_id"] = exc.read_id
    if isinstance(exc, services.RowErrors):
        body["errors"] = exc.errors
    return Response(body, status=exc.http_status)


class StudiesApiView(APIView):
    """Adds ``read_id`` / ``errors`` to the usual {detail, code} error body where the viewer uses them."""

    def handle_exception(self, exc):
        if isinstance(exc, services.ReadExists | services.RowErrors):
            return error_response(exc)
        return super().handle_exception(exc)


# --- reads -----------------------------------------------------------------------------------


class ReadInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=MARGIN_STATUSES)
    confidence = serializers.IntegerField(min_value=1, max_value=5)
    face_calls = serializers.DictField(child=serializers.ChoiceField(choices=MARGIN_STATUSES), required=False,
                                       default=dict)
    comment = serializers.CharField(allow_blank=True, required=False, default="", max_length=10000)
    time_spent_s = serializers.FloatField(min_value=0, max_value=7 * 24 * 3600)
    segmentation_id = serializers.IntegerField(allow_null=True, required=False, default=None)

    def validate_face_calls(self, value):
        unknown = [f for f in value if f not in FACES]
        if unknown:
            raise serializers.ValidationError(f"unknown face(s) {', '.join(unknown)}; use {', '.join(FACES)}")
        return value


class CaseReadListApi(StudiesApiView):
    """GET: calls on the case you may see (yours; administrators: all). POST: submit your call."""

    permission_classes = [HasAnyRole]

    @extend_schema(operation_id="case_reads_list", responses={200: dict})
    def get(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        reads = list(selectors.reads_visible(user=request.user, case=case))
        if any(r.reader_id != request.user.pk for r in reads):
            services.view_record(user=request.user, what="reads", case=case, detail={"reads": len(reads)})
        return Response({"results": [selectors.read_payload(r) for r in reads]})

    @extend_schema(request=ReadInput, responses={200: dict, 201: dict})
    def post(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        if READER not in user_roles(request.user):
            raise DomainError("only readers make margin calls", code="forbidden", http_status=403)
        data = validated(ReadInput, request.data)
        read = services.read_submit(user=request.user, case=case, **data)
        return Response(selectors.read_payload(read), status=status.HTTP_201_CREATED)


class CaseReadDetailApi(StudiesApiView):
    permission_classes = [HasAnyRole]

    @extend_schema(responses={200: dict})
    def get(self, request, code: str, read_id: int):
        case = case_get_for_user(code=code, user=request.user)
        read = selectors.read_get_for_user(user=request.user, case=case, read_id=read_id)
        if read.reader_id != request.user.pk:
            services.view_record(user=request.user, what="read", case=case, object_type="read", object_id=read.pk)
        return Response(selectors.read_payload(read))


class CaseReadAmendApi(StudiesApiView):
    permission_classes = [HasAnyRole]

    @extend_schema(request=ReadInput, responses={200: dict, 201: dict})
    def post(self, request, code: str, read_id: int):
        case = case_get_for_user(code=code, user=request.user)
        if READER not in user_roles(request.user):
            raise DomainError("only readers make margin calls", code="forbidden", http_status=403)
        selectors.read_get_for_user(user=request.user, case=case, read_id=read_id)  # yours, or 404
        data = validated(ReadInput, request.data)
        read = services.read_amend(user=request.user, case=case, read_id=read_id, **data)
        return Response(selectors.read_payload(read), status=status.HTTP_201_CREATED)


# --- studies ---------------------------------------------------------------------------------


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
            enforce_order=data["enforce_order"],
        )
        return Response(selectors.study_summary(study), status=status.HTTP_201_CREATED)


class StudyDetailApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    @extend_schema(responses={200: dict})
    def get(self, request, study_id: int):
        study = selectors.study_get_for_admin(study_id=study_id, user=request.user)
        services.view_record(user=request.user, what="study", object_type="study", object_id=study.pk,
                             detail={"study_id": study.pk})
        return Response({**selectors.study_summary(study), "progress": selectors.study_progress(study=study),
                         "ground_truth": selectors.ground_truth_overview(study=study)})


class StudyAddCasesApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    class StudyCasesInput(serializers.Serializer):
        cases = serializers.ListField(child=serializers.CharField(), allow_empty=False)

    @extend_schema(request=StudyCasesInput, responses={200: dict, 201: dict})
    def post(self, request, study_id: int):
        study = selectors.study_get_for_admin(study_id=study_id, user=request.user)
        data = validated(self.StudyCasesInput, request.data)
        services.study_add_cases(study=study, user=request.user, case_codes=data["cases"])
        return Response(selectors.study_summary(study), status=status.HTTP_201_CREATED)


class StudyAddReadersApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    class StudyReadersInput(serializers.Serializer):
        readers = serializers.ListField(child=serializers.CharField(), allow_empty=False)

    @extend_schema(request=StudyReadersInput, responses={200: dict, 201: dict})
    def post(self, request, study_id: int):
        study = selectors.study_get_for_admin(study_id=study_id, user=request.user)
        data = validated(self.StudyReadersInput, request.data)
        services.study_add_readers(study=study, user=request.user, usernames=data["readers"])
        return Response(selectors.study_summary(study), status=status.HTTP_201_CREATED)


class StudyCloseApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    @extend_schema(request=None, responses={200: dict})
    def post(self, request, study_id: int):
        study = selectors.study_get_for_admin(study_id=study_id, user=request.user)
        study = services.study_close(study=study, user=request.user)
        return Response(selectors.study_summary(study))


def parse_opens_at(value: str):
    if (value or "").strip().lower() == "now":
        return timezone.now()
    parsed = parse_datetime((value or "").strip())
    if parsed is None:
        raise DomainError("opens_at must be an ISO date-time with a time zone, or 'now'", code="invalid")
    return parsed


class SessionScheduleApi(StudiesApiView):
    """Set when a reader's session opens, e.g. to end a washout early ("now")."""

    permission_classes = [IsStudyAdmin]

    class SessionScheduleInput(serializers.Serializer):
        opens_at = serializers.CharField()

    @extend_schema(request=SessionScheduleInput, responses={200: dict, 201: dict})
    def post(self, request, study_id: int, session_id: int):
        study = selectors.study_get_for_admin(study_id=study_id, user=request.user)
        session = ReadingSession.objects.filter(pk=session_id, study=study).select_related("study", "reader").first()
        if session is None:
            raise DomainError(f"no session {session_id} in study {study.pk}", code="not_found", http_status=404)
        data = validated(self.SessionScheduleInput, request.data)
        session = services.reading_session_schedule(session=session, user=request.user,
                                                    opens_at=parse_opens_at(data["opens_at"]))
        return Response({"id": session.pk, "opens_at": session.opens_at.isoformat()})


def worklist_payload(study: Study, progress) -> dict:
    return {
        "study": {"id": study.pk, "name": study.name, "design": study.design, "status": study.status,
                  "margin_threshold_mm": study.margin_threshold_mm},
        "sessions": [{**p.to_dict(), "cases": [
            {"position": r.position, "code": r.code, "state": r.state, "read_id": r.read_id,
             "opened_at": r.opened_at.isoformat() if r.opened_at else None,
             "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
             "url": reverse("study-read", kwargs={"study_id": study.pk, "code": r.code}) if r.link else None}
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
        study = selectors.study_get_for_reader(study_id=study_id, user=request.user)
        return Response(worklist_payload(study, selectors.reader_worklist(user=request.user, study=study)))


READS_CSV_COLUMNS = ["study", "reader", "session", "aided", "case", "version", "amends", "status", "positive",
                     "confidence", *[f"face_{f}" for f in FACES], "time_spent_s", "segmentation_id", "opened_at",
                     "submitted_at", "comment"]


class StudyReadsExportApi(StudiesApiView):
    """Every call of a study (all versions) as CSV; ``positive`` applies the study's positive categories."""

    permission_classes = [IsStudyAdmin]

    @extend_schema(responses={200: dict})
    def get(self, request, study_id: int):
        study = selectors.study_get_for_admin(study_id=study_id, user=request.user)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(READS_CSV_COLUMNS)
        count = 0
        for read in selectors.study_reads(study=study):
            count += 1
            writer.writerow([
                study.name, read.reader.get_username(), read.session.number if read.session_id else "",
                int(read.aided), read.case.code, read.version, read.amends_id or "", read.status,
                int(read.status in study.positive_categories), read.confidence,
                *[read.face_calls.get(f, "") for f in FACES], read.time_spent_s, read.segmentation_id or "",
                read.opened_at.isoformat() if read.opened_at else "", read.submitted_at.isoformat(), read.comment,
            ])
        services.export_record(user=request.user, what="reads", object_type="study", object_id=study.pk,
                               detail={"study_id": study.pk, "rows": count})
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-reads.csv"'
        return response


class StudyGroundTruthImportApi(StudiesApiView):
    """Upload a ground-truth CSV (multipart field 'file'); all rows are stored or none."""

    permission_classes = [IsStudyAdmin]
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}, "sign_off": {"type": "string"}}}}, responses={200: dict, 201: dict})
    def post(self, request, study_id: int):
        study = selectors.study_get_for_admin(study_id=study_id, user=request.user)
        upload = request.FILES.get("file")
        if upload is None:
            raise DomainError("attach the CSV file as form field 'file'", code="invalid")
        if upload.size > MAX_CSV_BYTES:
            raise DomainError(f"the file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB", code="too_large")
        sign_off = str(request.data.get("sign_off", "yes")).strip().lower() not in ("no", "false", "0")
        created = services.ground_truth_import_csv(user=request.user, study=study, text=decode_csv(upload.read()),
                                                   source_name=upload.name or "upload", sign_off=sign_off)
        return Response({"imported": len(created), "results": [selectors.ground_truth_payload(g) for g in created]},
                        status=status.HTTP_201_CREATED)


def decode_csv(payload: bytes) -> str:
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DomainError("the file is not UTF-8 text (save it as CSV UTF-8)", code="invalid") from exc


# --- ground truth ----------------------------------------------------------------------------


class GroundTruthInput(serializers.Serializer):
    margin_status = serializers.ChoiceField(choices=MARGIN_STATUSES)
    closest_distance_mm = serializers.FloatField(required=False, allow_null=True, min_value=0, default=None)
    face_status = serializers.DictField(child=serializers.ChoiceField(choices=MARGIN_STATUSES), required=False,
                                        default=dict)
    tumour_type = serializers.CharField(allow_blank=True, required=False, default="", max_length=200)
    segmentation_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    slice_index = serializers.IntegerField(required=False, allow_null=True, min_value=0, default=None)
    notes = serializers.CharField(allow_blank=True, required=False, default="", max_length=10000)


def _ground_truth_case(request, code: str, *, write: bool = False):
    if not selectors.can_see_ground_truth(request.user):
        raise DomainError("only pathologists and study administrators see ground truth", code="forbidden",
                          http_status=403)
    if write and PATHOLOGIST not in user_roles(request.user):
        raise DomainError("only pathologists record ground truth", code="forbidden", http_status=403)
    return case_get_for_user(code=code, user=request.user)


class GroundTruthOverviewApi(StudiesApiView):
    permission_classes = [HasAnyRole]

    @extend_schema(operation_id="ground_truth_overview", responses={200: dict})
    def get(self, request):
        if not selectors.can_see_ground_truth(request.user):
            raise DomainError("only pathologists and study administrators see ground truth", code="forbidden",
                              http_status=403)
        study = None
        if request.query_params.get("study"):
            study = Study.objects.filter(pk=_int(request.query_params["study"], "study")).first()
            if study is None:
                raise DomainError("no such study", code="not_found", http_status=404)
        return Response({"results": selectors.ground_truth_overview(study=study)})


class GroundTruthCaseApi(StudiesApiView):
    """GET: every version (newest first). POST: record the first version or a correction (pathologists)."""

    permission_classes = [HasAnyRole]

    class CorrectionInput(GroundTruthInput):
        correction_reason = serializers.CharField(allow_blank=True, required=False, default="", max_length=2000)

    @extend_schema(operation_id="ground_truth_versions", responses={200: dict})
    def get(self, request, code: str):
        case = _ground_truth_case(request, code)
        versions = [selectors.ground_truth_payload(g) for g in selectors.ground_truth_versions(case=case)]
        services.view_record(user=request.user, what="ground_truth", case=case)
        return Response({"case": case.code, "results": versions})

    @extend_schema(request=CorrectionInput, responses={200: dict, 201: dict})
    def post(self, request, code: str):
        case = _ground_truth_case(request, code, write=True)
        data = validated(self.CorrectionInput, request.data)
        gt = services.ground_truth_record(user=request.user, case=case, **data)
        return Response(selectors.ground_truth_payload(gt), status=status.HTTP_201_CREATED)


class GroundTruthVersionApi(StudiesApiView):
    """GET one version; PUT edits a version that is not signed off (signed off: 409, correct it instead)."""

    permission_classes = [HasAnyRole]

    @extend_schema(responses={200: dict})
    def get(self, request, code: str, ground_truth_id: int):
        case = _ground_truth_case(request, code)
        return Response(selectors.ground_truth_payload(selectors.ground_truth_get(case=case,
                                                                                  ground_truth_id=ground_truth_id)))

    @extend_schema(request=GroundTruthInput, responses={200: dict, 201: dict})
    def put(self, request, code: str, ground_truth_id: int):
        case = _ground_truth_case(request, code, write=True)
        gt = selectors.ground_truth_get(case=case, ground_truth_id=ground_truth_id)
        data = validated(GroundTruthInput, request.data)
        gt = services.ground_truth_update(user=request.user, ground_truth=gt, **data)
        return Response(selectors.ground_truth_payload(gt))


class GroundTruthSignOffApi(StudiesApiView):
    permission_classes = [HasAnyRole]

    @extend_schema(request=None, responses={200: dict})
    def post(self, request, code: str, ground_truth_id: int):
        case = _ground_truth_case(request, code, write=True)
        gt = selectors.ground_truth_get(case=case, ground_truth_id=ground_truth_id)
        gt = services.ground_truth_sign_off(user=request.user, ground_truth=gt)
        return Response(selectors.ground_truth_payload(gt))


# --- audit -----------------------------------------------------------------------------------


def _int(value: str, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise DomainError(f"{name} must be a whole number", code="invalid") from exc


def _moment(value: str, name: str):
    value = (value or "").strip()
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        day = parse_date(value)
        if day is None:
            raise DomainError(f"{name} must be a date (YYYY-MM-DD) or an ISO date-time", code="invalid")
        parsed = datetime.combine(day, time.min)
        if name == "until":
            parsed += timedelta(days=1)  # a whole day, inclusive
    if timezone.is_naive(parsed):
        parsed = timezone.make_aware(parsed, timezone.get_default_timezone())
    return parsed


def audit_filters(params) -> dict:
    return {
        "actor": (params.get("actor") or "").strip(),
        "action": (params.get("action") or "").strip(),
        "object_type": (params.get("object_type") or "").strip(),
        "case_code": (params.get("case") or "").strip(),
        "study_id": _int(params["study"], "study") if params.get("study") else None,
        "since": _moment(params.get("since"), "since"),
        "until": _moment(params.get("until"), "until"),
    }


class AuditListApi(StudiesApiView):
    """The audit log, newest first; filters: actor, action (prefix), object_type, case, study, since, until."""

    permission_classes = [IsStudyAdmin]

    @extend_schema(responses={200: dict})
    def get(self, request):
        events = selectors.audit_events(**audit_filters(request.query_params))
        limit = min(max(_int(request.query_params.get("limit", 100), "limit"), 1), 1000)
        offset = max(_int(request.query_params.get("offset", 0), "offset"), 0)
        total = events.count()
        return Response({"count": total, "limit": limit, "offset": offset,
                         "results": [selectors.audit_event_payload(e) for e in events[offset:offset + limit]]})


AUDIT_CSV_COLUMNS = ["id", "at", "actor", "action", "object_type", "object_id", "case_code", "detail"]


class AuditExportApi(StudiesApiView):
    """The (filtered) audit log as CSV. The export itself is recorded."""

    permission_classes = [IsStudyAdmin]

    @extend_schema(responses={200: dict})
    def get(self, request):
        filters = audit_filters(request.query_params)
        events = selectors.audit_events(**filters)
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(AUDIT_CSV_COLUMNS)
        count = 0
        for event in events.iterator(chunk_size=2000):
            count += 1
            writer.writerow([event.pk, event.at.isoformat(), event.actor.get_username() if event.actor else "",
                             event.action, event.object_type, event.object_id, event.case_code,
                             json.dumps(event.detail, sort_keys=True)])
        services.export_record(user=request.user, what="audit", object_type="audit_log",
                               detail={"rows": count, "filters": {k: (v.isoformat() if hasattr(v, "isoformat") else v)
                                                                  for k, v in filters.items() if v}})
        response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="audit-{timezone.now():%Y%m%d-%H%M%S}.csv"'
        return response
