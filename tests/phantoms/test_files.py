"""Written DICOM series, NIfTI masks, truth.json and manifest.json read back."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from cases.imaging.volume import LPS_TO_RAS, Grid
from cases.phantoms.fields import nearest_mask
from cases.phantoms.generator import write_case

CT_SOP = "1.2.840.10008.5.1.4.1.1.2"
PET_SOP = "1.2.840.10008.5.1.4.1.1.128"


def _series(folder: Path):
    return [pydicom.dcmread(p) for p in sorted(folder.glob("*.dcm"))]


def _grid_from(datasets) -> Grid:
    first, second = datasets[0], datasets[1]
    ipp = [float(v) for v in first.ImagePositionPatient]
    dz = float(second.ImagePositionPatient[2]) - ipp[2]
    sy, sx = (float(v) for v in first.PixelSpacing)
    return Grid(
        shape=(len(datasets), int(first.Rows), int(first.Columns)), spacing=(dz, sy, sx), origin=tuple(ipp)
    )


def _suv_qiba(ds) -> float:
    """SUVbw per Bq/ml from the header, per the QIBA profile."""
    item = ds.RadiopharmaceuticalInformationSequence[0]
    start = datetime.strptime(item.RadiopharmaceuticalStartDateTime, "%Y%m%d%H%M%S.%f")
    series = datetime.strptime(ds.SeriesDate + ds.SeriesTime, "%Y%m%d%H%M%S.%f")
    decay = 2 ** (-(series - start).total_seconds() / float(item.RadionuclideHalfLife))
    return float(ds.PatientWeight) * 1000.0 / (float(item.RadionuclideTotalDose) * decay)


def test_layout_manifest_and_progress(written):
    out, summaries, calls = written
    assert [c[:2] for c in calls] == [(1, 2), (2, 2)]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["n"] == 2 and manifest["seed"] == 2024 and manifest["size"] == "small"
    assert [c["case_id"] for c in manifest["cases"]] == ["case_0000", "case_0001"]
    for summary in summaries:
        case_dir = out / summary.case_id
        assert summary.path == case_dir
        for rel in (
            "truth/truth.json",
            "truth/tumour_mask.nii.gz",
            "truth/specimen_mask.nii.gz",
            "truth/labels.nii.gz",
        ):
            assert (case_dir / rel).is_file()
        assert len(list((case_dir / "ct").glob("*.dcm"))) == summary.n_ct_files
        assert len(list((case_dir / "pet").glob("*.dcm"))) == summary.n_pet_files
        assert summary.dicom_bytes < 6_500_000


def test_dicom_series_read_back(written):
    out, summaries, _ = written
    case_dir = out / summaries[0].case_id
    truth = json.loads((case_dir / "truth" / "truth.json").read_text())
    ct, pet = _series(case_dir / "ct"), _series(case_dir / "pet")
    for ds in ct + pet:
        assert ds.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert ds.file_meta.MediaStorageSOPClassUID == ds.SOPClassUID
        assert ds.preamble == b"\x00" * 128
    assert {ds.SOPClassUID for ds in ct} == {CT_SOP}
    assert {ds.SOPClassUID for ds in pet} == {PET_SOP}
    assert len({ds.StudyInstanceUID for ds in ct + pet}) == 1
    assert len({ds.FrameOfReferenceUID for ds in ct + pet}) == 1
    assert len({ds.SeriesInstanceUID for ds in ct}) == 1 and len({ds.SeriesInstanceUID for ds in pet}) == 1
    assert ct[0].SeriesInstanceUID != pet[0].SeriesInstanceUID
    assert len({ds.SOPInstanceUID for ds in ct + pet}) == len(ct) + len(pet)
    ct_grid, pet_grid = _grid_from(ct), _grid_from(pet)
    for read, expected in ((ct_grid, truth["ct_grid"]), (pet_grid, truth["pet_grid"])):
        np.testing.assert_allclose(read.origin, expected["origin"], atol=1e-4)
        np.testing.assert_allclose(read.spacing, expected["spacing"], atol=1e-4)
        assert list(read.shape) == expected["shape"]
    assert ct_grid.shape != pet_grid.shape
    assert not np.allclose(ct_grid.origin, pet_grid.origin)
    assert ct_grid.spacing[2] < 0.45 < pet_grid.spacing[2]
    # PHI-like attributes present for de-identification to remove
    assert str(ct[0].PatientName) == "PHANTOM^0000"
    for keyword in (
        "PatientID",
        "PatientBirthDate",
        "AccessionNumber",
        "InstitutionName",
        "ReferringPhysicianName",
    ):
        assert str(getattr(ct[0], keyword))
    # pixel data decodes; CT in HU with the standard rescale
    assert ct[0].RescaleIntercept == -1024 and ct[0].RescaleSlope == 1 and ct[0].PixelRepresentation == 0
    assert ct[5].pixel_array.shape == (ct[0].Rows, ct[0].Columns)
    assert pet[0].Units == "BQML" and pet[0].DecayCorrection == "START"
    assert pet[0].RadiopharmaceuticalInformationSequence[0].Radiopharmaceutical == "Fludeoxyglucose F^18^"
    assert "DECY" in pet[0].CorrectedImage and "ATTN" in pet[0].CorrectedImage
    assert _suv_qiba(pet[0]) == pytest.approx(truth["suv_per_bqml"], rel=1e-6)


def test_pet_suv_from_header_matches_intended(batch_cases, tmp_path):
    case = batch_cases[3]
    case_dir = write_case(case=case, out_dir=tmp_path)
    pet = _series(case_dir / "pet")
    scale = _suv_qiba(pet[0])
    suv = (
        np.stack([ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept) for ds in pet]) * scale
    )
    # quantisation error at most half a step per slice
    step = np.array([float(ds.RescaleSlope) for ds in pet])[:, None, None] * scale
    assert np.all(np.abs(suv - case.pet_suv_intended) <= step * 0.5 + 1e-6)
    np.testing.assert_allclose(suv, case.pet_suv, rtol=1e-5, atol=1e-6)
    # tissue levels: median SUV of fat and tumour voxels near the intended values
    t = case.truth
    fat_mask = nearest_mask(mask=case.labels == 1, source=case.ct_grid, target=case.pet_grid)
    assert float(np.median(suv[fat_mask])) == pytest.approx(t["pet"]["suv_levels"]["fat"], rel=0.35)
    tumour = nearest_mask(mask=case.tumour_mask, source=case.ct_grid, target=case.pet_grid)
    assert float(suv[tumour].max()) == pytest.approx(t["tumour_suv"]["pet_max"], rel=1e-3)
    assert float(suv[tumour].max()) > 2.5
    # CT read back equals the in-memory HU
    for path in sorted((case_dir / "ct").glob("*.dcm"))[::10]:
        ds = pydicom.dcmread(path)
        k = int(ds.InstanceNumber) - 1
        hu = ds.pixel_array.astype(np.float32) * float(ds.RescaleSlope) + float(ds.RescaleIntercept)
        np.testing.assert_array_equal(hu, case.ct_hu[k])


def test_nifti_masks(written):
    out, summaries, _ = written
    case_dir = out / summaries[1].case_id
    truth = json.loads((case_dir / "truth" / "truth.json").read_text())
    grid = Grid.from_dict(truth["ct_grid"])
    tumour = nib.load(case_dir / "truth" / "tumour_mask.nii.gz")
    specimen = nib.load(case_dir / "truth" / "specimen_mask.nii.gz")
    np.testing.assert_allclose(tumour.affine, LPS_TO_RAS @ grid.affine(), atol=1e-5)
    data = np.asarray(tumour.dataobj).transpose(2, 1, 0)
    assert data.shape == grid.shape
    voxel_ml = float(np.prod(grid.spacing)) / 1000
    assert data.sum() * voxel_ml == pytest.approx(truth["tumour_volume_ml"], rel=1e-4)
    spec = np.asarray(specimen.dataobj).transpose(2, 1, 0).astype(bool)
    assert not (data.astype(bool) & ~spec).any()


def test_bytes_deterministic(batch_cases, regenerated, tmp_path):
    a = write_case(case=batch_cases[0], out_dir=tmp_path / "a")
    b = write_case(case=regenerated, out_dir=tmp_path / "b")
    files_a = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(b) for p in b.rglob("*") if p.is_file())
    assert files_a == files_b
    for rel in files_a:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel


def test_fast_encoder_equals_pydicom(written, tmp_path):
    out, summaries, _ = written
    for folder in ("ct", "pet"):
        path = sorted((out / summaries[0].case_id / folder).glob("*.dcm"))[3]
        ds = pydicom.dcmread(path)
        ds.save_as(tmp_path / "ref.dcm", enforce_file_format=True)
        assert (tmp_path / "ref.dcm").read_bytes() == path.read_bytes()


def test_django_free():
    code = "import sys, cases.phantoms; assert not any(m.startswith('django') for m in sys.modules)"
    root = Path(__file__).resolve().parents[2]
    subprocess.run([sys.executable, "-c", code], check=True, cwd=root)
