"""Margin calls (reads) API: list and submit calls on a case, fetch and amend one (blinding: the policy)."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from petctweb.errors import DomainError
from petctweb.permissions import HasAnyRole
from petctweb.roles import READER, user_roles
from portal.access_policy import case_get_for_user, read_get_for_user, reads_visible
from portal.api.common import StudiesApiView, validated
from studies import selectors, services
from studies.models import FACES, MARGIN_STATUSES


class ReadInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=MARGIN_STATUSES)
    confidence = serializers.IntegerField(min_value=1, max_value=5)
    face_calls = serializers.DictField(child=serializers.ChoiceField(choices=MARGIN_STATUSES), required=False,
                                       default=dict)
    comment = serializers.CharField(allow_blank=True, required=False, default="", max_length=10000)
    time_spent_s = serializers.FloatField(min_value=0, max_value=7 * 24 * 3600)
    segmentation_id = serializers.IntegerField(allow_null=True, required=False, default=None)
    unit = serializers.IntegerField(allow_null=True, required=False, default=None)  # lamella studies

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
        reads = list(reads_visible(user=request.user, case=case).select_related("study"))
        if any(r.reader_id != request.user.pk for r in reads):
            services.view_record(user=request.user, what="reads", case=case, detail={"reads": len(reads)})
        # Study calls first, then calls made outside any study, each labelled, so the two never blur;
        # newest first within each group (the queryset's order; the sort is stable).
        reads.sort(key=lambda r: r.study_id is None)
        outside = sum(1 for r in reads if r.study_id is None)
        return Response({"results": [selectors.read_payload(r) for r in reads],
                         "counts": {"study": len(reads) - outside, "outside_studies": outside}})

    @extend_schema(request=ReadInput, responses={200: dict, 201: dict})
    def post(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        if READER not in user_roles(request.user):
            raise DomainError("only readers make margin calls", code="forbidden", http_status=403)
        data = validated(ReadInput, request.data)
        unit = selectors.reading_unit_for(case=case, unit_id=data.pop("unit"))
        read = services.read_submit(user=request.user, case=case, unit=unit, **data)
        return Response(selectors.read_payload(read), status=status.HTTP_201_CREATED)


class CaseReadDetailApi(StudiesApiView):
    permission_classes = [HasAnyRole]

    @extend_schema(responses={200: dict})
    def get(self, request, code: str, read_id: int):
        case = case_get_for_user(code=code, user=request.user)
        read = read_get_for_user(user=request.user, case=case, read_id=read_id)
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
        read_get_for_user(user=request.user, case=case, read_id=read_id)  # yours, or 404
        data = validated(ReadInput, request.data)
        unit = selectors.reading_unit_for(case=case, unit_id=data.pop("unit"))
        read = services.read_amend(user=request.user, case=case, read_id=read_id, unit=unit, **data)
        return Response(selectors.read_payload(read), status=status.HTTP_201_CREATED)
