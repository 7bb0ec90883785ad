"""With real pixels: the masks zip holds DICOM SEG (highdicom) and NIfTI (nibabel); simulate_study end to end."""

from __future__ import annotations

import gzip
import io
import json
import re
import zipfile

import highdicom as hd
import nibabel as nib
import numpy as np
import pytest
from django.core.management import call_command

from cases.models import Case
from cases.services import case_import
from studies.models import Study
from studies.services import ground_truth_record, ground_truth_sign_off, read_submit, study_create

from .conftest import make_model_result, save_mask

pytestmark = pytest.mark.django_db


def test_masks_zip_has_dicom_seg_and_nifti_of_every_mask(users, client_for, phantom_dir):
    case = case_import(path=phantom_dir / "case_0000", source=Case.Source.IMPORT)[0].case
    shape = case.grid.shape
    k, j, i = (s // 2 for s in shape)
    model_mask = np.zeros(shape, bool)
    model_mask[k - 2:k + 2, j - 3:j + 3, i - 3:i + 3] = True
    model_seg = make_model_result(case, closest_mm=0.8, mask=model_mask)
    study = study_create(user=users["study_admin"], name="Phantom", design="aided", case_codes=[case.code],
                         reader_usernames=["reader1"], seed=1)
    reader_mask = model_mask.copy()
    reader_mask[k, j - 4, i - 3:i + 3] = True
    reader_seg = save_mask(case, users["reader"], "reader", reader_mask, parent_id=model_seg.pk)
    read_submit(user=users["reader"], case=case, status="close", confidence=4, time_spent_s=30,
                segmentation_id=reader_seg.pk)
    outline = np.zeros(shape, bool)
    outline[k, j - 2:j + 3, i - 2:i + 3] = True
    gt_seg = save_mask(case, users["pathologist"], "ground_truth", outline)
    gt = ground_truth_record(user=users["pathologist"], case=case, margin_status="close", closest_distance_mm=0.6,
                             segmentation_id=gt_seg.pk, slice_index=k)
    ground_truth_sign_off(user=users["pathologist"], ground_truth=gt)

    admin = client_for("study_admin")
    response = admin.get(f"/api/studies/{study.pk}/results/masks.zip")
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    manifest = json.loads(archive.read("manifest.json"))
    by_source = {e["source"]: e for e in manifest["files"]}
    assert set(by_source) == {"model", "reader", "ground_truth"}
    expected = {"model": model_mask, "reader": reader_mask, "ground_truth": outline}
    for source, entry in by_source.items():
        assert entry["dicom_seg"], entry
        seg = hd.seg.segread(io.BytesIO(archive.read(entry["dicom_seg"])))
        segment = seg.SegmentSequence[0]
        assert segment.SegmentAlgorithmType == ("AUTOMATIC" if source == "model" else "MANUAL")
        assert seg.get_source_image_uids()  # references the de-identified CT
        assert int(np.asarray(seg.pixel_array).sum()) > 0
        image = nib.Nifti1Image.from_bytes(gzip.decompress(archive.read(entry["nifti"])))
        data = np.asarray(image.dataobj).transpose(2, 1, 0)
        assert data.shape == tuple(shape)
        assert np.array_equal(data != 0, expected[source])
    # The report compares the reader's mask with the model mask it started from, and with the outline in 2D.
    report = admin.get(f"/api/studies/{study.pk}/results/").json()
    seg = report["segmentation"]
    assert seg["truth_slices"][case.code] == {"mode": "2d", "slice_index": k,
                                              "ground_truth_segmentation_id": gt_seg.pk}
    assert seg["reader_vs_model_start"]["aided"]["reader1"]["cases"][case.code]["dice"] < 1.0
    assert seg["vs_ground_truth"]["model"]["cases"][case.code]["spacing_mm"] == list(case.grid.spacing[1:])


@pytest.mark.slow
def test_simulate_study_builds_a_complete_study(users, client_for):
    out = io.StringIO()
    call_command("simulate_study", "--readers", "2", "--cases", "3", "--seed", "5", "--model", "simulated",
                 stdout=out, stderr=io.StringIO())
    text = out.getvalue()
    study_id = int(re.search(r"study id: (\d+)", text).group(1))
    assert f"/studies/{study_id}/results/" in text and "simulated-model:seed-5" in text
    study = Study.objects.get(pk=study_id)
    assert study.design == "crossover" and study.study_readers.count() == 2
    report = client_for("study_admin").get(f"/api/studies/{study_id}/results/").json()
    completeness = report["completeness"]
    assert completeness["n_cases"] == 3 and completeness["n_with_truth"] == 3 and completeness["n_with_model"] == 3
    assert completeness["reads"] == {"unaided": {"sim-reader-1": 3, "sim-reader-2": 3},
                                     "aided": {"sim-reader-1": 3, "sim-reader-2": 3}}
    assert len(report["segmentation"]["truth_slices"]) == 3
    assert report["segmentation"]["reader_vs_model_start"]["aided"]["sim-reader-1"]["n_cases"] == 3
    assert report["accuracy"]["sessions"]["aided"]["readers"]["sim-reader-1"]["counts"]["n"] == 3
    assert report["cases"][0]["truth"]["face_status"]  # per-face truth from the phantom
    # Without a registered model the study records that there is none.
    out = io.StringIO()
    call_command("simulate_study", "--readers", "1", "--cases", "1", "--seed", "6", "--design", "unaided",
                 stdout=out, stderr=io.StringIO())
    assert "model: none (no default model registered)" in out.getvalue()
