"""People's masks: save versions, autosave a draft, fetch a mask as raw voxels."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.volume_http import volume_response
from cases.volume_store import load_array
from inference.maskcodec import ENCODING, encode_rle
from inference.models import Segmentation
from inference.reader_masks import draft_get, draft_save, segmentation_save
from petctweb.errors import DomainError
from petctweb.permissions import HasAnyRole
from petctweb.roles import PATHOLOGIST, user_roles
from portal.access_policy import (
    can_see_segmentation,
    case_access,
    case_get_for_user,
    ensure_mask_editable,
)


def mask_source_for(user) -> str:
    """Pathologists draw ground-truth outlines; everyone else draws reader masks."""
    return Segmentation.Source.GROUND_TRUTH if PATHOLOGIST in user_roles(user) else Segmentation.Source.READER


def segmentation_payload(segmentation: Segmentation) -> dict:
    return {
        "id": segmentation.pk,
        "version": segmentation.version,
        "source": segmentation.source,
        "parent_id": segmentation.parent_id,
        "voxel_count": segmentation.voxel_count,
        "created": segmentation.created_at.isoformat(),
        "url": f"/api/cases/{segmentation.case.code}/segmentations/{segmentation.pk}/mask/",
    }


class MaskInputSerializer(serializers.Serializer):
    parent_id = serializers.IntegerField(required=False, allow_null=True)
    shape = serializers.ListField(child=serializers.IntegerField(min_value=1), min_length=3, max_length=3)
    encoding = serializers.CharField()
    data = serializers.CharField(allow_blank=True)


def _editable_case(request, code: str):
    case = case_get_for_user(code=code, user=request.user)
    ensure_mask_editable(user=request.user, case=case)
    return case


class SegmentationListApi(APIView):
    permission_classes = [HasAnyRole]

    def get(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        mine = Segmentation.objects.filter(case=case, author=request.user, is_draft=False).order_by("-version")
        return Response({"results": [segmentation_payload(s) for s in mine]})

    def post(self, request, code: str):
        case = _editable_case(request, code)
        data = MaskInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        segmentation = segmentation_save(case=case, author=request.user, source=mask_source_for(request.user),
                                         **data.validated_data)
        return Response(segmentation_payload(segmentation), status=status.HTTP_201_CREATED)


class DraftApi(APIView):
    permission_classes = [HasAnyRole]

    def get(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        draft = draft_get(case=case, author=request.user, source=mask_source_for(request.user))
        if draft is None:
            # No draft is the usual state, not an error: the viewer asks on every opening.
            return Response(status=status.HTTP_204_NO_CONTENT)
        mask = load_array(name=draft.mask_file.name, dtype="uint8", shape=case.grid.shape)
        return Response({**segmentation_payload(draft), "shape": list(case.grid.shape), "encoding": ENCODING,
                         "data": encode_rle(mask)})

    def put(self, request, code: str):
        case = _editable_case(request, code)
        data = MaskInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = {k: v for k, v in data.validated_data.items() if k != "parent_id"}
        draft = draft_save(case=case, author=request.user, source=mask_source_for(request.user), **fields)
        return Response(segmentation_payload(draft))


class SegmentationMaskApi(APIView):
    permission_classes = [HasAnyRole]

    def get(self, request, code: str, segmentation_id: int):
        case = case_get_for_user(code=code, user=request.user)
        segmentation = Segmentation.objects.filter(pk=segmentation_id, case=case).first()
        access = case_access(user=request.user, case=case)
        if not can_see_segmentation(user=request.user, segmentation=segmentation, access=access):
            raise DomainError("no such segmentation that you may see", code="not_found", http_status=404)
        return volume_response(request, payload_name=segmentation.mask_file.name, dtype="uint8",
                                shape=case.grid.shape, etag=f"seg{segmentation.pk}")
