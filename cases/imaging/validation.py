"""Header sanity checks made before any pixel is decoded or any array allocated.

Headers are untrusted: 65535 x 65535 rows and columns would make the decoder allocate hundreds of
GiB, a pixel spacing of 0 or 1e-30 makes the working grid explode, a CT rescale slope of 0 turns
the image into one value. Every check here reads only header elements (and, for plain
uncompressed pixels, the 12 bytes of the PixelData element header) and raises an
:class:`~cases.imaging.errors.IngestError` whose one-line message names the file and the attribute.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import UID, ImplicitVRLittleEndian

from .errors import DicomFileError, GeometryError, UnsupportedError
from .reading import DicomFile, has_element, header_text, raw_decimals, raw_element, raw_us

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
PET_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.128"
SINGLE_FRAME_IMAGE_CLASSES = frozenset({CT_IMAGE_STORAGE, PET_IMAGE_STORAGE})
# Enhanced / legacy-converted objects are images too, but multi-frame: refused as unsupported.
MULTI_FRAME_IMAGE_CLASSES = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.2.1",  # Enhanced CT
        "1.2.840.10008.5.1.4.1.1.2.2",  # Legacy Converted Enhanced CT
        "1.2.840.10008.5.1.4.1.1.130",  # Enhanced PET
        "1.2.840.10008.5.1.4.1.1.128.1",  # Legacy Converted Enhanced PET
    }
)
GREY_PHOTOMETRIC = frozenset({"MONOCHROME1", "MONOCHROME2"})
PIXEL_DATA_TAG_LE = b"\xe0\x7f\x10\x00"
_UNDEFINED_LENGTH = 0xFFFFFFFF
_BINARY_VRS = frozenset({"US", "SS", "UL", "SL", "FL", "FD", "OB", "OW", "OF", "OD", "OL", "AT"})


@dataclass(frozen=True)
class Limits:
    """Bounds for one series; the defaults cover micro-CT and clinical PET with room to spare."""

    max_rows: int = 2048
    max_columns: int = 2048
    max_slices: int = 4096
    min_slices: int = 3
    max_voxels: int = 2048 * 2048 * 512  # per series and for the working grid (float32: 8 GiB)
    min_spacing_mm: float = 0.01
    max_spacing_mm: float = 10.0
    orientation_tolerance: float = 1e-3  # unit length and orthogonality of the direction cosines
    max_position_mm: float = 1e6
    max_rescale: float = 1e9  # |slope| and |intercept|: beyond this float32 volumes overflow


DEFAULT_LIMITS = Limits()


def _refuse(name: str, attribute: str, problem: str, *, code: str = "invalid_header") -> DicomFileError:
    return DicomFileError(f"'{name}': {attribute} {problem}.", code=code, file=name)


def _present(header: Dataset, keyword: str) -> bool:
    raw = raw_element(header, keyword)
    if raw is not None:  # still as read from the file: no need for pydicom's (costly) conversion
        vr = raw.VR or dictionary_VR(raw.tag)
        return bool(raw.value if vr in _BINARY_VRS else raw.value.strip(b"\x00 "))
    return has_element(header, keyword) and header[keyword].value not in (None, "", b"")


def _int(header: Dataset, keyword: str, name: str) -> int:
    if not _present(header, keyword):
        raise _refuse(name, keyword, "is missing")
    fast = raw_us(header, keyword)
    if fast is not None:
        return fast
    try:
        value = header[keyword].value
        number = int(value[0] if isinstance(value, list | tuple) else value)
    except (TypeError, ValueError, IndexError) as exc:
        raise _refuse(name, keyword, f"is not a whole number ({str(header[keyword].value)[:40]!r})") from exc
    return number


def _numbers(header: Dataset, keyword: str, name: str) -> list[float]:
    """All values of a DS/IS/FD element as floats; empty or unparsable values are refused."""
    fast = raw_decimals(header, keyword)
    if fast is not None and fast and all(math.isfinite(v) for v in fast):
        return fast
    value = header[keyword].value
    values = [value] if isinstance(value, str | bytes) or not hasattr(value, "__iter__") else list(value)
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise _refuse(name, keyword, f"is not a number ({str(value)[:40]!r})") from exc
    if not numbers:
        raise _refuse(name, keyword, "is empty")
    if not all(math.isfinite(v) for v in numbers):
        raise _refuse(name, keyword, f"is not finite ({numbers})")
    return numbers


def _bounded_spacing(values: list[float], *, name: str, keyword: str, limits: Limits) -> None:
    for value in values:
        if not limits.min_spacing_mm <= value <= limits.max_spacing_mm:
            raise _refuse(
                name,
                keyword,
                f"is {value:g} mm, outside {limits.min_spacing_mm:g}-{limits.max_spacing_mm:g} mm",
                code="invalid_geometry",
            )


def check_sop_class(*, dicom: DicomFile) -> None:
    """Only CT and PET image storage objects carry the images we load."""
    sop_class = header_text(dicom.header, "SOPClassUID", None)
    if sop_class in SINGLE_FRAME_IMAGE_CLASSES:
        return
    if sop_class in MULTI_FRAME_IMAGE_CLASSES:
        raise UnsupportedError(
            f"'{dicom.name}': SOPClassUID {UID(sop_class).name} is a multi-frame (enhanced) object; "
            "export the series as single-frame slices.",
            file=dicom.name,
        )
    shown = UID(sop_class).name if sop_class else "(missing)"
    raise _refuse(
        dicom.name, "SOPClassUID", f"is {shown}, not CT or PET Image Storage", code="wrong_sop_class"
    )


def _check_pixel_module(header: Dataset, name: str, limits: Limits) -> tuple[int, int, int, int]:
    rows, columns = _int(header, "Rows", name), _int(header, "Columns", name)
    if not 0 < rows <= limits.max_rows:
        raise _refuse(name, "Rows", f"is {rows}, outside 1-{limits.max_rows}", code="too_large")
    if not 0 < columns <= limits.max_columns:
        raise _refuse(name, "Columns", f"is {columns}, outside 1-{limits.max_columns}", code="too_large")
    frames = _int(header, "NumberOfFrames", name) if _present(header, "NumberOfFrames") else 1
    if frames != 1:
        if frames < 1:
            raise _refuse(name, "NumberOfFrames", f"is {frames}")
        raise UnsupportedError(
            f"'{name}': NumberOfFrames is {frames}; export the series as single-frame slices.", file=name
        )
    samples = _int(header, "SamplesPerPixel", name)
    if samples != 1:
        raise _refuse(name, "SamplesPerPixel", f"is {samples}: colour (RGB) images are not PET or CT data")
    photometric = str(header_text(header, "PhotometricInterpretation", "") or "").strip().upper()
    if photometric not in GREY_PHOTOMETRIC:
        raise _refuse(name, "PhotometricInterpretation", f"is {photometric or '(missing)'!r}, not MONOCHROME")
    allocated, stored = _int(header, "BitsAllocated", name), _int(header, "BitsStored", name)
    if allocated not in (8, 16, 32):
        raise _refuse(name, "BitsAllocated", f"is {allocated}, not 8, 16 or 32")
    if not 0 < stored <= allocated:
        raise _refuse(name, "BitsStored", f"is {stored} with BitsAllocated {allocated}")
    if _present(header, "HighBit") and _int(header, "HighBit", name) != stored - 1:
        raise _refuse(name, "HighBit", f"is {_int(header, 'HighBit', name)}, not BitsStored - 1 ({stored - 1})")
    representation = _int(header, "PixelRepresentation", name)
    if representation not in (0, 1):
        raise _refuse(name, "PixelRepresentation", f"is {representation}, not 0 or 1")
    return rows, columns, frames, allocated


def _check_transfer_syntax(header: Dataset, name: str) -> UID:
    meta = header.get("file_meta")
    syntax = meta.get("TransferSyntaxUID") if meta is not None else None
    if syntax is None:
        return ImplicitVRLittleEndian  # preamble-less file: reading.py tells pydicom what it parsed
    syntax = UID(str(syntax))
    if not syntax.is_transfer_syntax:
        raise _refuse(name, "TransferSyntaxUID", f"{str(syntax)[:64]!r} is not a known transfer syntax")
    return syntax


def _check_pixel_length(dicom: DicomFile, syntax: UID, expected: int) -> None:
    """For uncompressed pixels: the PixelData length must match Rows x Columns x frames x bytes."""
    name = dicom.name
    if dicom.pixel_offset is None:
        return  # the header read could not tell where PixelData starts; the full read checks
    if syntax.is_compressed or syntax.is_deflated or not syntax.is_little_endian:
        return  # encapsulated fragments: the decoder is bounded by Rows/Columns checked above
    # Trust what pydicom actually parsed (a meta header may name the wrong VR mode).
    parsed_implicit = getattr(dicom.header, "original_encoding", (None, None))[0]
    implicit = bool(parsed_implicit) if parsed_implicit is not None else syntax.is_implicit_VR
    element_header = 8 if implicit else 12
    if dicom.pixel_head is not None:  # read with the header
        head = dicom.pixel_head[:element_header]
    else:
        with dicom.path.open("rb") as handle:
            handle.seek(dicom.pixel_offset)
            head = handle.read(element_header)
    if len(head) < 8 or head[:4] != PIXEL_DATA_TAG_LE:
        return  # another element follows the header; pydicom's full read decides
    if implicit:
        length = int.from_bytes(head[4:8], "little")
    elif len(head) == 12 and head[6:8] == b"\x00\x00":
        length = int.from_bytes(head[8:12], "little")
    else:
        return
    if length == _UNDEFINED_LENGTH:
        raise _refuse(name, "PixelData", "is encapsulated but the transfer syntax is uncompressed")
    available = dicom.size - (dicom.pixel_offset + element_header)
    if length != expected + (expected % 2) and length != expected:
        raise _refuse(
            name, "PixelData", f"holds {length} bytes where Rows x Columns x BitsAllocated need {expected}",
            code="truncated" if length < expected else "invalid_header",
        )
    if available < length:
        raise _refuse(name, "PixelData", f"is cut short ({available} of {length} bytes)", code="truncated")


def _check_rescale(header: Dataset, name: str, modality: str, limits: Limits) -> None:
    if has_element(header, "ModalityLUTSequence"):
        return
    for keyword in ("RescaleSlope", "RescaleIntercept"):
        if not has_element(header, keyword):
            continue  # absent: slope 1, intercept 0
        if not _present(header, keyword):
            raise _refuse(name, keyword, "is empty")
        (value, *rest) = _numbers(header, keyword, name)
        if rest:
            raise _refuse(name, keyword, "has several values")
        if abs(value) > limits.max_rescale:
            raise _refuse(name, keyword, f"is {value:g}, beyond +/-{limits.max_rescale:g}")
        if keyword == "RescaleSlope" and modality == "CT" and value == 0:
            raise _refuse(name, keyword, "is 0 (every voxel would have the same HU)")
        if keyword == "RescaleSlope" and modality == "PT" and value <= 0:
            raise _refuse(name, keyword, f"is {value:g}; a PET slope must be > 0")


def _check_geometry(header: Dataset, name: str, limits: Limits) -> None:
    for keyword, count in (("ImageOrientationPatient", 6), ("ImagePositionPatient", 3), ("PixelSpacing", 2)):
        if not _present(header, keyword):
            raise GeometryError(
                f"'{name}': {keyword} is missing; the slices cannot be placed in space.",
                code="missing_geometry",
                file=name,
            )
        values = _numbers(header, keyword, name)
        if len(values) != count:
            raise _refuse(name, keyword, f"has {len(values)} values, not {count}", code="invalid_geometry")
    position = np.asarray(_numbers(header, "ImagePositionPatient", name))
    if np.any(np.abs(position) > limits.max_position_mm):
        raise _refuse(name, "ImagePositionPatient", f"is {position.tolist()}, beyond +/-1 km", code="invalid_geometry")
    _bounded_spacing(_numbers(header, "PixelSpacing", name), name=name, keyword="PixelSpacing", limits=limits)
    if _present(header, "SliceThickness"):
        (thickness, *_) = _numbers(header, "SliceThickness", name)
        _bounded_spacing([thickness], name=name, keyword="SliceThickness", limits=limits)
    iop = np.asarray(_numbers(header, "ImageOrientationPatient", name))
    row, column = iop[:3], iop[3:]
    tolerance = limits.orientation_tolerance
    if (
        abs(np.linalg.norm(row) - 1) > tolerance
        or abs(np.linalg.norm(column) - 1) > tolerance
        or abs(float(row @ column)) > tolerance
    ):
        raise _refuse(
            name,
            "ImageOrientationPatient",
            f"{np.round(iop, 4).tolist()} is not two orthonormal direction cosines",
            code="invalid_geometry",
        )


def validate_image_header(*, dicom: DicomFile, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a slice whose header is inconsistent, out of bounds or disagrees with its pixel data."""
    header = dicom.header
    check_sop_class(dicom=dicom)
    syntax = _check_transfer_syntax(header, dicom.name)
    rows, columns, frames, allocated = _check_pixel_module(header, dicom.name, limits)
    _check_pixel_length(dicom, syntax, rows * columns * frames * (allocated // 8))
    _check_geometry(header, dicom.name, limits)
    modality = str(header_text(header, "Modality", "") or "").upper()
    _check_rescale(header, dicom.name, modality, limits)


def check_slice_spacing(*, spacing_mm: float, label: str, limits: Limits = DEFAULT_LIMITS) -> None:
    if not (math.isfinite(spacing_mm) and limits.min_spacing_mm <= spacing_mm <= limits.max_spacing_mm):
        raise GeometryError(
            f"{label}: the slice spacing (from ImagePositionPatient) is {spacing_mm:g} mm, outside "
            f"{limits.min_spacing_mm:g}-{limits.max_spacing_mm:g} mm.",
            code="invalid_geometry",
        )


def check_slice_count(*, count: int, label: str, limits: Limits = DEFAULT_LIMITS) -> None:
    if count < limits.min_slices:
        raise GeometryError(
            f"{label} has {count} slice(s); at least {limits.min_slices} are needed for a 3D volume.",
            code="too_few_slices",
        )
    if count > limits.max_slices:
        raise GeometryError(f"{label} has {count} slices; the limit is {limits.max_slices}.", code="too_large")


def check_volume_size(*, shape: tuple[int, ...], label: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a volume (acquired series or working grid) above the voxel limit before allocating it."""
    voxels = math.prod(int(n) for n in shape)
    if voxels > limits.max_voxels:
        raise GeometryError(
            f"{label} would have {voxels:,} voxels ({'x'.join(str(int(n)) for n in shape)}); "
            f"the limit is {limits.max_voxels:,}.",
            code="too_large",
        )


# Elements whose checks depend on nothing but their own stored bytes (and the file's encoding):
# in a series they are normally byte-identical in every slice, so their checks run once per distinct value.
_SHARED_KEYWORDS = (
    "SOPClassUID",
    "Rows",
    "Columns",
    "NumberOfFrames",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "ImageOrientationPatient",
    "PixelSpacing",
    "SliceThickness",
    "Modality",
    "SpecificCharacterSet",  # how text values decode when pydicom converts them
)
_SHARED_TAGS = tuple(tag_for_keyword(k) for k in _SHARED_KEYWORDS)
_TRANSFER_SYNTAX_TAG = tag_for_keyword("TransferSyntaxUID")
_MODALITY_LUT_TAG = tag_for_keyword("ModalityLUTSequence")
_ABSENT = object()


def _stored_bytes(dataset: Dataset, tag: int) -> object:
    """What the checks of one element see, as a hashable key; None when pydicom already converted it."""
    element = dataset._dict.get(tag)
    if element is None:
        return _ABSENT
    if isinstance(element, RawDataElement):
        if isinstance(element.value, bytes):
            return (element.VR, element.value, element.is_little_endian, element.is_implicit_VR)
        return None
    # Converted already (pydicom converts the file meta and the character set while reading): the checks
    # then read this value, so plain values of the same type and text pass or fail alike (same messages).
    value = element.value
    if isinstance(value, str | int | float | bytes):
        return (element.VR, type(value), value if isinstance(value, bytes) else str(value))
    if isinstance(value, MultiValue) and all(isinstance(v, str | int | float) for v in value):
        return (element.VR, MultiValue, tuple((type(v), str(v)) for v in value))
    return None


def _shared_key(header: Dataset) -> tuple | None:
    """The shared elements' stored bytes, or None when any of them cannot be compared as bytes."""
    meta = getattr(header, "file_meta", None)
    parts = [
        _stored_bytes(meta, _TRANSFER_SYNTAX_TAG) if meta is not None else _ABSENT,
        getattr(header, "original_encoding", None),
        _MODALITY_LUT_TAG in header._dict,
    ]
    for tag in _SHARED_TAGS:
        part = _stored_bytes(header, tag)
        if part is None:
            return None
        parts.append(part)
    if parts[0] is None:
        return None
    return tuple(parts)


def _check_position(header: Dataset, name: str, limits: Limits) -> None:
    # The ImagePositionPatient part of _check_geometry, in its order there.
    if not _present(header, "ImagePositionPatient"):
        raise GeometryError(
            f"'{name}': ImagePositionPatient is missing; the slices cannot be placed in space.",
            code="missing_geometry",
            file=name,
        )
    values = _numbers(header, "ImagePositionPatient", name)
    if len(values) != 3:
        raise _refuse(name, "ImagePositionPatient", f"has {len(values)} values, not 3", code="invalid_geometry")
    if any(abs(v) > limits.max_position_mm for v in values):
        raise _refuse(name, "ImagePositionPatient", f"is {values}, beyond +/-1 km", code="invalid_geometry")


def validate_series_headers(*, files: Sequence[DicomFile], limits: Limits = DEFAULT_LIMITS) -> None:
    """:func:`validate_image_header` for every slice, with the same errors in the same order.

    A slice whose shared elements (pixel module, orientation, pixel spacing...) hold the same bytes
    as an already validated slice passes those checks again by construction, so only what differs
    per slice is checked for it: the PixelData length, ImagePositionPatient and the rescale.
    """
    validated: dict[tuple, tuple[UID, int, str]] = {}
    for dicom in files:
        key = _shared_key(dicom.header)
        known = validated.get(key) if key is not None else None
        if known is None:
            validate_image_header(dicom=dicom, limits=limits)
            if key is not None:
                header = dicom.header
                syntax = _check_transfer_syntax(header, dicom.name)
                rows, columns, frames, allocated = _check_pixel_module(header, dicom.name, limits)
                modality = str(header_text(header, "Modality", "") or "").upper()
                validated[key] = (syntax, rows * columns * frames * (allocated // 8), modality)
            continue
        syntax, expected, modality = known
        _check_pixel_length(dicom, syntax, expected)
        _check_position(dicom.header, dicom.name, limits)
        _check_rescale(dicom.header, dicom.name, modality, limits)
