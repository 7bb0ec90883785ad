"""A case's specimen orientation: its versions and the site's suture conventions (GET), and recording a new
version (POST) by directions, a full mapping, or a convention with the face each suture points to."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.models import SpecimenOrientation
from cases.orientation import (
    ANATOMICAL_NAMES,
    FACE_LABELS,
    face_names,
    orientation_conventions,
    orientation_record,
    orientation_versions,
)
from petctweb.permissions import HasAnyRole
from portal.access_policy import can_record_orientation, case_get_for_user, ensure_orientation_recordable


def orientation_payload(row: SpecimenOrientation) -> dict:
    return {
        "id": row.pk,
        "version": row.version,
        "mapping": row.mapping,
        "convention": row.convention or None,
        "markers": row.markers or {},
        "author": row.author.get_username() if row.author_id else None,
        "created": row.created_at.isoformat(),
    }


class OrientationSerializer(serializers.Serializer):
    directions = serializers.DictField(child=serializers.CharField(), required=False,
                                       help_text='anatomical name -> scanner face, e.g. {"superior": "+z"}')
    mapping = serializers.DictField(child=serializers.CharField(), required=False,
                                    help_text='scanner face -> anatomical name, e.g. {"+z": "superior", "-z": "inferior"}')
    convention = serializers.CharField(required=False, allow_blank=True, max_length=64)
    markers = serializers.DictField(child=serializers.CharField(), required=False,
                                    help_text='suture -> scanner face under the convention, e.g. {"short suture": "+z"}')


class CaseOrientationApi(APIView):
    permission_classes = [HasAnyRole]

    def get(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        versions = orientation_versions(case=case)
        return Response({
            "latest": orientation_payload(versions[0]) if versions else None,
            "versions": [orientation_payload(v) for v in versions],
            "face_names": face_names(case=case),
            "faces": list(FACE_LABELS),
            "anatomical_names": list(ANATOMICAL_NAMES),
            "conventions": orientation_conventions(),
            "can_record": can_record_orientation(user=request.user),  # pages mirror the policy, never decide it
        })

    def post(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        ensure_orientation_recordable(user=request.user, case=case)
        data = OrientationSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        row = orientation_record(case=case, author=request.user, directions=body.get("directions"),
                                 mapping=body.get("mapping"), convention=body.get("convention", ""),
                                 markers=body.get("markers"))
        return Response({**orientation_payload(row), "face_names": face_names(case=case)},
                        status=status.HTTP_201_CREATED)
