"""Telling DICOM from junk, truncated files, missing pixel data, compressed transfer syntaxes."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.encaps import encapsulate
from pydicom.filewriter import dcmwrite
from pydicom.pixels.decoders import JPEGLosslessDecoder, JPEGLosslessSV1Decoder
from pydicom.uid import JPEG2000Lossless, JPEGBaseline8Bit, JPEGLSLossless, RLELossless

from cases.imaging.errors import IngestError
from cases.imaging.files import CandidateFile, collect_files
from cases.imaging.reading import read_headers, read_pixels
from cases.imaging.series import load_series
from cases.imaging.study import load_series_volume

from .dicom_factory import make_ct_series, write_series


def _candidates(paths: list[Path]) -> list[CandidateFile]:
    return [CandidateFile(path=p, name=p.name, size=p.stat().st_size) for p in paths]


def _ct(shape=(3, 8, 10)):
    rng = np.random.default_rng(1)
    return make_ct_series(shape=shape, values=lambda s: rng.integers(-1000, 2000, s).astype(float))


def test_non_dicom_files_next_to_images_are_skipped_with_warning(tmp_path: Path) -> None:
    write_series(_ct(), tmp_path)
    (tmp_path / "README.txt").write_text("scanner export notes\n")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4 ...")
    with collect_files(path=tmp_path) as collected:
        result = read_headers(candidates=collected.files)
    assert len(result.files) == 3
    assert len(result.warnings) == 1
    assert "Skipped 2 non-DICOM file(s)" in result.warnings[0]
    assert "README.txt" not in result.warnings[0]  # warnings reach readers: never file names


def _zip_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("IM1", b"a" * 50)
    return buffer.getvalue()


def test_archive_inside_a_folder_is_skipped_and_named_as_an_archive(tmp_path: Path) -> None:
    write_series(_ct(), tmp_path)
    (tmp_path / "more.zip").write_bytes(_zip_bytes())
    (tmp_path / "IM_more.dcm").write_bytes(_zip_bytes())  # a zip by its content, whatever its name says
    with collect_files(path=tmp_path) as collected:
        result = read_headers(candidates=collected.files)
    assert len(result.files) == 3
    assert result.warnings == ["Skipped an archive inside the upload; upload it on its own."]


def test_folder_of_archives_only_is_an_error_that_says_so(tmp_path: Path) -> None:
    (tmp_path / "a.zip").write_bytes(_zip_bytes())
    (tmp_path / "b.zip").write_bytes(_zip_bytes())
    with pytest.raises(IngestError) as caught, collect_files(path=tmp_path) as collected:
        read_headers(candidates=collected.files)
    assert caught.value.code == "not_dicom" and "upload each archive on its own" in caught.value.message


def test_upload_without_any_dicom_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "README.txt").write_text("hello")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(300))
    with pytest.raises(IngestError) as caught, collect_files(path=tmp_path) as collected:
        read_headers(candidates=collected.files)
    assert caught.value.code == "not_dicom"
    assert "README.txt" in caught.value.message and "photo.jpg" in caught.value.message


def test_single_non_dicom_file_named(tmp_path: Path) -> None:
    file = tmp_path / "scan.txt"
    file.write_text("not an image" * 20)
    with pytest.raises(IngestError) as caught:
        read_headers(candidates=_candidates([file]))
    assert caught.value.code == "not_dicom" and "scan.txt" in caught.value.message


def test_truncated_header_is_an_error_naming_the_file(tmp_path: Path) -> None:
    paths = write_series(_ct(), tmp_path)
    data = paths[1].read_bytes()
    paths[1].write_bytes(data[:400])  # inside the header, well before the pixels
    with pytest.raises(IngestError) as caught:
        read_headers(candidates=_candidates(paths))
    assert caught.value.code == "truncated"
    assert paths[1].name in caught.value.message and caught.value.file == paths[1].name


def test_truncated_pixel_data_is_an_error_naming_the_file(tmp_path: Path) -> None:
    paths = write_series(_ct(), tmp_path)
    data = paths[2].read_bytes()
    paths[2].write_bytes(data[:-37])
    headers = read_headers(candidates=_candidates(paths))  # headers are complete
    with pytest.raises(IngestError) as caught:
        load_series(files=headers.files, label="CT series 1")
    assert caught.value.code == "truncated" and paths[2].name in caught.value.message


def test_truncated_compressed_file(tmp_path: Path) -> None:
    paths = write_series(_ct(), tmp_path, compress=RLELossless)
    paths[0].write_bytes(paths[0].read_bytes()[:-30])
    with pytest.raises(IngestError) as caught:
        load_series(files=read_headers(candidates=_candidates(paths)).files)
    assert caught.value.code == "truncated" and paths[0].name in caught.value.message


def test_missing_pixel_data(tmp_path: Path) -> None:
    datasets = _ct()
    del datasets[1].PixelData
    paths = write_series(datasets, tmp_path)
    headers = read_headers(candidates=_candidates(paths))
    with pytest.raises(IngestError) as caught:
        read_pixels(file=next(f for f in headers.files if f.path == paths[1]))
    assert caught.value.code == "missing_pixel_data"
    assert paths[1].name in caught.value.message and "PixelData" in caught.value.message


@pytest.mark.parametrize("syntax", [RLELossless, JPEG2000Lossless, JPEGLSLossless], ids=lambda u: u.name[:12])
def test_compressed_series_decode_to_the_same_values(tmp_path: Path, syntax: str) -> None:
    datasets = _ct(shape=(3, 32, 36))  # openjpeg needs at least 32 pixels a side
    expected = np.stack([ds.pixel_array.astype(np.float32) - 1024 for ds in datasets])
    write_series(datasets, tmp_path, compress=syntax)
    loaded = load_series_volume(path=tmp_path)
    np.testing.assert_array_equal(loaded.volume.array, expected)


def test_dicomdir_skipped_silently(tmp_path: Path) -> None:
    write_series(_ct(), tmp_path)
    (tmp_path / "DICOMDIR").write_bytes(bytes(128) + b"DICM" + bytes(50))
    with collect_files(path=tmp_path) as collected:
        result = read_headers(candidates=collected.files)
    assert len(result.files) == 3 and result.warnings == []


def _jpeg_baseline(datasets, *, frames: list[bytes] | None = None):
    """8-bit MONOCHROME2 slices encoded as JPEG baseline with Pillow (pydicom has no JPEG encoder)."""
    out = []
    for index, ds in enumerate(datasets):
        pixels = np.clip(ds.pixel_array // 16 + 64, 0, 255).astype(np.uint8)
        if frames is None:
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
            frame = buffer.getvalue()
        else:
            frame = frames[index]
        ds.BitsAllocated = ds.BitsStored = 8
        ds.HighBit = 7
        ds.PixelRepresentation = 0
        ds.PixelData = encapsulate([frame])
        ds["PixelData"].VR = "OB"
        ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
        out.append((ds, pixels))
    return out


def test_jpeg_baseline_series_decodes(tmp_path: Path) -> None:
    encoded = _jpeg_baseline(_ct(shape=(3, 32, 32)))
    write_series([ds for ds, _ in encoded], tmp_path)
    loaded = load_series_volume(path=tmp_path)
    expected = np.stack([pixels.astype(np.float32) - 1024 for _, pixels in encoded])
    np.testing.assert_allclose(loaded.volume.array, expected, atol=8)  # lossy


def test_jpeg_lossless_decoder_installed() -> None:
    # No encoder exists to build test data; make sure the plugin that decodes it is present.
    assert JPEGLosslessSV1Decoder.is_available and JPEGLosslessDecoder.is_available


def test_corrupt_compressed_pixels_are_undecodable(tmp_path: Path) -> None:
    encoded = _jpeg_baseline(_ct(shape=(1, 8, 8)), frames=[b"\xff\xd8\xff\xdb" + bytes(60) + b"\xff\xd9"])
    paths = write_series([ds for ds, _ in encoded], tmp_path)
    headers = read_headers(candidates=_candidates(paths))
    with pytest.raises(IngestError) as caught:
        read_pixels(file=headers.files[0])
    assert caught.value.code == "undecodable_pixels"
    assert paths[0].name in caught.value.message and "JPEG Baseline" in caught.value.message


def test_preamble_less_implicit_vr_file_is_read(tmp_path: Path) -> None:
    ds = make_ct_series(shape=(1, 4, 4), values=np.arange(16.0).reshape(1, 4, 4) - 1000)[0]
    del ds.file_meta
    ds.preamble = None
    path = tmp_path / "old_export"
    dcmwrite(path, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)
    assert path.read_bytes()[:2] == b"\x08\x00"  # no preamble, no DICM
    [header] = read_headers(candidates=_candidates([path])).files
    _, pixels = read_pixels(file=header)
    np.testing.assert_array_equal(pixels.ravel(), np.arange(16) + 24)  # stored = value - intercept (-1024)
