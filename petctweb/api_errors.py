"""API errors: always JSON with a readable ``detail``, never a traceback or other internals.

Domain errors become their 4xx; DRF's own errors keep DRF's body; anything unexpected is logged with its
traceback on the server and answered 500 ``{"detail": ..., "code": "server_error"}``. The same JSON is
used for /api/ URLs that fail outside a view (``handler404`` / ``handler500`` in petctweb/urls.py);
HTML pages get the plain templates 404.html / 500.html.
"""

from __future__ import annotations

import logging

from django.http import JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler
from rest_framework.views import set_rollback

from petctweb.errors import DomainError

logger = logging.getLogger("petctweb.api")

SERVER_ERROR = {"detail": "internal server error; it has been logged", "code": "server_error"}
NOT_FOUND = {"detail": "no such API endpoint", "code": "not_found"}


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        set_rollback()
        return Response({"detail": exc.message, "code": exc.code}, status=exc.http_status or status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    request = context.get("request")
    logger.error("unhandled error in %s %s", getattr(request, "method", "?"), getattr(request, "path", "?"),
                 exc_info=exc)
    set_rollback()
    return Response(SERVER_ERROR, status=status.HTTP_500_INTERNAL_SERVER_ERROR)


def _is_api(request) -> bool:
    return request.path.startswith("/api/")


def server_error(request):
    if _is_api(request):
        return JsonResponse(SERVER_ERROR, status=500)
    return defaults.server_error(request)


def page_not_found(request, exception):
    if _is_api(request):
        return JsonResponse(NOT_FOUND, status=404)
    return defaults.page_not_found(request, exception)
