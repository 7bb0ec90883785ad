"""Read DICOM headers (for grouping) and, later, pixel data (per series).

Headers are read with ``stop_before_pixels`` so that sorting a large upload into series
costs little; pixels are read series by series afterwards. The header read notes where
PixelData starts, so plain uncompressed pixels are then read straight from that offset
(no second parse); anything else gets a full pydicom read. pydicom reads truncated
files without complaint, so we check completeness ourselves: the last element read
must be whole and, for a full read, must end exactly at the end of the file.

Files that are not DICOM are skipped with a warning (a README next to the images is
normal); an upload with no DICOM at all is an error. A file that claims to be DICOM
(``DICM`` after the 128-byte preamble) but is broken is always an error naming it.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from .errors import DicomFileError, UploadError
from .files import ZIP_MAGIC, CandidateFile, is_zip

REQUIRED_IMAGE_KEYWORDS = ("SOPInstanceUID", "StudyInstanceUID", "SeriesInstanceUID", "Modality")
MEDIA_DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"  # DICOMDIR
PIXEL_DATA_TAG = 0x7FE00010
DICOM_SUFFIXES = (".dcm", ".dicom")
_SEQUENCE_DELIMITER_LE = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"
_SEQUENCE_DELIMITER_BE = b"\xff\xfe\xe0\xdd\x00\x00\x00\x00"
_UNDEFINED = 0xFFFFFFFF
_PIXEL_HEAD_BYTES = 12  # an explicit-VR OB/OW element header (an implicit one is 8)


@dataclass(frozen=True)
class DicomFile:
    """One DICOM instance: where it is and its header (no pixel data)."""

    path: Path
    name: str  # as the user knows it (relative path inside the upload)
    size: int
    header: Dataset
    missing: tuple[str, ...] = ()  # required image attributes absent: a DICOM object that is not an image
    # Where the element after the header starts (normally PixelData), when the header read could tell;
    # lets read_stored_pixels fetch uncompressed pixels without parsing the file a second time.
    pixel_offset: int | None = None
    # The first bytes at pixel_offset (the PixelData element header), read while the file was open for the
    # header, so that validation need not open the file again to check the PixelData length.
    pixel_head: bytes | None = None


@dataclass
class ReadResult:
    files: list[DicomFile]
    warnings: list[str] = field(default_factory=list)


def _claims_dicom(prefix: bytes) -> bool:
    return len(prefix) >= 132 and prefix[128:132] == b"DICM"


def _looks_like_raw_dataset(prefix: bytes) -> bool:
    # Preamble-less files (old exporters) start with a group 0x0002 or 0x0008 element, little endian.
    return len(prefix) >= 8 and prefix[:2] in (b"\x02\x00", b"\x08\x00")


def _last_element(dataset: Dataset):
    """The element with the highest tag (the last one a header read parsed), as stored; None if empty."""
    stored = dataset._dict
    return stored[max(stored, key=int)] if stored else None


def _header_end(raw, *, size: int) -> str:
    """Where a header read whose last element is ``raw`` stopped: "short" (inside an element), "eof"
    (exactly at the end), "more"."""
    if raw is None:
        return "short"
    if not isinstance(raw, RawDataElement) or raw.length == _UNDEFINED:
        return "more"  # cannot tell; the full read in read_pixels checks again
    if raw.value is None or len(raw.value) < raw.length:
        return "short"
    remaining = size - (raw.value_tell + raw.length)
    if remaining == 0:
        return "eof"
    # Fewer bytes than an element header: the file stops in the middle of the next tag.
    return "short" if remaining < 8 else "more"


def _ends_cleanly(*, dataset: Dataset, path: Path, size: int) -> bool:
    """For a full read: does the last element end exactly at the end of the file?"""
    if len(dataset) == 0:
        return False
    raw = dataset.get_item(max(dataset.keys(), key=int))
    if not isinstance(raw, RawDataElement):
        return True  # already converted by pydicom: nothing left to verify
    if raw.length == _UNDEFINED:  # encapsulated pixel data / sequence: must end with its delimiter
        with path.open("rb") as handle:
            handle.seek(max(size - 8, 0))
            return handle.read(8) in (_SEQUENCE_DELIMITER_LE, _SEQUENCE_DELIMITER_BE)
    if raw.value is None or len(raw.value) < raw.length:
        return False
    return raw.value_tell + raw.length == size


def _next_element_offset(raw, *, size: int) -> int | None:
    """File offset just past ``raw``, the last element of a ``stop_before_pixels`` read, if known exactly."""
    if raw is None:
        return None
    if not isinstance(raw, RawDataElement) or raw.length == _UNDEFINED:
        return None
    if raw.value is None or len(raw.value) < raw.length:
        return None
    offset = raw.value_tell + raw.length
    return offset if offset + 8 <= size else None


def _stored_element(header: Dataset, tag: int):
    # The element as stored, raw or converted. Dataset.get_item would do the same after converting the key
    # with Tag() on every call, which costs more than the lookup: ingest asks ~30 of these per slice.
    return header._dict.get(tag)


def _raw_bytes(header: Dataset, keyword: str, vr: str) -> RawDataElement | None:
    """The element still as read from the file (not yet converted by pydicom), if its VR fits."""
    element = _stored_element(header, _tag(keyword))
    if isinstance(element, RawDataElement) and isinstance(element.value, bytes) and element.VR in (None, vr):
        return element
    return None


@lru_cache(maxsize=256)
def _tag(keyword: str) -> int:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return tag


def raw_element(header: Dataset, keyword: str) -> RawDataElement | None:
    """The element of ``keyword`` still as read from the file (any VR), or None once pydicom converted it."""
    element = _stored_element(header, _tag(keyword))
    if isinstance(element, RawDataElement) and isinstance(element.value, bytes):
        return element
    return None


def has_element(header: Dataset, keyword: str) -> bool:
    """``keyword in header`` without converting the keyword to a tag on every call."""
    return _stored_element(header, _tag(keyword)) is not None


def raw_us(header: Dataset, keyword: str) -> int | None:
    """A single US value straight from the file bytes, or None (ask pydicom then)."""
    raw = _raw_bytes(header, keyword, "US")
    if raw is not None and len(raw.value) == 2:
        return int.from_bytes(raw.value, "little" if raw.is_little_endian else "big")
    return None


def raw_decimals(header: Dataset, keyword: str) -> list[float] | None:
    """The DS values of ``keyword`` parsed straight from the file bytes, or None (ask pydicom then).

    Only for an element pydicom has not converted yet whose text is plain numbers: geometry and
    rescale read a few numbers from every slice, and pydicom's DS objects cost more than the read.
    """
    raw = _raw_bytes(header, keyword, "DS")
    if raw is None:
        return None
    try:
        return [float(part) for part in raw.value.split(b"\\")]
    except ValueError:
        return None


_NO_DEFAULT = object()


def header_text(header: Dataset, keyword: str, default: Any = _NO_DEFAULT) -> Any:
    """``str(header.<keyword>)`` for a UI or CS element (``default`` when absent, if given).

    Reads the file bytes directly while the element is unconverted and holds one plain ASCII
    value (grouping looks up a few UIDs in every header); anything else goes through pydicom.
    """
    raw = _raw_bytes(header, keyword, _dictionary_vr(keyword))
    if raw is not None and b"\\" not in raw.value:
        try:
            return raw.value.decode("ascii").rstrip("\x00 ")
        except UnicodeDecodeError:
            pass
    if default is _NO_DEFAULT:
        return str(getattr(header, keyword))
    value = header.get(keyword, default)
    return value if value is default or value is None else str(value)


@lru_cache(maxsize=256)
def _dictionary_vr(keyword: str) -> str:
    vr = dictionary_VR(_tag(keyword))
    if vr not in ("UI", "CS"):
        raise ValueError(f"header_text reads UI and CS elements, not {keyword} ({vr})")
    return vr


def header_int(header: Dataset, keyword: str) -> int:
    """A US value as int (raises AttributeError when absent), straight from the bytes when possible."""
    fast = raw_us(header, keyword)
    return fast if fast is not None else int(getattr(header, keyword))


@contextmanager
def _quiet() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydicom warns about many harmless vendor quirks
        yield


def _truncated(name: str, detail: str = "") -> DicomFileError:
    extra = f" ({detail})" if detail else ""
    return DicomFileError(
        f"The file '{name}' is a damaged or truncated DICOM file{extra}; please re-export it.",
        code="truncated",
        file=name,
    )


def read_header(*, candidate: CandidateFile) -> DicomFile | None:
    """The header of ``candidate``, or None if it is not DICOM (or a DICOMDIR). Raises if truncated."""
    with _quiet():
        return _read_header(candidate)


def _read_header(candidate: CandidateFile) -> DicomFile | None:
    try:
        handle = candidate.path.open("rb")
    except OSError as exc:
        raise DicomFileError(
            f"Could not read '{candidate.name}': {exc}.", code="truncated", file=candidate.name
        ) from exc
    with handle:  # one open for the sniff and the parse
        try:
            prefix = handle.read(132)
        except OSError as exc:
            raise DicomFileError(
                f"Could not read '{candidate.name}': {exc}.", code="truncated", file=candidate.name
            ) from exc
        claims = _claims_dicom(prefix)
        if prefix[:4] == ZIP_MAGIC:
            return None  # an archive inside a folder upload: read_headers says so
        if not claims and not _looks_like_raw_dataset(prefix):
            if candidate.name.lower().endswith(DICOM_SUFFIXES):
                # Named as DICOM but cut before its 'DICM' marker: a damaged image, not a README to skip.
                raise _truncated(candidate.name, f"only {len(prefix)} bytes before the DICM marker")
            return None
        try:
            handle.seek(0)
            header = pydicom.dcmread(handle, stop_before_pixels=True, force=not claims)
        except Exception as exc:  # pydicom raises many types on corrupt input
            if not claims:
                return None
            raise _truncated(candidate.name, str(exc)[:200]) from exc
        # Before touching any element: reading a value converts it and loses the raw length.
        last = _last_element(header)
        pixel_offset = _next_element_offset(last, size=candidate.size)
        pixel_head = None
        if pixel_offset is not None:
            try:
                handle.seek(pixel_offset)
                pixel_head = handle.read(_PIXEL_HEAD_BYTES)
            except OSError:
                pixel_head = None  # validation reads it again and reports
    end = _header_end(last, size=candidate.size) if claims else "more"
    if end == "short":
        raise _truncated(candidate.name, "the file ends inside its header")
    meta = header.get("file_meta")
    if meta is not None and header_text(meta, "MediaStorageSOPClassUID", None) == MEDIA_DIRECTORY_SOP_CLASS:
        return None
    missing = [k for k in REQUIRED_IMAGE_KEYWORDS if not header_text(header, k, None)]
    if missing:
        if not claims:
            return None
        if end == "eof":  # stops at an element boundary before the identifying attributes
            raise _truncated(candidate.name, f"the file ends before {', '.join(missing)}")
    # A complete DICOM object lacking image attributes is returned with ``missing`` set.
    return DicomFile(
        path=candidate.path,
        name=candidate.name,
        size=candidate.size,
        header=header,
        missing=tuple(missing),
        pixel_offset=pixel_offset,
        pixel_head=pixel_head,
    )


def _summarise(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(f"'{n}'" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def read_headers(*, candidates: Sequence[CandidateFile]) -> ReadResult:
    """Headers of all DICOM candidates; non-DICOM files are skipped with one warning."""
    if not candidates:
        raise UploadError("The upload contains no files.", code="empty")
    result = ReadResult(files=[])
    not_dicom: list[str] = []
    not_images: list[str] = []
    archives = 0
    with _quiet():  # entered once for all the files
        read = [_read_header(candidate) for candidate in candidates]
    for candidate, dicom in zip(candidates, read, strict=True):
        if dicom is None and is_zip(path=candidate.path):  # the rare path: a second look at a skipped file
            archives += 1
        elif dicom is None:
            not_dicom.append(candidate.name)
        elif dicom.missing:
            not_images.append(candidate.name)
        else:
            result.files.append(dicom)
    if archives:
        # Nested archives are not expanded: say so instead of silently ignoring data.
        result.warnings.append("Skipped an archive inside the upload; upload it on its own.")
    if not result.files:
        if archives and not not_dicom and not not_images:
            raise UploadError(
                "The upload holds only archives inside a folder; upload each archive on its own.",
                code="not_dicom",
            )
        if len(candidates) == 1:
            raise UploadError(
                f"'{candidates[0].name}' is not a DICOM file (no DICM header).",
                code="not_dicom",
                file=candidates[0].name,
            )
        raise UploadError(
            f"No DICOM images found: none of the {len(candidates)} files is a DICOM image "
            f"({_summarise(not_dicom + not_images)}).",
            code="not_dicom",
        )
    if not_dicom:
        # Warnings are stored on the case and shown to readers: counts only, never file names
        # (uploaders' file names often hold patient names).
        result.warnings.append(f"Skipped {len(not_dicom)} non-DICOM file(s).")
    if not_images:
        result.warnings.append(
            f"Skipped {len(not_images)} DICOM file(s) that are not image instances."
        )
    return result


def read_pixels(*, file: DicomFile) -> tuple[Dataset, np.ndarray]:
    """Full dataset and its stored pixel values (no rescale applied), with completeness checks."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            dataset = pydicom.dcmread(file.path, force=True)
    except Exception as exc:
        raise _truncated(file.name, str(exc)[:200]) from exc
    if not _ends_cleanly(dataset=dataset, path=file.path, size=file.size):
        raise _truncated(file.name, "the file ends before its last element is complete")
    if PIXEL_DATA_TAG not in dataset:
        raise DicomFileError(
            f"The file '{file.name}' has no pixel data (PixelData missing; the file may have been cut short).",
            code="missing_pixel_data",
            file=file.name,
        )
    meta = dataset.file_meta
    if "TransferSyntaxUID" not in meta:  # preamble-less files: tell pydicom what it parsed
        implicit = dataset.original_encoding[0]
        meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    try:
        pixels = dataset.pixel_array
    except Exception as exc:
        text = str(exc)
        if "less than expected" in text or "truncated" in text.lower():
            raise _truncated(file.name, "pixel data shorter than Rows x Columns") from exc
        syntax = getattr(meta.TransferSyntaxUID, "name", meta.TransferSyntaxUID)
        raise DicomFileError(
            f"Could not decode the pixel data of '{file.name}' (transfer syntax {syntax}): {text[:200]}",
            code="undecodable_pixels",
            file=file.name,
        ) from exc
    return dataset, pixels


