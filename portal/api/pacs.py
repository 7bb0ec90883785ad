"""Results-to-PACS API (study administrators only): DICOM destinations, sending a case's result, deliveries."""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from inference.pacs.delivery import delivery_request
from inference.pacs.nodes import dicom_node_create, dicom_node_delete, dicom_node_get, dicom_node_update
from inference.pacs.selectors import case_deliveries, delivery_payload, dicom_nodes, node_payload
from petctweb.permissions import IsStudyAdmin
from portal.access_policy import case_get_for_user
from portal.api.common import StudiesApiView, validated


class DicomNodeSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    ae_title = serializers.CharField(max_length=16)
    host = serializers.CharField(max_length=255)
    port = serializers.IntegerField(min_value=1, max_value=65535)
    enabled = serializers.BooleanField(required=False, default=True)
    send_after_run = serializers.BooleanField(required=False, default=True)


class DicomNodePartialSerializer(DicomNodeSerializer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty


class DicomNodeListApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    def get(self, request):
        return Response({"results": [node_payload(node) for node in dicom_nodes()]})

    def post(self, request):
        node = dicom_node_create(user=request.user, values=validated(DicomNodeSerializer, request.data))
        return Response(node_payload(node), status=status.HTTP_201_CREATED)


class DicomNodeDetailApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    def get(self, request, node_id: int):
        return Response(node_payload(dicom_node_get(node_id=node_id)))

    def put(self, request, node_id: int):
        node = dicom_node_get(node_id=node_id)
        values = validated(DicomNodeSerializer, request.data)
        return Response(node_payload(dicom_node_update(user=request.user, node=node, values=values)))

    def patch(self, request, node_id: int):
        node = dicom_node_get(node_id=node_id)
        values = validated(DicomNodePartialSerializer, request.data)
        return Response(node_payload(dicom_node_update(user=request.user, node=node, values=values)))

    def delete(self, request, node_id: int):
        dicom_node_delete(user=request.user, node=dicom_node_get(node_id=node_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class ResultSendApi(StudiesApiView):
    permission_classes = [IsStudyAdmin]

    class InputSerializer(serializers.Serializer):
        node_id = serializers.IntegerField(min_value=1)

    def post(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        data = validated(self.InputSerializer, request.data)
        delivery = delivery_request(case=case, node_id=data["node_id"], user=request.user)
        return Response(delivery_payload(delivery), status=status.HTTP_202_ACCEPTED)


class CaseDeliveriesApi(APIView):
    permission_classes = [IsStudyAdmin]

    def get(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        return Response({"results": [delivery_payload(d) for d in case_deliveries(case=case)]})
