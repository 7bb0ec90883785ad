"""The fast paths of ingestion give the same answers as the general ones they short-cut.

* uncompressed pixels read straight from the file == pydicom's ``pixel_array``;
* numbers and UIDs parsed from the raw header bytes == pydicom's converted values;
* separable resampling on axis-aligned grids == smoothing + ``affine_transform``;
* resampling a volume read slab by slab (the ingest) == reading it whole, then resampling;
* de-identifying a whole series at once == one header at a time;
* validating a series (shared header values checked once) == validating every slice on its own.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
from pydicom.dataset import Dataset
from pydicom.filewriter import dcmwrite
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import RLELossless

from cases.imaging import resample as resample_module
from cases.imaging.deid import deidentify_dataset, deidentify_datasets
from cases.imaging.errors import IngestError
from cases.imaging.files import CandidateFile
from cases.imaging.reading import (
    PixelReader,
    _native_pixels,
    header_int,
    header_text,
    raw_decimals,
    read_headers,
    read_pixels,
    read_stored_pixels,
)
from cases.imaging.resample import resample, resample_slices
from cases.imaging.series import load_series, series_geometry
from cases.imaging.study import load_studies
from cases.imaging.validation import validate_image_header, validate_series_headers
from cases.imaging.volume import Grid, Volume

from .dicom_factory import make_ct_series, make_pet_series, write_series

SECRET = "fast-path-secret"


def _candidates(paths: list[Path]) -> list[CandidateFile]:
    return [CandidateFile(path=p, name=p.name, size=p.stat().st_size) for p in paths]


def _with_pixels(ds: Dataset, stored: np.ndarray, *, bits_stored: int, signed: bool) -> Dataset:
    ds.BitsAllocated = stored.dtype.itemsize * 8
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = int(signed)
    ds.Rows, ds.Columns = stored.shape
    ds.PixelData = stored.tobytes()
    return ds


def _variants() -> dict[str, tuple[Dataset, dict]]:
    rng = np.random.default_rng(7)
    base = make_ct_series(shape=(1, 6, 7))[0]
    out: dict[str, tuple[Dataset, dict]] = {"int16": (base, {})}
    # Unused high bits set to garbage: pydicom masks (unsigned) or sign-extends (signed) them.
    raw12 = rng.integers(0, 1 << 16, (6, 7)).astype(np.uint16)
    out["uint16_12bit"] = (_with_pixels(copy.deepcopy(base), raw12, bits_stored=12, signed=False), {})
    out["int16_12bit"] = (
        _with_pixels(copy.deepcopy(base), raw12.view(np.int16), bits_stored=12, signed=True),
        {},
    )
    odd = rng.integers(0, 255, (5, 7)).astype(np.uint8)  # 35 bytes: padded to 36 in the file
    out["uint8_odd"] = (_with_pixels(copy.deepcopy(base), odd, bits_stored=8, signed=False), {})
    wide = rng.integers(-(1 << 30), 1 << 30, (3, 4)).astype(np.int32)
    out["int32"] = (_with_pixels(copy.deepcopy(base), wide, bits_stored=32, signed=True), {})
    out["implicit_vr"] = (copy.deepcopy(base), {"implicit_vr": True, "little_endian": True})
    return out


@pytest.mark.parametrize("variant", list(_variants()))
def test_native_pixels_equal_pydicom(tmp_path: Path, variant: str) -> None:
    ds, options = _variants()[variant]
    path = tmp_path / "slice.dcm"
    if options:
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
        dcmwrite(path, ds, enforce_file_format=True, **options)
    else:
        ds.save_as(path, enforce_file_format=True)
    [header] = read_headers(candidates=_candidates([path])).files
    fast = _native_pixels(header)
    assert fast is not None, "the fast path should handle this file"
    _, expected = read_pixels(file=header)
    assert fast.dtype == expected.dtype
    np.testing.assert_array_equal(fast, expected)


def test_unusual_files_take_the_full_read(tmp_path: Path) -> None:
    padded = make_ct_series(shape=(1, 4, 5))[0]
    padded.add_new(0xFFFCFFFC, "OB", b"\x00" * 16)  # DataSetTrailingPadding after the pixels
    rle = make_ct_series(shape=(1, 4, 5))[0]
    paths = write_series([padded], tmp_path / "a") + write_series([rle], tmp_path / "b", compress=RLELossless)
    for file in read_headers(candidates=_candidates(paths)).files:
        assert _native_pixels(file) is None
        _, expected = read_pixels(file=file)
        np.testing.assert_array_equal(read_stored_pixels(file=file)[1], expected)


def test_load_series_values_equal_full_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    datasets = make_pet_series(shape=(4, 6, 5), values=lambda s: rng.random(s) * 5000.0)
    paths = write_series(datasets, tmp_path)
    files = read_headers(candidates=_candidates(paths)).files
    loaded = load_series(files=files)
    order = {f.path: f for f in files}
    for k, path in enumerate(paths):  # written in slice order
        dataset, pixels = read_pixels(file=order[path])
        expected = pixels.astype(np.float32) * np.float32(float(dataset.RescaleSlope))
        expected += np.float32(float(dataset.RescaleIntercept))
        np.testing.assert_array_equal(loaded.volume.array[k], expected)


def test_raw_header_values_equal_pydicom(tmp_path: Path) -> None:
    ds = make_ct_series(shape=(1, 3, 4), origin=(-1.25, 2.5e-3, 17.0))[0]
    ds.Modality = "CT "  # padded CS
    [path] = write_series([ds], tmp_path)
    [file] = read_headers(candidates=_candidates([path])).files
    header, reference = file.header, copy.deepcopy(file.header)
    for keyword in ("ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing", "RescaleIntercept"):
        value = reference.get(keyword)
        expected = [float(v) for v in (value if isinstance(value, MultiValue) else [value])]
        assert raw_decimals(header, keyword) == expected
    for keyword in ("Rows", "Columns", "BitsAllocated", "PixelRepresentation"):
        assert header_int(header, keyword) == int(reference.get(keyword))
    for keyword in ("SOPInstanceUID", "StudyInstanceUID", "Modality"):
        assert header_text(header, keyword) == str(reference.get(keyword))
    assert header_text(header, "SOPClassUID") == str(reference.SOPClassUID)
    assert header_text(header, "FrameOfReferenceUID", None) == str(reference.FrameOfReferenceUID)
    del header.FrameOfReferenceUID
    assert header_text(header, "FrameOfReferenceUID", None) is None
    with pytest.raises(AttributeError):
        header_text(header, "FrameOfReferenceUID")


def _grid(shape, spacing, origin, flip: bool = False) -> Grid:
    direction = ((-1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)) if flip else None
    kwargs = {"direction": direction} if direction else {}
    return Grid(shape=shape, spacing=spacing, origin=origin, **kwargs)


CASES = {
    "downsample": (
        _grid((30, 41, 53), (0.6, 0.21, 0.21), (-3.0, 1.0, 2.0)),
        _grid((37, 18, 23), (0.5,) * 3, (-2.9, 1.1, 1.95)),
    ),
    "upsample": (
        _grid((9, 10, 11), (1.0, 0.9, 0.8), (0.0, 0.0, 0.0)),
        _grid((20, 19, 18), (0.45,) * 3, (-0.3, -0.2, 0.1)),
    ),
    "partial_overlap": (
        _grid((12, 14, 16), (0.44,) * 3, (3.0, -2.0, 1.0)),
        _grid((20, 20, 20), (0.5,) * 3, (0.0, 0.0, 0.0)),
    ),
    "flipped_axis": (
        _grid((12, 14, 16), (0.7, 0.3, 0.3), (5.0, -2.0, 1.0), flip=True),
        _grid((10, 9, 8), (0.5,) * 3, (0.0, -1.5, 1.5)),
    ),
}


def _spy_separable(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record whether each call of the separable path produced the result."""
    used: list[bool] = []
    real = resample_module._resample_separable

    def spy(**kwargs):
        result = real(**kwargs)
        used.append(result is not None)
        return result

    monkeypatch.setattr(resample_module, "_resample_separable", spy)
    return used