_NATIVE_LITTLE_ENDIAN = frozenset({ExplicitVRLittleEndian, ImplicitVRLittleEndian})
_PIXEL_MODULE_TAGS = tuple(
    tag_for_keyword(k)
    for k in (
        "Rows",
        "Columns",
        "BitsAllocated",
        "BitsStored",
        "PixelRepresentation",
        "SamplesPerPixel",
        "PhotometricInterpretation",
    )
)
_NUMBER_OF_FRAMES = tag_for_keyword("NumberOfFrames")
_PIXEL_TAG_LE = b"\xe0\x7f\x10\x00"


@dataclass(frozen=True)
class _NativeLayout:
    """How an uncompressed little-endian single-frame grey image lies in its file (from the header alone)."""

    implicit: bool
    rows: int
    columns: int
    dtype: np.dtype
    shift: int  # unused high bits (BitsAllocated - BitsStored)

    @property
    def expected(self) -> int:
        return self.rows * self.columns * self.dtype.itemsize


_LAYOUT_TAGS = (*_PIXEL_MODULE_TAGS, _NUMBER_OF_FRAMES)
_TRANSFER_SYNTAX_TAG = tag_for_keyword("TransferSyntaxUID")


def _native_layout(header: Dataset) -> _NativeLayout | None:
    """The layout of a plain native image, or None for anything else (compressed, big endian, colour...)."""
    meta = header.get("file_meta")
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is not None and syntax not in _NATIVE_LITTLE_ENDIAN:
        return None  # compressed, deflated or big endian
    # Trust what pydicom actually parsed (it corrects a meta header that names the wrong VR mode).
    encoding = getattr(header, "original_encoding", (None, None))
    if encoding[1] is not True or encoding[0] is None:
        return None
    if any(tag not in header._dict for tag in _PIXEL_MODULE_TAGS):
        return None  # pydicom refuses such a file; let it say why
    try:
        rows, columns = header_int(header, "Rows"), header_int(header, "Columns")
        bits_allocated = header_int(header, "BitsAllocated")
        bits_stored = header_int(header, "BitsStored")
        representation = header_int(header, "PixelRepresentation")
        samples = header_int(header, "SamplesPerPixel")
        frames = int(header.get("NumberOfFrames", 1) or 1) if _NUMBER_OF_FRAMES in header._dict else 1
    except (AttributeError, TypeError, ValueError):
        return None
    if (
        samples != 1
        or frames != 1
        or bits_allocated not in (8, 16, 32)
        or not 0 < bits_stored <= bits_allocated
        or representation not in (0, 1)
        or rows <= 0
        or columns <= 0
    ):
        return None
    return _NativeLayout(
        implicit=bool(encoding[0]),
        rows=rows,
        columns=columns,
        dtype=np.dtype(f"<{'i' if representation else 'u'}{bits_allocated // 8}"),
        shift=bits_allocated - bits_stored,
    )


