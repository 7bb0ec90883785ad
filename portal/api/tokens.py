"""API tokens of the signed-in user: list, create (the secret is shown once), revoke.

Managing tokens needs a browser session: a leaked token must not be able to mint more tokens.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response

from portal.api.common import StudiesApiView, validated
from portal.tokens import api_token_create, api_token_revoke, api_tokens_of


class TokenCreateIn(serializers.Serializer):
    days = serializers.IntegerField(required=False, min_value=1, max_value=365)


def _token_row(token) -> dict:
    return {"token_key": token.token_key, "created": token.created.isoformat(),
            "expiry": token.expiry.isoformat() if token.expiry else None}


class ApiTokenListApi(StudiesApiView):
    authentication_classes = [SessionAuthentication]

    @extend_schema(responses={200: dict})
    def get(self, request):
        return Response({"results": [_token_row(token) for token in api_tokens_of(user=request.user)]})

    @extend_schema(request=TokenCreateIn, responses={201: dict})
    def post(self, request):
        data = validated(TokenCreateIn, request.data)
        token, secret = api_token_create(user=request.user, days=data.get("days"))
        return Response({**_token_row(token), "token": secret,
                         "usage": "send it as the header 'Authorization: Token <token>'; it is shown only once"},
                        status=201)


class ApiTokenDetailApi(StudiesApiView):
    authentication_classes = [SessionAuthentication]

    @extend_schema(responses={204: None})
    def delete(self, request, token_key: str):
        api_token_revoke(user=request.user, token_key=token_key)
        return Response(status=204)
