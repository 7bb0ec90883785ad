"""The specimen surface of a case: its versions, each version's mask, and posting a corrected one,
which re-runs only the margin analysis (no network) and answers with the new margin result."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.models import SpecimenSurface
from cases.specimen_surfaces import specimen_surface_get, specimen_surface_mask, specimen_surfaces
from inference.margin_results import specimen_surface_correct_and_reanalyse
from inference.maskcodec import ENCODING, MaskPayloadError, decode_rle, encode_rle
from petctweb.errors import DomainError
from petctweb.permissions import HasAnyRole
from portal.access_policy import case_get_for_user, ensure_specimen_surface_access
from portal.payloads import margin_result_payload


def surface_payload(surface: SpecimenSurface) -> dict:
    code = surface.case.code
    return {
        "id": surface.pk,
        "version": surface.version,
        "parent_id": surface.parent_id,
        "source": surface.source,
        "author": surface.author.get_username() if surface.author_id else None,
        "voxel_count": surface.voxel_count,
        "created": surface.created_at.isoformat(),
        "mask_url": f"/api/cases/{code}/specimen-surfaces/{surface.pk}/mask/",
    }


class CorrectedSurfaceSerializer(serializers.Serializer):
    parent_id = serializers.IntegerField(help_text="the version the correction started from (must be the newest)")
    shape = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=3, max_length=3)
    encoding = serializers.CharField(help_text=ENCODING)
    data = serializers.CharField(allow_blank=True)


def _case_for(request, code: str):
    case = case_get_for_user(code=code, user=request.user)
    ensure_specimen_surface_access(user=request.user, case=case)
    return case


class SpecimenSurfaceListApi(APIView):
    permission_classes = [HasAnyRole]

    def get(self, request, code: str):
        case = _case_for(request, code)
        surfaces = specimen_surfaces(case=case)
        return Response({"latest_id": surfaces[0].pk if surfaces else None,
                         "results": [surface_payload(s) for s in surfaces]})

    def post(self, request, code: str):
        case = _case_for(request, code)
        data = CorrectedSurfaceSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        body = data.validated_data
        if body["encoding"] != ENCODING:
            raise DomainError(f"unknown mask encoding '{body['encoding']}' (use {ENCODING})", code="invalid_mask")
        if tuple(body["shape"]) != tuple(case.grid.shape):
            raise DomainError(f"mask shape {body['shape']} does not match the case grid {list(case.grid.shape)}",
                              code="invalid_mask")
        try:
            mask = decode_rle(data=body["data"], shape=tuple(body["shape"]))
        except MaskPayloadError as exc:
            raise DomainError(f"bad mask data: {exc}", code="invalid_mask") from exc
        surface, result = specimen_surface_correct_and_reanalyse(case=case, parent_id=body["parent_id"], mask=mask,
                                                                 author=request.user)
        return Response({"surface": surface_payload(surface), "margin": margin_result_payload(result)},
                        status=status.HTTP_201_CREATED)


class SpecimenSurfaceMaskApi(APIView):
    permission_classes = [HasAnyRole]

    def get(self, request, code: str, surface_id: int):
        case = _case_for(request, code)
        surface = specimen_surface_get(case=case, surface_id=surface_id)
        mask = specimen_surface_mask(surface=surface)
        return Response({**surface_payload(surface), "shape": list(case.grid.shape), "encoding": ENCODING,
                         "data": encode_rle(mask)})