def _general_path(monkeypatch: pytest.MonkeyPatch, **kwargs) -> np.ndarray:
    with monkeypatch.context() as patch:
        patch.setattr(resample_module, "_resample_separable", lambda **_: None)
        return resample(**kwargs).array


@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("case", list(CASES))
def test_separable_resampling_equals_general_path(
    monkeypatch: pytest.MonkeyPatch, case: str, antialias: bool
) -> None:
    source_grid, target = CASES[case]
    rng = np.random.default_rng(11)
    volume = Volume(array=(rng.random(source_grid.shape) * 2000 - 1000).astype(np.float32), grid=source_grid)
    kwargs = {"volume": volume, "grid": target, "order": 1, "fill": -1234.0, "antialias": antialias}
    used = _spy_separable(monkeypatch)
    fast = resample(**kwargs).array
    assert used == [True]
    general = _general_path(monkeypatch, **kwargs)
    assert fast.dtype == np.float32 and fast.shape == target.shape
    np.testing.assert_array_equal(fast == -1234.0, general == -1234.0)
    np.testing.assert_allclose(fast, general, rtol=0, atol=2e-3)


def test_non_finite_source_falls_back_to_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    source_grid, target = CASES["downsample"]
    array = np.ones(source_grid.shape, dtype=np.float32)
    array[10, 20, 30] = np.nan
    kwargs = {"volume": Volume(array=array, grid=source_grid), "grid": target, "fill": 0.0, "antialias": True}
    used = _spy_separable(monkeypatch)
    fast = resample(**kwargs).array
    assert used == [False]
    general = _general_path(monkeypatch, **kwargs)
    np.testing.assert_array_equal(np.isnan(fast), np.isnan(general))
    assert 0 < np.isnan(fast).sum() < 50  # the NaN stays local, as with affine_transform


