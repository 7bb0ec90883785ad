"""Volumes: strong ETags, long cache lifetime for immutable URLs, 304 on If-None-Match, Accept-Encoding."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from cases.volume_http import accepts_gzip

pytestmark = pytest.mark.django_db


def test_accept_encoding_parsing():
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert accepts_gzip("*")
    assert not accepts_gzip("")
    assert not accepts_gzip("identity")
    assert not accepts_gzip("gzip;q=0, *")
    assert not accepts_gzip("*;q=0")


def test_ct_volume_is_cacheable_forever_and_revalidates_with_304(client_for, case, study):
    reader = client_for("reader")
    url = f"/api/cases/{case.code}/volumes/ct/"
    first = reader.get(url, HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert first.status_code == 200
    assert first["Content-Encoding"] == "gzip"
    assert first["Cache-Control"] == "private, max-age=31536000, immutable"
    etag = first["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "Accept-Encoding" in first["Vary"]
    ct = np.frombuffer(gzip.decompress(first.content), dtype="<i2").reshape(case.grid.shape)
    assert ct[0, 0, 0] == -500
    again = reader.get(url, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again.content == b""
    assert again["ETag"] == etag
    other = reader.get(url, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH='"something-else", W/"x"')
    assert other.status_code == 200


def test_client_without_gzip_gets_plain_bytes_with_its_own_etag(client_for, case, study):
    reader = client_for("reader")
    url = f"/api/cases/{case.code}/volumes/ct/"
    zipped = reader.get(url, HTTP_ACCEPT_ENCODING="gzip")
    plain = reader.get(url, HTTP_ACCEPT_ENCODING="identity")
    assert plain.status_code == 200
    assert "Content-Encoding" not in plain
    assert plain.content == gzip.decompress(zipped.content)
    assert plain["ETag"] != zipped["ETag"]
    assert reader.get(url, HTTP_ACCEPT_ENCODING="identity", HTTP_IF_NONE_MATCH=zipped["ETag"]).status_code == 200


def test_latest_model_mask_url_is_revalidated_not_kept(client_for, case, study, users):
    """/volumes/model_mask/ means "the newest": it may change, so it is never cached without asking."""
    from cases.volume_store import store_array
    from inference.models import InferenceRun, ModelVersion, Segmentation

    model = ModelVersion.objects.create(name="fake", version="1", architecture="none", config={}, bundle_dir="x",
                                        is_default=True)
    run = InferenceRun.objects.create(case=case, model_version=model, status="done", progress=100.0, threshold_mm=1.0)
    name, _, _ = store_array(array=np.ones(case.grid.shape, np.uint8), name=f"masks/{case.code}/m.raw.gz")
    Segmentation.objects.create(case=case, source="model", model_version=model, inference_run=run, mask_file=name,
                                voxel_count=1)
    response = client_for("study_admin").get(f"/api/cases/{case.code}/volumes/model_mask/",
                                             HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Cache-Control"] == "private, no-cache"
    assert response["ETag"]