def _layout_key(header: Dataset) -> tuple | None:
    """The stored bytes :func:`_native_layout` decides from, or None when some were converted already."""
    meta = header.get("file_meta")
    syntax = meta._dict.get(_TRANSFER_SYNTAX_TAG) if meta is not None else None
    parts: list = [None if syntax is None else str(syntax.value), getattr(header, "original_encoding", None)]
    for tag in _LAYOUT_TAGS:
        element = header._dict.get(tag)
        if element is None:
            parts.append(None)
        elif isinstance(element, RawDataElement) and isinstance(element.value, bytes):
            parts.append((element.VR, element.value, element.is_little_endian))
        elif not isinstance(element, RawDataElement) and isinstance(element.value, int | str):
            # Converted already (pydicom converts PixelRepresentation to read an "US or SS" element).
            parts.append((element.VR, type(element.value), element.value))
        else:
            return None
    return tuple(parts)


def _native_pixels(file: DicomFile, layout: _NativeLayout | None = None) -> np.ndarray | None:
    """Pixels of an uncompressed little-endian single-frame grey image read straight from the file.

    Only when the header read stopped exactly before PixelData, PixelData is the last element and
    ends at the end of the file, and the image is one plain frame; anything else (compressed,
    big-endian, multi-frame, colour, trailing elements, a short or odd file) returns None so the
    caller takes the full pydicom read with its checks and error messages. The result equals
    ``dataset.pixel_array`` for such files (unused high bits are corrected the same way).
    ``layout`` is the header's :func:`_native_layout` when the caller already knows it.
    """
    if file.pixel_offset is None:
        return None
    layout = layout or _native_layout(file.header)
    if layout is None:
        return None
    element_header = 8 if layout.implicit else 12
    try:
        # Unbuffered: the header read already fetched the PixelData element header (pixel_head), so the
        # pixels are one read straight into the array.
        with open(file.path, "rb", buffering=0) as handle:
            head = (file.pixel_head or b"")[:element_header]
            if len(head) != element_header:
                handle.seek(file.pixel_offset)
                head = handle.read(element_header)
            if len(head) != element_header or head[:4] != _PIXEL_TAG_LE:
                return None
            if layout.implicit:
                length = int.from_bytes(head[4:8], "little")
            elif head[4:6] in (b"OW", b"OB") and head[6:8] == b"\x00\x00":
                length = int.from_bytes(head[8:12], "little")
            else:
                return None
            if file.pixel_offset + element_header + length != file.size:
                return None  # trailing elements, or a truncated file: the full read decides
            expected = layout.expected
            if length != expected and not (length == expected + 1 and expected % 2):
                return None
            pixels = np.empty((layout.rows, layout.columns), dtype=layout.dtype)
            handle.seek(file.pixel_offset + element_header)
            if not _read_fully(handle, memoryview(pixels).cast("B")):
                return None
    except OSError:
        return None
    if layout.shift:
        np.left_shift(pixels, layout.shift, out=pixels)
        np.right_shift(pixels, layout.shift, out=pixels)
    return pixels


