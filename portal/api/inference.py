"""Inference API: request runs, follow their progress, download results."""

from __future__ import annotations

from django.http import HttpResponse
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_record
from cases.orientation import face_names
from inference.exports import segmentation_dicom_seg_bytes, segmentation_nifti_bytes
from inference.margin_exports import margin_csv, margin_json
from inference.models import InferenceRun, ModelVersion
from inference.pacs.documents import structured_report_bytes
from inference.selectors import model_segmentation_latest, model_version_get
from inference.services import inference_run_request
from petctweb.errors import DomainError
from petctweb.permissions import HasAnyRole, IsStudyAdmin
from portal.access_policy import case_get_for_user, ensure_model_visible
from portal.payloads import margin_payload, run_payload


class InferenceRequestApi(APIView):
    permission_classes = [IsStudyAdmin]

    class InputSerializer(serializers.Serializer):
        model = serializers.CharField(required=False, allow_blank=True, help_text="name:version; default model if empty")
        threshold_mm = serializers.FloatField(required=False, min_value=0.0, max_value=20.0)

    def post(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        label = data.validated_data.get("model", "")
        model_version = model_version_get(label=label)
        if model_version is None:
            raise DomainError(f"no model '{label or 'default'}' is registered", code="no_model", http_status=400)
        run = inference_run_request(
            case=case, model_version=model_version, user=request.user, threshold_mm=data.validated_data.get("threshold_mm")
        )
        return Response(run_payload(run), status=status.HTTP_202_ACCEPTED)


class InferenceRunApi(APIView):
    permission_classes = [HasAnyRole]

    def get(self, request, run_id: int):
        run = InferenceRun.objects.select_related("case", "model_version").filter(pk=run_id).first()
        if run is None:
            raise DomainError("no such inference run", code="not_found", http_status=404)
        case = case_get_for_user(code=run.case.code, user=request.user)  # object-level visibility
        ensure_model_visible(user=request.user, case=case)
        return Response(run_payload(run))


class ModelVersionListApi(APIView):
    permission_classes = [HasAnyRole]

    def get(self, request):
        return Response({"results": [
            {"name": m.name, "version": m.version, "label": m.label, "architecture": m.architecture,
             "is_default": m.is_default, "metrics": m.metrics, "folds": m.folds.count(), "created_at": m.created_at.isoformat()}
            for m in ModelVersion.objects.prefetch_related("folds")
        ]})


class ResultExportApi(APIView):
    permission_classes = [HasAnyRole]

    def get(self, request, code: str, fmt: str):
        case = case_get_for_user(code=code, user=request.user)
        ensure_model_visible(user=request.user, case=case)
        segmentation = model_segmentation_latest(case=case)
        if segmentation is None:
            raise DomainError(f"case {case.code} has no model result to export", code="not_found", http_status=404)
        if fmt in ("json", "csv"):
            margin = margin_payload(segmentation)
            if margin is None:
                raise DomainError(f"case {case.code} has no margin result to export", code="not_found", http_status=404)
            export = margin_json if fmt == "json" else margin_csv
            payload = export(case_code=case.code, margin=margin, face_names=face_names(case=case))
            content_type, name = ("application/json", "margin.json") if fmt == "json" else ("text/csv", "margin.csv")
        elif fmt == "seg":
            payload, content_type, name = segmentation_dicom_seg_bytes(segmentation=segmentation), "application/dicom", "seg.dcm"
        elif fmt == "nifti":
            payload, content_type, name = segmentation_nifti_bytes(segmentation=segmentation), "application/gzip", "mask.nii.gz"
        elif fmt == "sr":  # the TID 1500 margin report, de-identified like the SEG download
            payload, content_type, name = structured_report_bytes(segmentation=segmentation), "application/dicom", "sr.dcm"
        else:
            raise DomainError(f"unknown export format '{fmt}' (seg, sr, nifti, json or csv)", code="not_found", http_status=404)
        audit_record(actor=request.user, action="result.export", object_type="segmentation", object_id=segmentation.pk,
                     case_code=case.code, detail={"format": fmt})
        response = HttpResponse(payload, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{case.code}-{name}"'
        return response
