"""The binary volume response the viewer reads: stored gzip payload, shape and dtype in headers."""

from __future__ import annotations

from django.http import HttpResponse, HttpResponseNotModified

from cases.volume_store import read_payload


def volume_response(request, *, payload_name: str, dtype: str, shape, etag: str) -> HttpResponse:
    quoted = f'"{etag}"'
    if request.headers.get("If-None-Match") == quoted:
        return HttpResponseNotModified()
    response = HttpResponse(read_payload(payload_name), content_type="application/octet-stream")
    response["Content-Encoding"] = "gzip"
    response["X-Volume-Shape"] = ",".join(str(s) for s in shape)
    response["X-Volume-Dtype"] = dtype
    response["ETag"] = quoted
    response["Cache-Control"] = "private, max-age=3600"
    response["Access-Control-Expose-Headers"] = "X-Volume-Shape, X-Volume-Dtype"
    return response
