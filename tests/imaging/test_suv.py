"""SUVbw scale factors, checked against values worked out by hand.

Common inputs: weight 70 kg, 370 MBq FDG (half-life 6586.2 s) injected 09:00, scan 10:00,
so the decay time is 3600 s and the decayed dose 370e6 * 2**(-3600/6586.2) = 253.314 MBq.
SUV factor = 70 000 g / 253 314 180 Bq = 2.76337e-4 g/Bq.
"""

from __future__ import annotations

import pytest
from pydicom.dataset import Dataset

from cases.imaging.suv import compute_suv

from .dicom_factory import make_pet_series, pet_headers

START_FACTOR = 70_000 / (370e6 * 0.5 ** (3600 / 6586.2))
ADMIN_FACTOR = 70_000 / 370e6


def _pet(n: int = 2, **headers) -> list[Dataset]:
    return make_pet_series(shape=(n, 2, 2), pet=pet_headers(**headers))


def test_hand_computed_reference_values() -> None:
    assert START_FACTOR == pytest.approx(2.763367e-4, rel=1e-6)
    assert ADMIN_FACTOR == pytest.approx(1.891892e-4, rel=1e-6)


def test_bqml_start() -> None:
    result = compute_suv(headers=_pet())
    assert result.factor == pytest.approx(START_FACTOR, rel=1e-9)
    assert result.reason is None and result.available
    assert (result.units, result.pet_value_unit, result.decay_correction) == ("BQML", "Bq/ml", "START")
    assert result.decay_time_s == pytest.approx(3600.0)
    assert result.decayed_dose_bq == pytest.approx(253_314_180.24, rel=1e-9)
    assert result.scan_time_source == "series" and result.method == "bqml"


def test_bqml_admin_uses_dose_as_injected() -> None:
    result = compute_suv(headers=_pet(decay="ADMIN", start_time=None, half_life_s=None))
    assert result.factor == pytest.approx(ADMIN_FACTOR, rel=1e-9)
    assert result.decay_time_s is None


def test_start_datetime_and_time_only_agree() -> None:
    by_datetime = compute_suv(headers=_pet(start_time=None, start_datetime="20240315090000.000000"))
    assert by_datetime.factor == pytest.approx(START_FACTOR, rel=1e-9)
    by_time = compute_suv(headers=_pet(start_time="090000"))
    assert by_time.factor == pytest.approx(START_FACTOR, rel=1e-9)


def test_datetime_with_utc_offset() -> None:
    result = compute_suv(headers=_pet(start_time=None, start_datetime="20240315090000+0100"))
    assert result.factor == pytest.approx(START_FACTOR, rel=1e-9)


def test_injection_before_midnight_scan_after() -> None:
    datasets = _pet(start_time="233000")
    for ds in datasets:
        ds.SeriesDate = ds.AcquisitionDate = "20240316"
        ds.SeriesTime = ds.AcquisitionTime = "003000"
    result = compute_suv(headers=datasets)
    assert result.decay_time_s == pytest.approx(3600.0)
    assert result.factor == pytest.approx(START_FACTOR, rel=1e-9)
    assert any("day before" in w for w in result.warnings)
    with_datetime = _pet(start_time=None, start_datetime="20240315233000")
    for ds in with_datetime:
        ds.SeriesDate = ds.AcquisitionDate = "20240316"
        ds.SeriesTime = ds.AcquisitionTime = "003000"
    assert compute_suv(headers=with_datetime).factor == pytest.approx(START_FACTOR, rel=1e-9)


def test_series_time_after_acquisition_uses_earliest_acquisition() -> None:
    datasets = _pet(n=3)
    for ds, acquisition in zip(datasets, ["100500", "100000", "101000"], strict=True):
        ds.SeriesTime = "120000"  # series re-created after the scan
        ds.AcquisitionTime = acquisition
    result = compute_suv(headers=datasets)
    assert result.scan_time_source == "acquisition_earliest"
    assert result.decay_time_s == pytest.approx(3600.0)
    assert result.factor == pytest.approx(START_FACTOR, rel=1e-9)
    assert any("earliest AcquisitionTime" in w for w in result.warnings)


