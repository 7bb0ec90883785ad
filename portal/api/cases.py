"""Case API: list, detail, upload and the binary volume endpoint for the viewer."""

from __future__ import annotations

import tempfile
from pathlib import Path

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.services import audit_record
from cases.models import Case
from cases.selectors import case_volume
from cases.services import case_import
from cases.upload import check_upload_size, save_uploaded_files
from cases.upload_sessions import upload_session_from_files
from cases.volume_http import volume_response
from inference.selectors import model_segmentation_latest
from petctweb.errors import DomainError
from petctweb.permissions import HasAnyRole, IsStudyAdmin
from portal.access_policy import case_access, case_get_for_user, ensure_model_visible
from portal.api.uploads import upload_payload
from portal.ingest_state import case_state
from portal.payloads import case_detail, case_summaries_for, case_summary


class CaseListApi(APIView):
    permission_classes = [HasAnyRole]

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response({"results": case_summaries_for(user=request.user)})


class CaseDetailApi(APIView):
    permission_classes = [HasAnyRole]

    @extend_schema(responses={200: dict})
    def get(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        audit_record(actor=request.user, action="case.view", object_type="case", object_id=case.pk, case_code=case.code)
        access = case_access(user=request.user, case=case)
        return Response(case_detail(case, can_see_model=access.can_see_model, user=request.user,
                           can_see_ground_truth=access.can_see_ground_truth))


class CaseStateApi(APIView):
    """The case's live state (imported, queued, segmenting, done, failed) for polling; no audit entry per poll."""

    permission_classes = [HasAnyRole]

    @extend_schema(responses={200: dict})
    def get(self, request, code: str):
        case = case_get_for_user(code=code, user=request.user)
        return Response(case_state(case, can_see_model=case_access(user=request.user, case=case).can_see_model))


class CaseUploadApi(APIView):
    """Upload DICOM files (several files, a folder's files or a .zip) as multipart field 'files'.

    Imported within the request (201 with the cases) for scripts that want the answer at once; with
    ``?async=1`` stored and ingested by a worker (202 with the upload's state URL). Browsers use the
    resumable chunked uploads of ``portal.api.uploads``.
    """

    permission_classes = [IsStudyAdmin]
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": {"type": "object"}}, responses={201: dict, 202: dict})
    def post(self, request):
        check_upload_size(content_length=request.META.get("CONTENT_LENGTH"))
        if request.query_params.get("async") in ("1", "true"):
            # Stored now, ingested by a worker (default queue); follow it at the returned upload's URL.
            session = upload_session_from_files(user=request.user, files=request.FILES.getlist("files"))
            return Response(upload_payload(session), status=status.HTTP_202_ACCEPTED)
        with tempfile.TemporaryDirectory(prefix="petctweb-upload-") as folder:
            saved = save_uploaded_files(files=request.FILES.getlist("files"), target=Path(folder))
            # A single file may be a .zip: import it as such rather than as one file of a folder.
            source_path = saved[0] if len(saved) == 1 else Path(folder)
            imported = case_import(path=source_path, source=Case.Source.UPLOAD, user=request.user)
        return Response(
            {"cases": [case_summary(item.case) for item in imported]}, status=status.HTTP_201_CREATED
        )


class CaseVolumeApi(APIView):
    """Raw little-endian voxels (C order, z-y-x), gzip content encoding; shape and dtype in headers."""

    permission_classes = [HasAnyRole]

    def get(self, request, code: str, kind: str):
        case = case_get_for_user(code=code, user=request.user)
        shape = case.grid.shape
        if kind in ("ct", "pet", "specimen"):
            volume = case_volume(case=case, kind=kind)
            return volume_response(request, payload_name=volume.file.name, dtype=volume.dtype, shape=volume.shape,
                                    etag=volume.sha256, immutable=True)
        if kind in ("model_mask", "uncertainty"):
            ensure_model_visible(user=request.user, case=case)
            segmentation = model_segmentation_latest(case=case)
            if segmentation is None:
                raise DomainError(f"case {case.code} has no model result yet", code="not_found", http_status=404)
            if kind == "model_mask":
                name, dtype = segmentation.mask_file.name, "uint8"
            else:
                name, dtype = segmentation.uncertainty_file.name, "float16"
            return volume_response(request, payload_name=name, dtype=dtype, shape=shape, etag=f"seg{segmentation.pk}-{kind}")
        raise DomainError(f"unknown volume '{kind}'", code="not_found", http_status=404)
