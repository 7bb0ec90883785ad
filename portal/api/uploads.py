"""Resumable chunked uploads (tus-like) and the live list of ingests not yet cases.

    POST   /api/uploads/                 {"files": [{"name", "size"}, ...]} -> 201 {id, offset, ...}
    HEAD   /api/uploads/<id>/            Upload-Offset / Upload-Length headers (where to resume)
    GET    /api/uploads/<id>/            state, offset, message, case once imported
    PATCH  /api/uploads/<id>/ (or PUT)   Upload-Offset: <n>, body: the bytes from n (any content type)
    POST   /api/uploads/<id>/complete/   all bytes here -> 202, ingest queued
    DELETE /api/uploads/<id>/            cancel an unfinished upload (its files are removed)
    GET    /api/ingests/                 uploads and received DICOM studies on their way to a case
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response
from rest_framework.views import APIView

from cases.models import UploadSession
from cases.upload_selectors import received_studies_in_flight, upload_sessions_in_flight
from cases.upload_sessions import (
    OffsetError,
    upload_chunk_write,
    upload_session_cancel,
    upload_session_complete,
    upload_session_create,
    upload_session_get,
)
from petctweb.permissions import IsStudyAdmin
from portal.api.common import validated
from portal.ingest_state import received_state, upload_state

OFFSET = "Upload-Offset"


class ManifestFile(serializers.Serializer):
    name = serializers.CharField(max_length=255)
    size = serializers.IntegerField(min_value=0)


class UploadCreateIn(serializers.Serializer):
    files = serializers.ListField(child=ManifestFile(), allow_empty=False)


def upload_payload(session: UploadSession) -> dict:
    token = session.token.hex
    return {
        "id": token,
        "url": f"/api/uploads/{token}/",
        "complete_url": f"/api/uploads/{token}/complete/",
        "offset": session.received_bytes,
        "total_bytes": session.total_bytes,
        "file_count": session.file_count,
        "files": [{"name": item["name"], "size": item["size"]} for item in session.manifest],
        "created_at": session.created_at.isoformat(),
        "cases": session.case_codes,
        **upload_state(session),
    }


def _offset_headers(session: UploadSession) -> dict:
    return {OFFSET: str(session.received_bytes), "Upload-Length": str(session.total_bytes),
            "Cache-Control": "no-store"}


def _int_header(value: str | None) -> int | None:
    # isdecimal, not isdigit: "²" is a digit that int() refuses
    return int(value) if value is not None and value.strip().isdecimal() else None


def _offset_error(exc: OffsetError) -> Response:
    return Response({"detail": exc.message, "code": exc.code, "offset": exc.offset}, status=exc.http_status,
                    headers={OFFSET: str(exc.offset)})


class UploadSessionListApi(APIView):
    permission_classes = [IsStudyAdmin]
    parser_classes = [JSONParser]

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response({"results": [upload_payload(s) for s in upload_sessions_in_flight(user=request.user)]})

    @extend_schema(request=UploadCreateIn, responses={201: dict})
    def post(self, request):
        data = validated(UploadCreateIn, request.data)
        session = upload_session_create(user=request.user, files=[dict(item) for item in data["files"]])
        return Response(upload_payload(session), status=status.HTTP_201_CREATED,
                        headers={"Location": f"/api/uploads/{session.token.hex}/", **_offset_headers(session)})


class UploadSessionDetailApi(APIView):
    """The chunk body is read from the request stream piece by piece, never parsed or held whole."""

    permission_classes = [IsStudyAdmin]
    parser_classes = []  # the body is raw bytes: no parser may read it into memory

    @extend_schema(responses={200: dict})
    def get(self, request, token: str):
        session = upload_session_get(token=token, user=request.user)
        return Response(upload_payload(session), headers=_offset_headers(session))

    def head(self, request, token: str):
        session = upload_session_get(token=token, user=request.user)
        return Response(status=status.HTTP_200_OK, headers=_offset_headers(session))

    @extend_schema(request=bytes, responses={200: dict})
    def patch(self, request, token: str):
        session = upload_session_get(token=token, user=request.user)
        try:
            session = upload_chunk_write(
                session=session, offset=_int_header(request.headers.get(OFFSET)),
                length=_int_header(request.META.get("CONTENT_LENGTH")), stream=request._request)
        except OffsetError as exc:
            return _offset_error(exc)
        return Response({"offset": session.received_bytes, "total_bytes": session.total_bytes},
                        headers=_offset_headers(session))

    put = patch

    @extend_schema(responses={204: None})
    def delete(self, request, token: str):
        upload_session_cancel(session=upload_session_get(token=token, user=request.user), user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class UploadSessionCompleteApi(APIView):
    permission_classes = [IsStudyAdmin]

    @extend_schema(request=None, responses={202: dict})
    def post(self, request, token: str):
        session = upload_session_get(token=token, user=request.user)
        try:
            session = upload_session_complete(session=session, user=request.user)
        except OffsetError as exc:
            return _offset_error(exc)
        return Response(upload_payload(session), status=status.HTTP_202_ACCEPTED)


class IngestListApi(APIView):
    """Uploads (the user's own) and received DICOM studies on their way to a case, with their live state."""

    permission_classes = [IsStudyAdmin]

    @extend_schema(responses={200: dict})
    def get(self, request):
        uploads = [{"kind": "upload", **upload_payload(s)} for s in upload_sessions_in_flight(user=request.user)]
        received = [{"kind": "dicom", "id": r.pk, "instances": r.instances, "calling_ae": r.calling_ae,
                     "created_at": r.first_received_at.isoformat(), **received_state(r)}
                    for r in received_studies_in_flight()]
        return Response({"results": uploads + received})
