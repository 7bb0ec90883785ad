"""Per-user API tokens: created and revoked through the API, used with "Authorization: Token ...", refused
after revocation, and limited by the same role rules as a browser session."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent

pytestmark = pytest.mark.django_db


def _token_client(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    return client


def _create(client_for, role: str, **body) -> dict:
    response = client_for(role).post("/api/tokens/", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_token_works_for_an_allowed_endpoint_and_not_after_revocation(client_for):
    created = _create(client_for, "reader", days=7)
    machine = _token_client(created["token"])
    assert machine.get("/api/cases/").status_code == 200

    listed = client_for("reader").get("/api/tokens/").json()["results"]
    assert [row["token_key"] for row in listed] == [created["token_key"]]
    assert "token" not in listed[0]  # the secret is shown once, at creation

    assert client_for("reader").delete(f"/api/tokens/{created['token_key']}/").status_code == 204
    refused = machine.get("/api/cases/")
    # 403, not 401: session authentication comes first, so DRF sends no WWW-Authenticate challenge
    assert refused.status_code == 403
    assert "token" in refused.json()["detail"].lower()
    actions = set(AuditEvent.objects.filter(object_type="api_token").values_list("action", flat=True))
    assert actions == {"api_token.create", "api_token.revoke"}


def test_a_readers_token_cannot_do_admin_things(client_for):
    machine = _token_client(_create(client_for, "reader")["token"])
    assert machine.get("/api/training-jobs/").status_code == 403
    assert machine.get("/api/studies/audit/").status_code == 403
    admin = _token_client(_create(client_for, "study_admin")["token"])
    assert admin.get("/api/training-jobs/").status_code == 200


def test_tokens_cannot_mint_tokens_nor_revoke_other_peoples(client_for):
    created = _create(client_for, "reader")
    machine = _token_client(created["token"])
    assert machine.post("/api/tokens/", {}, format="json").status_code in (401, 403)
    other = client_for("reader2").delete(f"/api/tokens/{created['token_key']}/")
    assert other.status_code == 404
    assert other.json()["code"] == "not_found"
    assert machine.get("/api/cases/").status_code == 200  # still valid


def test_bad_expiry_is_a_clear_400(client_for):
    response = client_for("reader").post("/api/tokens/", {"days": 1000}, format="json")
    assert response.status_code == 400
    assert "days" in response.json()["detail"]