def _reads_recorded(array: np.ndarray, requested: list[int]):
    def read(first: int, out: np.ndarray) -> None:
        requested.extend(range(first, first + out.shape[0]))
        out[...] = array[first : first + out.shape[0]]

    return read


@pytest.mark.parametrize("slab", [1, 3, 64])
@pytest.mark.parametrize("case", list(CASES))
def test_slab_resampling_equals_whole_volume(case: str, slab: int) -> None:
    source_grid, target = CASES[case]
    array = (np.random.default_rng(5).random(source_grid.shape) * 2000 - 1000).astype(np.float32)
    requested: list[int] = []
    by_slabs = resample_slices(
        read_slices=_reads_recorded(array, requested),
        source_grid=source_grid,
        grid=target,
        fill=-1234.0,
        antialias=True,
        slab=slab,
    )
    whole = resample(volume=Volume(array=array, grid=source_grid), grid=target, fill=-1234.0, antialias=True)
    assert by_slabs is not None and by_slabs.grid == target and by_slabs.array.dtype == np.float32
    np.testing.assert_array_equal(by_slabs.array == -1234.0, whole.array == -1234.0)
    np.testing.assert_allclose(by_slabs.array, whole.array, rtol=0, atol=1e-3)
    # Each slice is read once, in order, and only slices that some target voxel uses.
    assert requested == sorted(set(requested)) and requested[0] >= 0 and requested[-1] < source_grid.shape[0]


