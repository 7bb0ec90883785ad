"""The voxel limit is a deployment setting, and an unexpected reading error is still a clear 400."""

from __future__ import annotations

import pytest

from cases.models import Case

from .mutations import encode_all, fresh_study
from .test_upload_fuzz import _post, _valid_study

pytestmark = pytest.mark.django_db


def test_voxel_limit_comes_from_settings(client_for, settings):
    settings.PETCTWEB_MAX_VOXELS = 100  # the 4 x 8 x 10 test series has 320 voxels
    response = _post(client_for("superuser"), encode_all(*fresh_study(*_valid_study())))
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "too_large"
    assert Case.objects.count() == 0


def test_unexpected_reading_error_is_a_400_naming_no_file(client_for, monkeypatch):
    import cases.services

    def broken_reader(**kwargs):
        raise ZeroDivisionError("secret-name.dcm")

    monkeypatch.setattr(cases.services, "load_studies", broken_reader)
    response = _post(client_for("superuser"), encode_all(*fresh_study(*_valid_study())))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "unreadable_dicom"
    assert "ZeroDivisionError" in body["detail"] and "secret-name" not in body["detail"]
    assert Case.objects.count() == 0
