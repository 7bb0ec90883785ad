"""Errors raised while ingesting DICOM uploads.

Every error carries a human-readable ``message`` (shown to the user as is, naming the
file or series at fault) and a short machine ``code`` (stable, for the API and tests).
Subclasses group the codes by stage so callers can catch a family if they wish.
"""

from __future__ import annotations

# Every code any ingest error may carry; the API documents this list.
ERROR_CODES: frozenset[str] = frozenset(
    {
        "not_found",  # the path does not exist
        "empty",  # nothing to read (no files at all)
        "not_dicom",  # files present but none is DICOM
        "truncated",  # claims DICOM but the file ends early
        "unsafe_zip",  # zip member escapes the target, is a link, is encrypted, or looks like a zip bomb
        "zip_too_large",  # too many members or too many bytes once extracted
        "pet_without_ct",
        "ct_without_pet",
        "no_pet_ct",  # DICOM present, but neither a CT nor a PET series
        "multiple_patients",
        "inconsistent_orientation",  # slices disagree on orientation, or the stack is sheared (gantry tilt)
        "inconsistent_spacing",  # slice gaps that are not a whole number of slices, or no spacing at all
        "missing_slices",  # gaps that are whole multiples of the slice spacing
        "duplicate_slices",  # two different instances at the same position
        "inconsistent_geometry",  # rows, columns or pixel spacing differ between slices
        "missing_geometry",  # ImagePositionPatient / ImageOrientationPatient / PixelSpacing absent
        "missing_pixel_data",
        "undecodable_pixels",  # pixel data present but no installed decoder could read it
        "unsupported",  # valid DICOM we deliberately do not handle (e.g. multi-frame)
        "invalid_header",  # a pixel-module or rescale attribute is missing, malformed or out of bounds
        "invalid_geometry",  # spacing, thickness, orientation or position out of bounds or not orthonormal
        "wrong_sop_class",  # a CT/PET series object that is not CT or PET Image Storage
        "duplicate_uid",  # one SOPInstanceUID for different images
        "too_few_slices",  # fewer slices than a 3D volume needs
        "too_large",  # rows, columns, slices or voxels beyond the configured limits
    }
)


class IngestError(Exception):
    """Base class: a problem with the uploaded data, explained for the user."""

    default_code = "ingest_error"

    def __init__(self, message: str, *, code: str | None = None, file: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.file = file  # display name of the offending file, when there is one

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict:
        return {"code": self.code, "message": self.message, "file": self.file}


class UploadError(IngestError):
    """The upload as a whole: missing, empty or without any DICOM."""

    default_code = "empty"


class UnsafeZipError(IngestError):
    """A zip archive we refuse to extract."""

    default_code = "unsafe_zip"


class DicomFileError(IngestError):
    """One file is broken (truncated, no pixel data, undecodable)."""

    default_code = "truncated"


class PairingError(IngestError):
    """The series do not form one patient's PET plus CT."""

    default_code = "pet_without_ct"


class GeometryError(IngestError):
    """A series' slices do not form a regular 3D grid."""

    default_code = "inconsistent_spacing"


class UnsupportedError(IngestError):
    default_code = "unsupported"
