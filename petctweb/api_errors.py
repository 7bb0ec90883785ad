"""API errors: domain errors become 4xx responses with a readable body."""

from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from petctweb.errors import DomainError


def exception_handler(exc, context):
    if isinstance(exc, DomainError):
        return Response({"detail": exc.message, "code": exc.code}, status=exc.http_status or status.HTTP_400_BAD_REQUEST)
    return drf_exception_handler(exc, context)