def test_slab_resampling_leaves_oblique_grids_and_non_finite_values_to_the_whole_volume() -> None:
    source_grid, target = CASES["downsample"]
    turn = np.deg2rad(20.0)
    oblique = Grid(
        shape=target.shape,
        spacing=target.spacing,
        origin=target.origin,
        direction=((np.cos(turn), -np.sin(turn), 0.0), (np.sin(turn), np.cos(turn), 0.0), (0.0, 0.0, 1.0)),
    )
    array = np.ones(source_grid.shape, dtype=np.float32)
    requested: list[int] = []
    read = _reads_recorded(array, requested)
    assert resample_slices(read_slices=read, source_grid=source_grid, grid=oblique) is None
    assert requested == []  # declined before reading anything
    array[10, 20, 30] = np.nan
    assert resample_slices(read_slices=read, source_grid=source_grid, grid=target, antialias=True) is None


def test_ingest_working_volumes_equal_the_whole_volume_path(tmp_path: Path) -> None:
    """load_studies reads pixels slab by slab; the result is the one of reading whole volumes first."""
    rng = np.random.default_rng(9)
    ct = make_ct_series(shape=(14, 23, 27), spacing=(0.6, 0.22, 0.22), values=lambda s: rng.random(s) * 3000 - 1000)
    pet = make_pet_series(shape=(9, 12, 12), spacing=(1.0, 0.44, 0.44), values=lambda s: rng.random(s) * 5000)
    for ds in pet:
        ds.StudyInstanceUID, ds.FrameOfReferenceUID = ct[0].StudyInstanceUID, ct[0].FrameOfReferenceUID
    ct_paths = write_series(ct, tmp_path / "upload" / "ct")
    pet_paths = write_series(pet, tmp_path / "upload" / "pet")
    [study] = load_studies(path=tmp_path / "upload", working_spacing_mm=0.5, deid_secret=SECRET)
    for paths, working, fill in ((ct_paths, study.ct_working, -1000.0), (pet_paths, study.pet_working, 0.0)):
        whole = load_series(files=read_headers(candidates=_candidates(paths)).files).volume
        expected = resample(volume=whole, grid=working.grid, fill=fill, antialias=True).array
        np.testing.assert_allclose(working.array, expected, rtol=0, atol=1e-2)


def test_pixel_reader_works_out_each_layout_and_still_reads_every_file(tmp_path: Path) -> None:
    """One reader over files of different layouts (bit depths, signedness, implicit VR, compressed): each file's
    pixels are what pydicom decodes, whatever the reader saw before."""
    paths = []
    for name, (ds, options) in _variants().items():
        path = tmp_path / f"{name}.dcm"
        if options:
            ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2"
            dcmwrite(path, ds, enforce_file_format=True, **options)
        else:
            ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    paths += write_series(make_ct_series(shape=(1, 4, 5)), tmp_path / "rle", compress=RLELossless)
    files = read_headers(candidates=_candidates(paths)).files
    reader = PixelReader()
    for file in [*files, *files]:  # twice: the second round answers from the remembered layouts
        _, expected = read_pixels(file=file)
        _, pixels = reader.read(file)
        assert pixels.dtype == expected.dtype
        np.testing.assert_array_equal(pixels, expected)


def _pet_with_nested_and_private(**kwargs) -> list[Dataset]:
    datasets = make_pet_series(**kwargs)
    for ds in datasets:
        ds.private_block(0x7053, "Philips PET Private Group", create=True).add_new(0x00, "DS", "0.0001")
        reference = Dataset()
        reference.ReferencedSOPClassUID = ds.SOPClassUID
        reference.ReferencedSOPInstanceUID = ds.SOPInstanceUID
        reference.ContentCreatorName = "Nurse^Nina"
        ds.ReferencedImageSequence = DicomSequence([reference])
    return datasets


