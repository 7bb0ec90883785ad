"""People's masks through the API: exact round trip, versions, drafts, and bad payloads."""

from __future__ import annotations

import gzip
import io

import numpy as np
import pytest
from django.core.management import call_command

from cases.models import Case
from inference.maskcodec import decode_rle, encode_rle
from inference.models import Segmentation

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(one_case_dir) -> Case:
    call_command("import_dicom", str(one_case_dir), stdout=io.StringIO())
    return Case.objects.get()


def painted(case: Case) -> np.ndarray:
    mask = np.zeros(case.grid.shape, dtype=np.uint8)
    z, y, x = (s // 2 for s in case.grid.shape)
    mask[z - 2 : z + 3, y - 4 : y + 4, x - 3 : x + 5] = 1
    mask[0, 0, 0] = 1  # a run starting at the very first voxel
    return mask


def body(case, mask, parent_id=None):
    return {"parent_id": parent_id, "shape": list(case.grid.shape), "encoding": "rle-u8-v1", "data": encode_rle(mask)}


def fetch_mask(client, url, shape):
    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")  # as browsers ask; plain bytes otherwise
    assert response.status_code == 200
    return np.frombuffer(gzip.decompress(response.content), dtype=np.uint8).reshape(shape)


def test_codec_round_trip_and_rejects_bad_lengths():
    rng = np.random.default_rng(0)
    for mask in (np.zeros((3, 4, 5), np.uint8), np.ones((3, 4, 5), np.uint8), (rng.random((7, 9, 11)) > 0.6).astype(np.uint8)):
        np.testing.assert_array_equal(decode_rle(data=encode_rle(mask), shape=mask.shape), mask)


def test_saved_mask_reads_back_exactly_and_versions_grow(case, client_for):
    reader = client_for("reader")
    mask = painted(case)
    first = reader.post(f"/api/cases/{case.code}/segmentations/", body(case, mask), format="json")
    assert first.status_code == 201, first.content
    np.testing.assert_array_equal(fetch_mask(reader, first.json()["url"], case.grid.shape), mask)
    mask[1, 1, 1] = 1
    second = reader.post(f"/api/cases/{case.code}/segmentations/", body(case, mask, first.json()["id"]), format="json")
    assert second.json()["version"] == 2 and second.json()["parent_id"] == first.json()["id"]
    assert Segmentation.objects.filter(case=case, source="reader").count() == 2  # nothing overwritten
    detail = reader.get(f"/api/cases/{case.code}/").json()
    assert detail["my_segmentation"]["id"] == second.json()["id"]


def test_draft_is_replaced_and_cleared_on_save(case, client_for):
    reader = client_for("reader")
    assert reader.get(f"/api/cases/{case.code}/segmentations/draft/").status_code == 204
    mask = painted(case)
    assert reader.put(f"/api/cases/{case.code}/segmentations/draft/", body(case, mask), format="json").status_code == 200
    mask[2, 2, 2] = 1
    assert reader.put(f"/api/cases/{case.code}/segmentations/draft/", body(case, mask), format="json").status_code == 200
    draft = reader.get(f"/api/cases/{case.code}/segmentations/draft/").json()
    np.testing.assert_array_equal(decode_rle(data=draft["data"], shape=tuple(draft["shape"])), mask)
    assert Segmentation.objects.filter(is_draft=True).count() == 1
    reader.post(f"/api/cases/{case.code}/segmentations/", body(case, mask), format="json")
    assert reader.get(f"/api/cases/{case.code}/segmentations/draft/").status_code == 204


def test_other_users_masks_are_invisible(case, client_for):
    saved = client_for("reader").post(f"/api/cases/{case.code}/segmentations/", body(case, painted(case)), format="json")
    assert client_for("study_admin").get(saved.json()["url"]).status_code == 404
    assert client_for("pathologist").get(f"/api/cases/{case.code}/segmentations/").json()["results"] == []


@pytest.mark.parametrize("change,message", [
    (lambda b: b.update(shape=[1, 2, 3]), "does not match the case grid"),
    (lambda b: b.update(data="!!!not base64!!!"), "base64"),
    (lambda b: b.update(data="AQAAAA=="), "cover"),
    (lambda b: b.update(data="AAA="), "uint32"),
    (lambda b: b.update(encoding="png"), "unknown mask encoding"),
    (lambda b: b.update(parent_id=999999), "parent"),
])
def test_bad_mask_payloads_are_refused_and_nothing_is_stored(case, client_for, change, message):
    payload = body(case, painted(case))
    change(payload)
    response = client_for("reader").post(f"/api/cases/{case.code}/segmentations/", payload, format="json")
    assert response.status_code == 400
    assert message in response.json()["detail"]
    assert not Segmentation.objects.filter(source="reader").exists()


def test_pathologist_masks_are_ground_truth_outlines(case, client_for):
    saved = client_for("pathologist").post(f"/api/cases/{case.code}/segmentations/", body(case, painted(case)),
                                           format="json")
    assert saved.json()["source"] == "ground_truth"
