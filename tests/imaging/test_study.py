"""End to end: an upload in, de-identified PET-CT on one grid out."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from pydicom import dcmread

from cases.imaging.deid import patient_key
from cases.imaging.errors import IngestError
from cases.imaging.study import load_series_volume, load_studies

from .dicom_factory import PATIENT_ID, linear_values, make_ct_series, pet_headers, write_pair, write_series
from .test_deid import PHI
from .test_suv import START_FACTOR

SECRET = "study-secret"
CT_GEOMETRY = {"shape": (16, 16, 16), "spacing": (0.5, 0.5, 0.5), "origin": (-4.0, -4.0, 0.0)}
PET_GEOMETRY = {"shape": (4, 6, 6), "spacing": (2.0, 1.0, 1.0), "origin": (-2.0, -2.0, 1.0)}
HU = {"coefficients": (10.0, 20.0, 4.0), "constant": -500.0}


def _pet_values() -> np.ndarray:
    values = np.full(PET_GEOMETRY["shape"], 1000.0)
    values[1, 2, 3] = 10000.0  # patient (x, y, z) = (-2 + 3, -2 + 2, 1 + 2 * 1) = (1, 0, 3)
    return values


def _write(folder: Path, *, pet: dict | None = None) -> None:
    write_pair(
        folder,
        ct_kwargs={**CT_GEOMETRY, "values": linear_values(**CT_GEOMETRY, **HU)},
        pet_kwargs={
            **PET_GEOMETRY,
            "values": _pet_values(),
            "pet": pet if pet is not None else pet_headers(),
        },
    )


def _zip(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                archive.write(file, file.relative_to(folder).as_posix())
    return target


def test_zip_upload_end_to_end(tmp_path: Path) -> None:
    _write(tmp_path / "export" / "scan")
    (tmp_path / "export" / "README.txt").write_text("exported from the scanner")
    upload = _zip(tmp_path / "export", tmp_path / "upload.zip")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    seen_keys = []

    def case_code(key: str | None) -> str:
        seen_keys.append(key)
        return "CASE-0042"

    studies = load_studies(
        path=upload, working_spacing_mm=0.5, deid_secret=SECRET, case_code=case_code, temp_parent=scratch
    )
    assert list(scratch.iterdir()) == []  # temporary extraction removed
    assert len(studies) == 1
    study = studies[0]
    assert seen_keys == [patient_key(patient_id=PATIENT_ID, secret=SECRET)] == [study.patient_key]
    assert study.case_code == "CASE-0042"
    # Geometry: CT already at 0.5 mm, so the working grid is the CT grid.
    assert study.ct_acquired.shape == (16, 16, 16) and study.pet_acquired.shape == (4, 6, 6)
    assert study.ct_working.grid == study.ct_acquired == study.pet_working.grid
    np.testing.assert_allclose(study.ct_working.array, linear_values(**CT_GEOMETRY, **HU), atol=1e-3)
    # PET: the hot voxel lands at patient (1, 0, 3) = working index (6, 8, 10); outside PET FOV = 0.
    assert study.pet_working.array[6, 8, 10] == pytest.approx(10000.0, rel=1e-4)
    assert study.pet_working.array[6, 8, 9] < 10000.0
    assert study.pet_working.array[0, 0, 0] == 0.0  # z = 0 lies below the PET field (z from 0 mm)
    assert study.pet_units == "Bq/ml" and study.suv.factor == pytest.approx(START_FACTOR)
    suv = study.pet_suv()
    assert suv.array[6, 8, 10] == pytest.approx(10000.0 * START_FACTOR, rel=1e-4)
    # Warnings carried through; metadata and source headers de-identified.
    assert any("non-DICOM" in w for w in study.warnings) and not any("README.txt" in w for w in study.warnings)
    text = json.dumps(study.metadata)
    for phi in PHI:
        assert phi not in text
    assert study.metadata["PatientID"] == "CASE-0042" and study.metadata["SUV"]["method"] == "bqml"
    assert study.metadata["working_grid"] == study.ct_working.grid.to_dict()
    headers = study.source_ct_datasets
    assert len(headers) == 16 and all("PixelData" not in h for h in headers)
    assert all(h.PatientID == "CASE-0042" and h.PatientIdentityRemoved == "YES" for h in headers)
    assert [float(h.ImagePositionPatient[2]) for h in headers] == [k * 0.5 for k in range(16)]
    assert headers[0].StudyInstanceUID == study.study_uid and study.study_uid.startswith("2.25.")


def test_anisotropic_ct_gets_isotropic_working_grid(tmp_path: Path) -> None:
    write_pair(
        tmp_path,
        ct_kwargs={"shape": (6, 8, 10), "spacing": (1.0, 0.5, 0.4), "origin": (-2.0, -2.0, 0.0)},
        pet_kwargs={"shape": (3, 4, 5), "spacing": (2.0, 1.0, 1.0), "origin": (-2.0, -2.0, 0.0)},
    )
    study = load_studies(path=tmp_path, working_spacing_mm=1.0, deid_secret=SECRET)[0]
    assert study.ct_working.grid.spacing == (1.0, 1.0, 1.0)
    assert study.ct_working.grid.shape == (6, 4, 4)
    assert study.ct_working.array.dtype == np.float32 and study.pet_working.array.dtype == np.float32


def test_philips_cnts_converted_to_bqml(tmp_path: Path) -> None:
    _write(tmp_path, pet=pet_headers(units="CNTS"))
    for path in sorted((tmp_path / "PET").iterdir()):  # add the Philips private activity factor
        ds = dcmread(path)
        ds.private_block(0x7053, "Philips PET Private Group", create=True).add_new(0x09, "DS", "2.5")
        ds.save_as(path)
    study = load_studies(path=tmp_path, deid_secret=SECRET)[0]
    assert study.pet_units == "Bq/ml"
    assert study.pet_working.array[6, 8, 10] == pytest.approx(25000.0, rel=1e-4)
    assert study.suv.factor == pytest.approx(START_FACTOR)  # per Bq/ml now
    assert not any(e.tag.is_private for h in study.source_ct_datasets for e in h.iterall())


def test_missing_weight_keeps_bqml_and_says_why(tmp_path: Path) -> None:
    _write(tmp_path, pet=pet_headers(weight=None))
    study = load_studies(path=tmp_path, deid_secret=SECRET)[0]
    assert study.suv.factor is None and study.pet_suv() is None
    assert study.pet_units == "Bq/ml"
    assert any("SUV unavailable: PatientWeight missing" in w for w in study.warnings)


def test_errors_surface_with_codes(tmp_path: Path) -> None:
    _write(tmp_path)
    victim = sorted((tmp_path / "CT").iterdir())[5]
    victim.unlink()
    with pytest.raises(IngestError) as caught:
        load_studies(path=tmp_path, deid_secret=SECRET)
    assert caught.value.code == "missing_slices" and "CT series 1" in caught.value.message


def test_pet_outside_ct_is_refused(tmp_path: Path) -> None:
    write_pair(
        tmp_path,
        ct_kwargs={"shape": (4, 4, 4), "origin": (0.0, 0.0, 0.0)},
        pet_kwargs={"shape": (3, 4, 4), "origin": (500.0, 0.0, 0.0)},
    )
    with pytest.raises(IngestError) as caught:
        load_studies(path=tmp_path, deid_secret=SECRET)
    assert caught.value.code == "inconsistent_geometry" and "do not overlap" in caught.value.message


def test_load_series_volume_needs_a_single_series(tmp_path: Path) -> None:
    write_series(make_ct_series(shape=(3, 4, 4)), tmp_path / "a")
    assert load_series_volume(path=tmp_path / "a").volume.grid.shape == (3, 4, 4)
    write_series(make_ct_series(shape=(3, 4, 4)), tmp_path / "b")
    with pytest.raises(IngestError) as caught:
        load_series_volume(path=tmp_path)
    assert caught.value.code == "unsupported"
