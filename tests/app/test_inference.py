"""Inference through the registry, the Celery task, the API and the predict command."""

from __future__ import annotations

import io
import json
import shutil

import highdicom as hd
import nibabel as nib
import numpy as np
import pydicom
import pytest
from django.core.management import CommandError, call_command

from cases.models import Case
from inference.models import InferenceRun, ModelVersion, Segmentation
from inference.registry import model_version_register, predictor_cache_clear
from inference.services import MAX_ATTEMPTS, inference_run_request
from inference.tasks import run_inference

pytestmark = pytest.mark.django_db


@pytest.fixture
def tiny_model(tiny_bundle) -> ModelVersion:
    predictor_cache_clear()
    return model_version_register(source_dir=tiny_bundle, name="tiny", version="test", make_default=True)


@pytest.fixture
def case(one_case_dir) -> Case:
    call_command("import_dicom", str(one_case_dir), stdout=io.StringIO())
    return Case.objects.get()


def test_registry_round_trip_keeps_config_hashes_and_metrics(tiny_model, tiny_bundle):
    manifest = json.loads((tiny_bundle / "model.json").read_text())
    assert tiny_model.folds.count() == 2
    assert ModelVersion.objects.get(pk=tiny_model.pk).config["network"]["channels"] == [4, 8]
    assert sorted(f.sha256 for f in tiny_model.folds.all()) == sorted(f["sha256"] for f in manifest["folds"])
    assert ModelVersion.objects.get(is_default=True) == tiny_model


