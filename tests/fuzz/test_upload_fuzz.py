"""Hundreds of malformed studies through the real upload API: 400s with reasons, never a 5xx or a partial case."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.imaging.dicom_factory import make_ct_series, make_pet_series

from .mutations import Files, all_mutations, encode_all, fresh_study

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


def _valid_study():
    ct = make_ct_series(shape=(4, 8, 10), values=lambda shape: _ramp(shape, -1000.0, 400.0))
    pet = make_pet_series(shape=(4, 8, 10), values=lambda shape: _ramp(shape, 0.0, 5000.0))
    for ds in pet:
        ds.FrameOfReferenceUID = ct[0].FrameOfReferenceUID
    return ct, pet


def _ramp(shape, low: float, high: float):
    import numpy as np

    return np.linspace(low, high, num=int(np.prod(shape))).reshape(shape)


def _post(client, files: Files):
    return client.post(
        reverse("api-case-upload"),
        {"files": [SimpleUploadedFile(name, content) for name, content in files]},
        format="multipart",
    )


def _media_snapshot(root: Path) -> set[str]:
    if not root.exists():
        return set()
    return {p.relative_to(root).as_posix() + ("/" if p.is_dir() else "") for p in root.rglob("*")}


def test_malformed_uploads_are_refused_cleanly(client_for, settings):
    from cases.models import Case

    admin = client_for("superuser")
    ct, pet = _valid_study()
    mutations = all_mutations(n_ct=len(ct))
    assert len([m for m in mutations if m.refuse]) >= 300
    media = Path(settings.MEDIA_ROOT)
    failures: list[str] = []
    statuses: dict[int, int] = {}
    for mutation in mutations:
        before_cases, before_media = Case.objects.count(), _media_snapshot(media)
        response = _post(admin, mutation.build(*fresh_study(ct, pet)))
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        if response.status_code >= 500:
            failures.append(f"{mutation.name}: server error {response.status_code}")
            continue
        if mutation.refuse:
            body = response.json() if response.status_code == 400 else {}
            if response.status_code != 400 or not str(body.get("detail", "")).strip() or not body.get("code"):
                failures.append(f"{mutation.name}: expected 400 with a reason, got {response.status_code} {body}")
            if Case.objects.count() != before_cases or _media_snapshot(media) != before_media:
                failures.append(f"{mutation.name}: a refused upload left a case or files behind")
        elif response.status_code != 201:
            failures.append(f"{mutation.name}: harmless variant refused: {response.status_code} {response.content[:300]}")
    assert not failures, f"{len(failures)} of {len(mutations)} mutations misbehaved:\n" + "\n".join(failures)
    assert 500 not in statuses

    # The server is still healthy: a valid study imports and its page data is served.
    response = _post(admin, encode_all(*fresh_study(ct, pet)))
    assert response.status_code == 201, response.content
    code = response.json()["cases"][0]["code"]
    assert client_for("reader").get(reverse("api-case-detail", kwargs={"code": code})).status_code == 200
