"""Collect candidate files from an upload: one file, a folder tree, or a zip archive.

Zip archives are untrusted input. Before anything is written we check every member
(no absolute paths, no ``..``, no symlinks, no encryption), the member count, the
declared total size and each member's compression ratio; while extracting we count
the bytes actually inflated, so a lying header cannot get past the size limit either.
Extraction goes into a temporary folder that :func:`collect_files` removes on exit.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UnsafeZipError, UploadError

# Files that are never data: operating-system litter and DICOMDIR indexes (they only point
# at the image files, which we read directly). Skipped silently.
JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "dicomdir", "lockfile", ".directory"})
JUNK_DIRS = frozenset({"__macosx", ".git", ".svn"})

DEFAULT_MAX_MEMBERS = 50_000
DEFAULT_MAX_TOTAL_BYTES = 8 * 1024**3  # a large micro-CT at 0.1 mm is a few GB uncompressed
DEFAULT_MAX_RATIO = 200.0  # DICOM with lots of air compresses well, but not 200:1
RATIO_MIN_BYTES = 1024**2  # tiny members may compress absurdly well and harm no one
_CHUNK = 1024**2
ZIP_MAGIC = b"PK\x03\x04"  # a zip's local file header


@dataclass(frozen=True)
class CandidateFile:
    """A file that may be DICOM. ``name`` is what the user recognises (path inside the upload)."""

    path: Path
    name: str
    size: int


@dataclass
class CollectedFiles:
    files: list[CandidateFile]
    warnings: list[str] = field(default_factory=list)

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def is_junk(*, relative: str) -> bool:
    """True for OS litter we skip without a warning (``.DS_Store``, ``._x``, ``__MACOSX/``, DICOMDIR)."""
    parts = [part for part in relative.replace("\\", "/").split("/") if part not in ("", ".")]
    if not parts:
        return True
    base = parts[-1]
    if base.lower() in JUNK_NAMES or base.startswith("._"):
        return True
    return any(p.lower() in JUNK_DIRS for p in parts[:-1])


def is_zip(*, path: Path) -> bool:
    """A zip by content (local header magic) or by name; a DICOM file has 'DICM' at 128 instead."""
    if path.suffix.lower() == ".zip":
        return True
    try:
        with path.open("rb") as handle:
            return handle.read(4) == ZIP_MAGIC
    except OSError:
        return False


@contextmanager
def collect_files(
    *,
    path: Path,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_ratio: float = DEFAULT_MAX_RATIO,
    temp_parent: Path | None = None,
) -> Iterator[CollectedFiles]:
    """Yield the candidate files under ``path``; any zip is extracted to a temp dir removed on exit."""
    path = Path(path)
    if not path.exists():
        raise UploadError(f"Upload not found: {path}", code="not_found")
    if path.is_file() and is_zip(path=path):
        tmp = Path(tempfile.mkdtemp(prefix="petct-ingest-", dir=temp_parent))
        try:
            yield extract_zip(
                path=path,
                target=tmp,
                max_members=max_members,
                max_total_bytes=max_total_bytes,
                max_ratio=max_ratio,
            )
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return
    if path.is_file():
        collected = CollectedFiles(files=[CandidateFile(path=path, name=path.name, size=path.stat().st_size)])
    else:
        collected = _walk_folder(root=path)
    if not collected.files:
        raise UploadError(f"The upload '{path.name}' contains no files.", code="empty")
    yield collected


def _walk_folder(*, root: Path) -> CollectedFiles:
    collected = CollectedFiles(files=[])
    # followlinks=False and skipping symlinked files: an upload folder never needs links, and a
    # link could point anywhere on the server. Archives inside the folder are told apart from
    # DICOM when the headers are read (reading.read_headers), which opens every file anyway.
    base = str(root)
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d.lower() not in JUNK_DIRS)
        folder = os.path.relpath(dirpath, base).replace(os.sep, "/")
        prefix = "" if folder == "." else folder + "/"
        for filename in sorted(filenames):
            relative = prefix + filename
            if is_junk(relative=relative):
                continue
            full = os.path.join(dirpath, filename)
            info = os.lstat(full)
            if stat.S_ISLNK(info.st_mode):
                collected.warnings.append("Skipped a symbolic link.")  # no names: readers see warnings
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            collected.files.append(CandidateFile(path=Path(full), name=relative, size=info.st_size))
    return collected


def _member_problem(*, info: zipfile.ZipInfo) -> str | None:
    name = info.filename
    posix = name.replace("\\", "/")
    if posix.startswith("/") or (len(posix) > 1 and posix[1] == ":"):
        return f"member '{name}' has an absolute path"
    if any(part == ".." for part in posix.split("/")):
        return f"member '{name}' points outside the archive ('..')"
    if "\x00" in name:
        return f"member '{name!r}' has a NUL byte in its name"
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_ISLNK(mode):  # 3 = Unix, the only system that stores links
        return f"member '{name}' is a symbolic link"
    if info.flag_bits & 0x1:
        return f"member '{name}' is encrypted"
    return None


def extract_zip(
    *,
    path: Path,
    target: Path,
    max_members: int = DEFAULT_MAX_MEMBERS,
    max_total_bytes: int = DEFAULT_MAX_TOTAL_BYTES,
    max_ratio: float = DEFAULT_MAX_RATIO,
) -> CollectedFiles:
    """Validate every member of ``path`` then extract the regular files under ``target``."""
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UnsafeZipError(f"'{path.name}' is not a readable zip archive ({exc}).", file=path.name) from exc
    with archive:
        infos = archive.infolist()
        if len(infos) > max_members:
            raise UnsafeZipError(
                f"'{path.name}' has {len(infos)} members; the limit is {max_members}.",
                code="zip_too_large",
                file=path.name,
            )
        declared = 0
        members: list[zipfile.ZipInfo] = []
        for info in infos:
            problem = _member_problem(info=info)
            if problem:
                raise UnsafeZipError(f"Refused zip '{path.name}': {problem}.", file=info.filename)
            if info.is_dir():
                continue
            declared += info.file_size
            if info.file_size >= RATIO_MIN_BYTES and info.file_size > max_ratio * max(info.compress_size, 1):
                ratio = info.file_size / max(info.compress_size, 1)
                raise UnsafeZipError(
                    f"Refused zip '{path.name}': member '{info.filename}' expands {ratio:.0f}-fold "
                    f"(limit {max_ratio:.0f}); this looks like a zip bomb.",
                    file=info.filename,
                )
            if not is_junk(relative=info.filename):
                members.append(info)
        if declared > max_total_bytes:
            raise UnsafeZipError(
                f"'{path.name}' expands to {declared / 1e6:.0f} MB; the limit is {max_total_bytes / 1e6:.0f} MB.",
                code="zip_too_large",
                file=path.name,
            )
        collected = CollectedFiles(files=[])
        root = target.resolve()
        written = 0
        for index, info in enumerate(members):
            relative = info.filename.replace("\\", "/").lstrip("/")
            destination = (root / relative).resolve()
            if not destination.is_relative_to(root):  # belt and braces after _member_problem
                raise UnsafeZipError(
                    f"Refused zip '{path.name}': member '{info.filename}' escapes the target."
                )
            if destination.exists():  # two members differing only in case or slashes
                destination = destination.with_name(f"{destination.name}.{index}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            size = 0
            try:
                with archive.open(info) as source, destination.open("wb") as sink:
                    while chunk := source.read(_CHUNK):
                        size += len(chunk)
                        written += len(chunk)
                        # The header sizes may lie; count what actually inflates.
                        if size > info.file_size or written > max_total_bytes:
                            raise UnsafeZipError(
                                f"Refused zip '{path.name}': member '{info.filename}' inflates beyond its "
                                "declared size or the total limit.",
                                code="zip_too_large",
                                file=info.filename,
                            )
                        sink.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise UnsafeZipError(
                    f"Zip '{path.name}': member '{info.filename}' is corrupt or uses an unsupported "
                    f"compression ({exc}).",
                    file=info.filename,
                ) from exc
            collected.files.append(CandidateFile(path=destination, name=relative, size=size))
    if not collected.files:
        raise UploadError(f"The archive '{path.name}' contains no files.", code="empty", file=path.name)
    return collected
