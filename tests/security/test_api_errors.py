"""API errors are JSON without internals; pages get the plain 500 template; the mask-without-parent 500 is gone."""

from __future__ import annotations

import numpy as np
import pytest
from django.urls import include, path
from rest_framework.views import APIView

from inference.maskcodec import ENCODING, encode_rle

pytestmark = pytest.mark.django_db


class BoomApi(APIView):
    permission_classes = []

    def get(self, request):
        raise RuntimeError("secret internals: /srv/petctweb/settings.py password=hunter2")


def boom_page(request):
    raise RuntimeError("secret internals: /srv/petctweb/settings.py password=hunter2")


urlpatterns = [
    path("api/boom/", BoomApi.as_view()),
    path("boom/", boom_page),
    path("", include("petctweb.urls")),
]
handler404 = "petctweb.api_errors.page_not_found"
handler500 = "petctweb.api_errors.server_error"


@pytest.mark.urls("tests.security.test_api_errors")
def test_unexpected_api_error_is_json_without_traceback(client, caplog):
    response = client.get("/api/boom/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["code"] == "server_error" and body["detail"]
    text = response.content.decode()
    assert "secret internals" not in text and "Traceback" not in text and "hunter2" not in text
    assert any("secret internals" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)  # logged on the server


@pytest.mark.urls("tests.security.test_api_errors")
def test_page_error_gets_the_plain_template(client):
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong" in text
    assert "secret internals" not in text and "Traceback" not in text


def test_unknown_api_url_is_json_404(client_for):
    response = client_for("reader").get("/api/no-such-endpoint/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_saving_a_mask_without_parent_id_is_created(case, client_for):
    """The serializer says parent_id is optional; leaving it out used to be a 500."""
    mask = np.zeros(case.grid.shape, np.uint8)
    mask[1, 2:4, 2:5] = 1
    body = {"shape": list(case.grid.shape), "encoding": ENCODING, "data": encode_rle(mask)}
    response = client_for("reader").post(f"/api/cases/{case.code}/segmentations/", body, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["parent_id"] is None
