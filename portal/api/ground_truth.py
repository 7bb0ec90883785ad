"""Ground-truth API: versions per case, corrections and sign-off (pathologists), the overview, CSV import."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from petctweb.errors import DomainError
from petctweb.permissions import HasAnyRole, IsStudyAdmin
from petctweb.roles import PATHOLOGIST, user_roles
from portal.access_policy import can_see_ground_truth, case_get_for_user, study_get_for_admin
from portal.api.common import MAX_CSV_BYTES, StudiesApiView, decode_csv, parse_int, validated
from studies import selectors, services
from studies.models import MARGIN_STATUSES, Study


class GroundTruthInput(serializers.Serializer):
    margin_status = serializers.ChoiceField(choices=MARGIN_STATUSES)
    closest_distance_mm = serializers.FloatField(required=False, allow_null=True, min_value=0, default=None)
    face_status = serializers.DictField(child=serializers.ChoiceField(choices=MARGIN_STATUSES), required=False,
                                        default=dict)
    tumour_type = serializers.CharField(allow_blank=True, required=False, default="", max_length=200)
    segmentation_id = serializers.IntegerField(required=False, allow_null=True, default=None)
    slice_index = serializers.IntegerField(required=False, allow_null=True, min_value=0, default=None)
    notes = serializers.CharField(allow_blank=True, required=False, default="", max_length=10000)
    # Further pathology sections (lamellae) by axial slice: {"42": "negative"}; checked by the service.
    section_status = serializers.DictField(child=serializers.ChoiceField(choices=MARGIN_STATUSES), required=False,
                                           default=dict)


def _ground_truth_case(request, code: str, *, write: bool = False):
    if not can_see_ground_truth(request.user):
        raise DomainError("only pathologists and study administrators see ground truth", code="forbidden",
                          http_status=403)
    if write and PATHOLOGIST not in user_roles(request.user):
        raise DomainError("only pathologists record ground truth", code="forbidden", http_status=403)
    return case_get_for_user(code=code, user=request.user)


class GroundTruthOverviewApi(StudiesApiView):
    permission_classes = [HasAnyRole]

    @extend_schema(operation_id="ground_truth_overview", responses={200: dict})
    def get(self, request):
        if not can_see_ground_truth(request.user):
            raise DomainError("only pathologists and study administrators see ground truth", code="forbidden",
                              http_status=403)
        study = None
        if request.query_params.get("study"):
            study = Study.objects.filter(pk=parse_int(request.query_params["study"], "study")).first()
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


class StudyGroundTruthImportApi(StudiesApiView):
    """Upload a ground-truth CSV (multipart field 'file'); all rows are stored or none."""

    permission_classes = [IsStudyAdmin]
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}, "sign_off": {"type": "string"}}}}, responses={200: dict, 201: dict})
    def post(self, request, study_id: int):
        study = study_get_for_admin(study_id=study_id, user=request.user)
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