def test_registering_a_tampered_bundle_is_refused(tiny_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(tiny_bundle, copy)
    fold = next(copy.glob("fold_*.safetensors"))
    fold.write_bytes(fold.read_bytes()[:-7] + b"tamper!")
    with pytest.raises(CommandError, match="(?i)sha|hash|corrupt"):
        call_command("register_model", str(copy), "tiny:bad")
    assert not ModelVersion.objects.filter(version="bad").exists()


def test_task_runs_to_done_and_stores_one_result(tiny_model, case):
    run = inference_run_request(case=case, model_version=tiny_model)
    assert run.status == "queued"
    assert run_inference.apply(args=[run.pk]).get() == "done"
    run.refresh_from_db()
    assert run.status == "done" and run.progress == 100.0
    assert set(run.timings) >= {"preprocess_s", "network_s", "margin_s"}
    segmentation = Segmentation.objects.get(inference_run=run)
    assert segmentation.source == "model" and segmentation.model_version == tiny_model
    assert segmentation.margin.status in {"positive", "negative", "no_tumour_detected"}
    # Re-delivery of a finished run does nothing.
    assert run_inference.apply(args=[run.pk]).get() == "nothing to do"
    assert Segmentation.objects.filter(inference_run=run).count() == 1


def test_redelivery_after_a_worker_died_reruns_once(tiny_model, case):
    run = inference_run_request(case=case, model_version=tiny_model)
    InferenceRun.objects.filter(pk=run.pk).update(status="running", attempts=1, progress=40.0)  # worker vanished
    assert run_inference.apply(args=[run.pk]).get() == "done"
    run.refresh_from_db()
    assert run.attempts == 2 and run.status == "done"
    assert Segmentation.objects.filter(case=case, source="model").count() == 1


def test_a_run_that_keeps_killing_its_worker_fails_readably(tiny_model, case):
    run = inference_run_request(case=case, model_version=tiny_model)
    InferenceRun.objects.filter(pk=run.pk).update(status="running", attempts=MAX_ATTEMPTS)
    assert run_inference.apply(args=[run.pk]).get() == "nothing to do"
    run.refresh_from_db()
    assert run.status == "failed" and "attempts" in run.message


def test_requesting_twice_joins_the_active_run(tiny_model, case):
    first = inference_run_request(case=case, model_version=tiny_model)
    assert inference_run_request(case=case, model_version=tiny_model).pk == first.pk


def test_missing_model_file_ends_in_a_clear_failure(tiny_model, case, settings):
    fold = next((settings.PETCTWEB_MODEL_ROOT / tiny_model.bundle_dir).glob("fold_*.safetensors"))
    fold.unlink()
    predictor_cache_clear()
    run = inference_run_request(case=case, model_version=tiny_model)
    assert run_inference.apply(args=[run.pk]).get() == "failed"
    run.refresh_from_db()
    assert run.status == "failed" and "model files unusable" in run.message
    assert not Segmentation.objects.filter(inference_run=run).exists()


def test_corrupt_model_file_ends_in_a_clear_failure(tiny_model, case, settings):
    fold = next((settings.PETCTWEB_MODEL_ROOT / tiny_model.bundle_dir).glob("fold_*.safetensors"))
    fold.write_bytes(b"garbage")
    predictor_cache_clear()
    run = inference_run_request(case=case, model_version=tiny_model)
    run_inference.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == "failed" and run.message


def test_case_without_usable_ct_fails_readably(tiny_model, case):
    from django.core.files.storage import default_storage

    ct = case.volumes.get(kind="ct")
    default_storage.delete(ct.file.name)
    run = inference_run_request(case=case, model_version=tiny_model)
    run_inference.apply(args=[run.pk])
    run.refresh_from_db()
    assert run.status == "failed" and "CT" in run.message


def test_api_results_and_exports(tiny_model, case, client_for):
    run = inference_run_request(case=case, model_version=tiny_model)
    run_inference.apply(args=[run.pk])
    reader = client_for("reader")
    detail = reader.get(f"/api/cases/{case.code}/").json()
    assert detail["model"]["status"] == "done"
    assert detail["margin"]["threshold_mm"] == 1.0
    assert set(detail["margin"]["faces"]) <= {"+x", "-x", "+y", "-y", "+z", "-z"}

    seg_response = reader.get(f"/api/cases/{case.code}/results/seg/")
    assert seg_response.status_code == 200
    seg = hd.seg.segread(io.BytesIO(seg_response.content))
    from cases.selectors import case_source_ct_headers

    headers = case_source_ct_headers(case=case)
    referenced = seg.ReferencedSeriesSequence[0].SeriesInstanceUID
    assert referenced == headers[0].SeriesInstanceUID

    nifti_response = reader.get(f"/api/cases/{case.code}/results/nifti/")
    image = nib.Nifti1Image.from_bytes(__import__("gzip").decompress(nifti_response.content))
    np.testing.assert_allclose(image.affine, case.grid.affine_ras(), atol=1e-4)
    mask = np.asarray(image.dataobj)
    assert int(mask.sum()) == Segmentation.objects.get(inference_run=run).voxel_count

    assert reader.get(f"/api/cases/{case.code}/results/xml/").status_code == 404


@pytest.mark.parametrize("role,expected", [("reader", 403), ("pathologist", 403), ("study_admin", 202)])
def test_only_admins_may_request_inference(tiny_model, case, client_for, role, expected):
    response = client_for(role).post(f"/api/cases/{case.code}/inference/", {}, format="json")
    assert response.status_code == expected


def test_inference_request_with_unknown_model_is_a_400(tiny_model, case, client_for):
    response = client_for("study_admin").post(f"/api/cases/{case.code}/inference/", {"model": "nope:1"}, format="json")
    assert response.status_code == 400 and "nope:1" in response.json()["detail"]
    response = client_for("study_admin").post(f"/api/cases/{case.code}/inference/", {"threshold_mm": -1}, format="json")
    assert response.status_code == 400


def test_predict_command_on_a_dicom_folder(tiny_model, one_case_dir, tmp_path):
    out = io.StringIO()
    seg_path, nifti_path = tmp_path / "seg.dcm", tmp_path / "mask.nii.gz"
    call_command("predict", str(one_case_dir), "--json", "--seg-out", str(seg_path), "--nifti-out", str(nifti_path),
                 "--device", "cpu", stdout=out)
    report = json.loads(out.getvalue())
    assert report["margin_status"] in {"positive", "negative", "no_tumour_detected"}
    assert report["margin_threshold_mm"] == 1.0
    assert report["model_version"] == "tiny:test"
    assert {"preprocess_s", "network_s", "margin_s"} <= set(report["timings"])
    for key in ("closest_margin_mm", "faces", "tumour_volume_ml", "suv_max"):
        assert key in report
    seg = hd.seg.segread(seg_path)
    assert seg.SegmentSequence[0].SegmentLabel
    ct_file = next((one_case_dir / "ct").iterdir())
    assert pydicom.dcmread(ct_file).FrameOfReferenceUID != seg.FrameOfReferenceUID  # de-identified UIDs
    assert nib.load(nifti_path).header.get_zooms() == pytest.approx((0.5, 0.5, 0.5))


def test_predict_command_bad_input(tiny_model, tmp_path):
    with pytest.raises(CommandError, match="neither an existing path nor a case code"):
        call_command("predict", "PC-MISSING")
    (tmp_path / "junk.txt").write_text("hello")
    with pytest.raises(CommandError, match="(?i)dicom"):
        call_command("predict", str(tmp_path))
    with pytest.raises(CommandError, match="no model"):
        call_command("predict", str(tmp_path), "--model", "ghost:1")
