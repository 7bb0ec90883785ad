"""The binary volume response the viewer reads: stored gzip payload, shape and dtype in headers.

Stored volumes never change once written (a new mask is a new segmentation), so each response carries a
strong ETag (a different one per content encoding, as HTTP requires) and If-None-Match answers 304.
Where the URL names one immutable payload (``immutable=True``: a case's CT/PET/specimen, a mask version)
the browser may keep it a year without asking again; a URL that means "the latest" (the model's mask)
is revalidated on every use. The stored gzip bytes go out unchanged to clients that accept gzip and are
decompressed for the few that do not.
"""

from __future__ import annotations

import gzip

from django.http import HttpResponse, HttpResponseNotModified
from django.utils.http import parse_etags

from cases.volume_store import read_payload

IMMUTABLE = "private, max-age=31536000, immutable"
REVALIDATE = "private, no-cache"


def accepts_gzip(accept_encoding: str) -> bool:
    """True unless the client's Accept-Encoding leaves gzip out or gives it q=0 (RFC 9110 section 12.5.3)."""
    if not accept_encoding.strip():
        return False
    weights = {}
    for item in accept_encoding.split(","):
        coding, _, params = item.strip().partition(";")
        q = 1.0
        params = params.strip().replace(" ", "")
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        weights[coding.strip().lower()] = q
    if "gzip" in weights:
        return weights["gzip"] > 0
    return weights.get("*", 0) > 0


def volume_response(request, *, payload_name: str, dtype: str, shape, etag: str,
                    immutable: bool = False) -> HttpResponse:
    gzipped = accepts_gzip(request.headers.get("Accept-Encoding", ""))
    quoted = f'"{etag}"' if gzipped else f'"{etag}-identity"'
    headers = {
        "ETag": quoted,
        "Cache-Control": IMMUTABLE if immutable else REVALIDATE,
        "Vary": "Accept-Encoding",
    }
    if_none_match = parse_etags(request.headers.get("If-None-Match", ""))
    if quoted in if_none_match or "*" in if_none_match:
        response = HttpResponseNotModified()
    else:
        payload = read_payload(payload_name)
        response = HttpResponse(payload if gzipped else gzip.decompress(payload), content_type="application/octet-stream")
        if gzipped:
            response["Content-Encoding"] = "gzip"
    for name, value in headers.items():
        response[name] = value
    response["X-Volume-Shape"] = ",".join(str(s) for s in shape)
    response["X-Volume-Dtype"] = dtype
    response["Access-Control-Expose-Headers"] = "X-Volume-Shape, X-Volume-Dtype"
    return response