@pytest.mark.parametrize(
    "options", [{}, {"keep_descriptions": False, "retain_patient_characteristics": False}]
)
@pytest.mark.parametrize("modality", ["CT", "PT"])
def test_series_deidentification_equals_one_by_one(tmp_path: Path, modality: str, options: dict) -> None:
    make = make_ct_series if modality == "CT" else _pet_with_nested_and_private
    paths = write_series(make(shape=(5, 3, 4)), tmp_path)
    headers = [f.header for f in read_headers(candidates=_candidates(paths)).files]
    one_by_one = [
        deidentify_dataset(dataset=h, secret=SECRET, case_code="CASE-9", patient_id="MRN-12345", **options)
        for h in headers
    ]
    batch = deidentify_datasets(
        datasets=[copy.deepcopy(h) for h in headers],
        secret=SECRET,
        case_code="CASE-9",
        patient_id="MRN-12345",
        **options,
    )
    for a, b in zip(one_by_one, batch, strict=True):
        assert json.dumps(a.to_json_dict(), sort_keys=True) == json.dumps(b.to_json_dict(), sort_keys=True)
        assert a.file_meta == b.file_meta
        assert a == b


# A defect in one later slice: each reaches a different check (shared element, per-slice element, rescale).
_SLICE_DEFECTS = {
    "spacing_zero": ("PixelSpacing", [0.0, 0.5]),
    "spacing_other": ("PixelSpacing", [0.6, 0.5]),
    "orientation_skewed": ("ImageOrientationPatient", [1.0, 0.0, 0.0, 0.5, 0.5, 0.0]),
    "orientation_rotated": ("ImageOrientationPatient", [0.0, 1.0, 0.0, 1.0, 0.0, 0.0]),
    "rows": ("Rows", 9),
    "bits_stored": ("BitsStored", 17),
    "photometric": ("PhotometricInterpretation", "RGB"),
    "position_far": ("ImagePositionPatient", [0.0, 0.0, 2e6]),
    "position_short": ("ImagePositionPatient", [0.0, 0.0]),
    "slope_zero": ("RescaleSlope", 0),
    "slope_several": ("RescaleSlope", [1, 2]),
    "sop_class": ("SOPClassUID", "1.2.840.10008.5.1.4.1.1.4"),
    "thickness": ("SliceThickness", 50.0),
    "modality": ("Modality", "PT"),  # a CT slope of 0 passes under PT rules only if modality is read per slice
}


def _error(call) -> tuple[str, str, str] | None:
    try:
        call()
    except IngestError as exc:
        return type(exc).__name__, exc.code, str(exc)
    return None


@pytest.mark.parametrize("defect", sorted(_SLICE_DEFECTS))
def test_series_validation_equals_slice_by_slice(tmp_path: Path, defect: str) -> None:
    keyword, value = _SLICE_DEFECTS[defect]
    datasets = make_ct_series(shape=(5, 8, 10), spacing=(1.0, 0.5, 0.5))
    setattr(datasets[3], keyword, value)
    if defect == "modality":
        datasets[3].RescaleSlope = 0
    paths = write_series(datasets, tmp_path)
    # Separate header reads: checking a slice converts its elements, which the series path looks at.
    one_by_one = read_headers(candidates=_candidates(paths)).files
    errors = [_error(lambda file=file: validate_image_header(dicom=file)) for file in one_by_one]
    # None for a slice that is valid on its own (a rotated one): series_geometry refuses that one.
    expected = next((error for error in errors if error is not None), None)
    files = read_headers(candidates=_candidates(paths)).files
    assert _error(lambda: validate_series_headers(files=files)) == expected


def test_series_geometry_still_compares_every_slice(tmp_path: Path) -> None:
    # Within the header limits but different from the first slice: refused by the stack comparison.
    datasets = make_ct_series(shape=(5, 8, 10), spacing=(1.0, 0.5, 0.5))
    datasets[2].PixelSpacing = [0.5, 0.51]
    files = read_headers(candidates=_candidates(write_series(datasets, tmp_path))).files
    with pytest.raises(IngestError) as caught:
        series_geometry(files=files, label="CT")
    assert caught.value.code == "inconsistent_geometry"
    assert "IM0002" in str(caught.value)