def _read_fully(handle, view: memoryview) -> bool:
    """Fill ``view`` from ``handle``; False when the file ends first (it changed since its size was taken)."""
    done = 0
    while done < len(view):
        count = handle.readinto(view[done:])
        if not count:
            return False
        done += count
    return True


class PixelReader:
    """:func:`read_stored_pixels` for the slices of a series: each distinct pixel layout is worked out once
    (the slices of a series normally share one), so a slice costs little more than its read."""

    def __init__(self) -> None:
        self._layouts: dict[tuple, _NativeLayout | None] = {}

    def read(self, file: DicomFile) -> tuple[Dataset, np.ndarray]:
        layout = None
        if file.pixel_offset is not None:
            key = _layout_key(file.header)
            if key is None:
                layout = _native_layout(file.header)
            elif key in self._layouts:
                layout = self._layouts[key]
            else:
                layout = self._layouts[key] = _native_layout(file.header)
        pixels = _native_pixels(file, layout) if layout is not None else None
        if pixels is not None:
            return file.header, pixels
        return read_pixels(file=file)


def read_stored_pixels(*, file: DicomFile) -> tuple[Dataset, np.ndarray]:
    """Like :func:`read_pixels`, but without a second parse of plain uncompressed files.

    Returns the header (no PixelData) and the stored pixel values for uncompressed little-endian
    single-frame images; every other file goes through :func:`read_pixels` and its checks.
    """
    return PixelReader().read(file)
