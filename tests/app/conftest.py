"""App-level fixtures (Django)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from petctweb.roles import PATHOLOGIST, READER, STUDY_ADMIN


@pytest.fixture(autouse=True)
def isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PETCTWEB_MODEL_ROOT = tmp_path / "media" / "models"
    settings.PETCTWEB_AUTO_INFERENCE = False  # tests that need the worker switch it on


def _user(django_user_model, username: str, role: str | None, superuser: bool = False):
    user = django_user_model.objects.create_user(username=username, password="pw-" + username)
    if superuser:
        user.is_superuser = user.is_staff = True
        user.save()
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


@pytest.fixture
def users(db, django_user_model):
    return {
        "superuser": _user(django_user_model, "root", None, superuser=True),
        "study_admin": _user(django_user_model, "admin1", STUDY_ADMIN),
        "reader": _user(django_user_model, "reader1", READER),
        "pathologist": _user(django_user_model, "path1", PATHOLOGIST),
        "no_role": _user(django_user_model, "nobody", None),
    }


@pytest.fixture
def client_for(users):
    def make(role: str | None) -> APIClient:
        client = APIClient()
        if role is not None:
            client.force_login(users[role])
        return client

    return make
