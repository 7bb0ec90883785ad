"""Collecting files from a single file, a folder tree and a (possibly hostile) zip."""

from __future__ import annotations

import stat
import zipfile
from pathlib import Path

import pytest

from cases.imaging.errors import IngestError
from cases.imaging.files import collect_files, is_junk


def _zip(path: Path, members: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_single_file(tmp_path: Path) -> None:
    file = tmp_path / "a.dcm"
    file.write_bytes(b"x" * 10)
    with collect_files(path=file) as collected:
        assert [(f.name, f.size) for f in collected.files] == [("a.dcm", 10)]


def test_folder_tree_any_layout_skips_junk(tmp_path: Path) -> None:
    (tmp_path / "patient" / "study" / "CT").mkdir(parents=True)
    (tmp_path / "patient" / "study" / "CT" / "1").write_bytes(b"1")
    (tmp_path / "patient" / "PET.2").write_bytes(b"2")
    (tmp_path / "patient" / ".DS_Store").write_bytes(b"junk")
    (tmp_path / "DICOMDIR").write_bytes(b"index")
    (tmp_path / "__MACOSX").mkdir()
    (tmp_path / "__MACOSX" / "._1").write_bytes(b"fork")
    (tmp_path / "link").symlink_to(tmp_path / "patient" / "PET.2")
    with collect_files(path=tmp_path) as collected:
        assert sorted(f.name for f in collected.files) == ["patient/PET.2", "patient/study/CT/1"]
        assert any("symbolic link" in w for w in collected.warnings)
        assert not any("'link'" in w for w in collected.warnings)  # warnings reach readers: no names


def test_is_junk() -> None:
    assert is_junk(relative="a/.DS_Store") and is_junk(relative="__MACOSX/x/y") and is_junk(relative="._IM1")
    assert not is_junk(relative="CT/IM0001")


def test_zip_extracted_to_temp_and_removed(tmp_path: Path) -> None:
    upload = _zip(
        tmp_path / "up.zip", {"scan/CT/IM1": b"a" * 100, "scan/PET/IM1": b"b", "scan/.DS_Store": b""}
    )
    with collect_files(path=upload) as collected:
        names = sorted(f.name for f in collected.files)
        paths = [f.path for f in collected.files]
        assert names == ["scan/CT/IM1", "scan/PET/IM1"]
        assert all(p.exists() for p in paths)
        assert paths[0].read_bytes() in (b"a" * 100, b"b")
    assert not any(p.exists() for p in paths)


def test_zip_detected_by_magic_without_suffix(tmp_path: Path) -> None:
    upload = _zip(tmp_path / "upload.bin", {"IM1": b"a"})
    with collect_files(path=upload) as collected:
        assert [f.name for f in collected.files] == ["IM1"]


@pytest.mark.parametrize(
    ("member", "words"),
    [("../evil", "outside the archive"), ("/etc/passwd", "absolute path"), ("a/../../evil", "outside")],
)
def test_zip_path_escape_rejected(tmp_path: Path, member: str, words: str) -> None:
    upload = _zip(tmp_path / "up.zip", {"ok": b"1", member: b"2"})
    with pytest.raises(IngestError) as caught, collect_files(path=upload):
        pass
    assert caught.value.code == "unsafe_zip"
    assert words in caught.value.message and member in caught.value.message
    assert not (tmp_path / "evil").exists()


def test_zip_symlink_rejected(tmp_path: Path) -> None:
    upload = tmp_path / "up.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        info = zipfile.ZipInfo("link")
        info.create_system = 3
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(IngestError) as caught, collect_files(path=upload):
        pass
    assert caught.value.code == "unsafe_zip" and "symbolic link" in caught.value.message


def test_zip_too_many_members(tmp_path: Path) -> None:
    upload = _zip(tmp_path / "up.zip", {f"IM{i}": b"x" for i in range(6)})
    with pytest.raises(IngestError) as caught, collect_files(path=upload, max_members=5):
        pass
    assert caught.value.code == "zip_too_large" and "6 members" in caught.value.message


def test_zip_total_size_limit(tmp_path: Path) -> None:
    upload = _zip(tmp_path / "up.zip", {"a": b"x" * 600, "b": b"y" * 600})
    with pytest.raises(IngestError) as caught, collect_files(path=upload, max_total_bytes=1000):
        pass
    assert caught.value.code == "zip_too_large" and "limit" in caught.value.message


def test_zip_bomb_ratio_rejected(tmp_path: Path) -> None:
    upload = _zip(tmp_path / "bomb.zip", {"zeros": bytes(4 * 1024**2)})
    with pytest.raises(IngestError) as caught, collect_files(path=upload):
        pass
    assert caught.value.code == "unsafe_zip" and "zip bomb" in caught.value.message


def test_corrupt_zip(tmp_path: Path) -> None:
    upload = tmp_path / "up.zip"
    upload.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(IngestError) as caught, collect_files(path=upload):
        pass
    assert caught.value.code == "unsafe_zip" and "up.zip" in caught.value.message


def test_empty_folder_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(IngestError) as caught, collect_files(path=tmp_path):
        pass
    assert caught.value.code == "empty"
    with pytest.raises(IngestError) as caught, collect_files(path=tmp_path / "nope"):
        pass
    assert caught.value.code == "not_found"