def test_series_after_acquisition_prefers_ge_private_time() -> None:
    datasets = _pet()
    for ds in datasets:
        ds.SeriesTime = "120000"
        ds.AcquisitionTime = "103000"
        ds.private_block(0x0009, "GEMS_PETD_01", create=True).add_new(0x0D, "DT", "20240315100000")
    result = compute_suv(headers=datasets)
    assert result.scan_time_source == "ge_post_injection"
    assert result.factor == pytest.approx(START_FACTOR, rel=1e-9)


def _philips(datasets: list[Dataset], *, suv: str | None, activity: str | None) -> list[Dataset]:
    for ds in datasets:
        block = ds.private_block(0x7053, "Philips PET Private Group", create=True)
        if suv is not None:
            block.add_new(0x00, "DS", suv)
        if activity is not None:
            block.add_new(0x09, "DS", activity)
    return datasets


def test_philips_cnts_suv_scale_factor() -> None:
    datasets = _philips(_pet(units="CNTS", weight=None), suv="0.000123", activity="2.5")
    result = compute_suv(headers=datasets)
    assert result.factor == pytest.approx(0.000123)  # SUV per CNTS, directly; no weight needed
    assert result.method == "philips_suv_factor" and result.pet_value_unit == "counts"
    assert result.bqml_factor == pytest.approx(2.5)
    in_bqml = result.in_bqml()
    assert in_bqml.factor == pytest.approx(0.000123 / 2.5) and in_bqml.pet_value_unit == "Bq/ml"


def test_philips_cnts_activity_factor_only() -> None:
    result = compute_suv(headers=_philips(_pet(units="CNTS"), suv=None, activity="2.5"))
    assert result.method == "philips_activity_factor"
    assert result.factor == pytest.approx(2.5 * START_FACTOR, rel=1e-9)
    assert result.in_bqml().factor == pytest.approx(START_FACTOR, rel=1e-9)


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"weight": None}, "PatientWeight missing"),
        ({"dose_bq": None}, "RadionuclideTotalDose missing"),
        ({"half_life_s": None}, "RadionuclideHalfLife missing"),
        ({"start_time": None}, "RadiopharmaceuticalStartDateTime"),
        ({"decay": "NONE"}, "DecayCorrection is NONE"),
        ({"units": "PROPCNTS"}, "PROPCNTS"),
        ({"units": "CNTS"}, "Philips scale factors"),
        ({"start_time": "110000"}, "injection time is after the scan"),
    ],
)
def test_missing_inputs_give_no_factor_and_a_plain_reason(headers: dict, reason: str) -> None:
    result = compute_suv(headers=_pet(**headers))
    assert result.factor is None and not result.available
    assert reason in result.reason


def test_not_decay_corrected_image_flags() -> None:
    datasets = _pet()
    for ds in datasets:
        ds.CorrectedImage = ["ATTN"]
    assert "DECY" in compute_suv(headers=datasets).reason


def test_gml_is_already_suv() -> None:
    result = compute_suv(headers=_pet(units="GML"))
    assert result.factor == 1.0 and result.pet_value_unit == "g/ml"


def test_to_dict_is_plain_and_has_no_absolute_times() -> None:
    data = compute_suv(headers=_pet()).to_dict()
    assert data["factor"] == pytest.approx(START_FACTOR)
    assert not any("date" in key for key in data)


def test_philips_factor_varying_between_slices_is_refused() -> None:
    datasets = _philips(_pet(units="CNTS"), suv="0.000123", activity=None)
    datasets[1].private_block(0x7053, "Philips PET Private Group")[0x00].value = "0.000200"
    result = compute_suv(headers=datasets)
    assert result.factor is None and "differ between slices" in result.reason
