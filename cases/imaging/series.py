"""Turn one series of single-frame DICOM slices into a :class:`Volume`.

The geometry comes from the headers alone, so a broken stack is refused before any pixel
is decoded. Slices are sorted by their position along the slice normal (row cosine x
column cosine, dotted with ImagePositionPatient), never by InstanceNumber or file name.
The grid's direction columns are the row cosine (i), the column cosine (j) and the normal
(k); its origin is the position of the first sorted slice; PixelSpacing is
[between rows (sy), between columns (sx)]. Stored values are rescaled per slice
(PET slopes usually differ slice to slice) into float32.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from pydicom.datadict import tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from .errors import GeometryError, UnsupportedError
from .reading import DicomFile, PixelReader, header_int, header_text, raw_decimals
from .validation import (
    DEFAULT_LIMITS,
    Limits,
    check_slice_count,
    check_slice_spacing,
    check_volume_size,
    validate_series_headers,
)
from .volume import Grid, Volume

ORIENTATION_TOLERANCE = 1e-4  # direction cosines
SPACING_RELATIVE_TOLERANCE = 0.01  # 1 % of the slice spacing ...
SPACING_ABSOLUTE_TOLERANCE = 0.01  # ... or 0.01 mm, whichever is larger
PIXEL_SPACING_TOLERANCE = 1e-4  # mm
_MODALITY_LUT_TAG = tag_for_keyword("ModalityLUTSequence")
_IN_PLANE_TAGS = tuple(tag_for_keyword(k) for k in ("ImageOrientationPatient", "PixelSpacing", "Rows", "Columns"))


@dataclass
class SeriesGeometry:
    grid: Grid
    files: list[DicomFile]  # sorted along the slice normal, one per slice
    warnings: list[str] = field(default_factory=list)


@dataclass
class LoadedSeries:
    volume: Volume  # float32, rescaled (HU for CT, Units for PET)
    headers: list[Dataset]  # one per slice in volume order, without pixel data
    warnings: list[str] = field(default_factory=list)


def _floats(header: Dataset, keyword: str, count: int, *, name: str, label: str) -> np.ndarray:
    numbers = raw_decimals(header, keyword)
    if numbers is not None and len(numbers) == count and all(math.isfinite(v) for v in numbers):
        return np.asarray(numbers, dtype=float)
    value = header.get(keyword)
    try:
        array = np.asarray([float(v) for v in value], dtype=float)
    except (TypeError, ValueError):
        array = np.empty(0)
    if array.size != count or not np.all(np.isfinite(array)):
        raise GeometryError(
            f"{label}: '{name}' has no valid {keyword}; the slices cannot be placed in space.",
            code="missing_geometry",
            file=name,
        )
    return array


def _same_stored(header: Dataset, reference: dict[int, object]) -> bool:
    """Does ``header`` hold the ``reference`` elements unconverted, with the same bytes and encoding?"""
    for tag, theirs in reference.items():
        mine = header._dict.get(tag)
        if not (
            isinstance(mine, RawDataElement)
            and isinstance(theirs, RawDataElement)
            and isinstance(mine.value, bytes)
            and mine.value == theirs.value
            and mine.VR == theirs.VR
            and mine.is_little_endian == theirs.is_little_endian
            and mine.is_implicit_VR == theirs.is_implicit_VR
        ):
            return False
    return True


def _us(header: Dataset, keyword: str) -> int:
    try:
        return header_int(header, keyword)
    except AttributeError:
        return 0


def _position(dicom: DicomFile) -> tuple | None:
    try:
        return tuple(round(float(v), 3) for v in dicom.header.get("ImagePositionPatient") or ())
    except (TypeError, ValueError):
        return None


def _unique_instances(files: Sequence[DicomFile], *, label: str, warnings: list[str]) -> list[DicomFile]:
    """One file per SOPInstanceUID: the same file twice is dropped, one UID for two images is refused."""
    seen: dict[str, DicomFile] = {}
    for dicom in files:
        uid = header_text(dicom.header, "SOPInstanceUID")
        first = seen.setdefault(uid, dicom)
        if first is not dicom and _position(first) != _position(dicom):
            raise GeometryError(
                f"{label}: '{first.name}' and '{dicom.name}' are different images with the same "
                "SOPInstanceUID; every instance needs its own UID.",
                code="duplicate_uid",
                file=dicom.name,
            )
    if len(seen) < len(files):
        warnings.append(f"{label}: {len(files) - len(seen)} duplicate file(s) of the same instance ignored.")
    return list(seen.values())


def _slice_spacing(positions: np.ndarray, *, files: list[DicomFile], label: str) -> float:
    """Uniform spacing of the sorted positions, or a GeometryError describing the gaps."""
    gaps = np.diff(positions)
    base = float(np.median(gaps))
    tolerance = max(SPACING_ABSOLUTE_TOLERANCE, SPACING_RELATIVE_TOLERANCE * base)
    if np.all(np.abs(gaps - base) <= tolerance):
        return float((positions[-1] - positions[0]) / (len(positions) - 1))
    multiples = np.rint(gaps / base)
    whole = np.abs(gaps - multiples * base) <= tolerance
    odd = np.flatnonzero(~whole | (multiples < 1))
    if odd.size == 0:
        holes = np.flatnonzero(multiples >= 2)
        missing = int(np.sum(multiples[holes] - 1))
        where = "; ".join(
            f"{int(multiples[h] - 1)} between '{files[h].name}' ({positions[h]:.2f} mm) and "
            f"'{files[h + 1].name}' ({positions[h + 1]:.2f} mm)"
            for h in holes[:3]
        )
        raise GeometryError(
            f"{label} is missing {missing} slice(s) (slice spacing {base:.3f} mm): {where}. "
            "Re-export the complete series.",
            code="missing_slices",
        )
    first = int(odd[0])
    raise GeometryError(
        f"{label} has inconsistent slice spacing: {gaps[first]:.3f} mm between '{files[first].name}' and "
        f"'{files[first + 1].name}' where the usual spacing is {base:.3f} mm.",
        code="inconsistent_spacing",
    )


def series_geometry(
    *, files: Sequence[DicomFile], label: str = "Series", limits: Limits = DEFAULT_LIMITS
) -> SeriesGeometry:
    """Sort the slices and derive the grid from headers only; raises GeometryError on a bad stack.

    Every header is validated (pixel module, pixel data length, geometry, rescale) first, so no
    array is allocated for a header that lies.
    """
    warnings: list[str] = []
    validate_series_headers(files=files, limits=limits)
    unique = _unique_instances(files, label=label, warnings=warnings)
    check_slice_count(count=len(unique), label=label, limits=limits)
    first = unique[0].header
    frames = int(first.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        raise UnsupportedError(
            f"{label} is a multi-frame (enhanced) object with {frames} frames; export it as single-frame slices.",
            file=unique[0].name,
        )
    # The first slice's elements as stored, taken before anything below converts them.
    reference = {tag: first._dict.get(tag) for tag in _IN_PLANE_TAGS}
    iop = _floats(first, "ImageOrientationPatient", 6, name=unique[0].name, label=label)
    pixel_spacing = _floats(first, "PixelSpacing", 2, name=unique[0].name, label=label)
    shape_2d = (int(first.Rows), int(first.Columns))
    origins = np.empty((len(unique), 3))
    for index, dicom in enumerate(unique):
        header = dicom.header
        if _same_stored(header, reference):
            # Byte-identical orientation, spacing and size: the checks below would pass.
            origins[index] = _floats(header, "ImagePositionPatient", 3, name=dicom.name, label=label)
            continue
        other_iop = _floats(header, "ImageOrientationPatient", 6, name=dicom.name, label=label)
        if np.max(np.abs(other_iop - iop)) > ORIENTATION_TOLERANCE:
            raise GeometryError(
                f"{label}: slice '{dicom.name}' has a different orientation from '{unique[0].name}' "
                f"({np.round(other_iop, 4).tolist()} vs {np.round(iop, 4).tolist()}).",
                code="inconsistent_orientation",
                file=dicom.name,
            )
        other_spacing = _floats(header, "PixelSpacing", 2, name=dicom.name, label=label)
        other_shape = (_us(header, "Rows"), _us(header, "Columns"))
        if other_shape != shape_2d or np.max(np.abs(other_spacing - pixel_spacing)) > PIXEL_SPACING_TOLERANCE:
            raise GeometryError(
                f"{label}: slice '{dicom.name}' is {other_shape[0]}x{other_shape[1]} pixels of "
                f"{other_spacing.tolist()} mm, unlike '{unique[0].name}' ({shape_2d[0]}x{shape_2d[1]} of "
                f"{pixel_spacing.tolist()} mm).",
                code="inconsistent_geometry",
                file=dicom.name,
            )
        origins[index] = _floats(header, "ImagePositionPatient", 3, name=dicom.name, label=label)
    row_cosine = iop[:3] / np.linalg.norm(iop[:3])
    column_cosine = iop[3:] / np.linalg.norm(iop[3:])
    normal = np.cross(row_cosine, column_cosine)
    normal /= np.linalg.norm(normal)
    positions = origins @ normal
    order = np.argsort(positions, kind="stable")
    positions, origins = positions[order], origins[order]
    ordered = [unique[i] for i in order]
    if len(ordered) > 1:
        gaps = np.diff(positions)
        same = np.flatnonzero(gaps <= SPACING_ABSOLUTE_TOLERANCE)
        if same.size:
            a, b = ordered[same[0]], ordered[same[0] + 1]
            raise GeometryError(
                f"{label}: '{a.name}' and '{b.name}' are different images at the same position "
                f"({positions[same[0]]:.3f} mm); the series mixes several stacks.",
                code="duplicate_slices",
                file=b.name,
            )
        slice_spacing = _slice_spacing(positions, files=ordered, label=label)
        # Positions must lie on a line along the normal; anything else is a sheared (tilted) stack.
        in_plane = (origins - origins[0]) - np.outer(positions - positions[0], normal)
        shear = float(np.max(np.linalg.norm(in_plane, axis=1)))
        if shear > max(SPACING_ABSOLUTE_TOLERANCE, 0.05 * float(pixel_spacing.min())):
            raise GeometryError(
                f"{label}: slice positions drift {shear:.3f} mm sideways across the stack (gantry tilt or "
                "sheared volume), which is not supported.",
                code="inconsistent_orientation",
            )
    else:
        value = first.get("SpacingBetweenSlices") or first.get("SliceThickness")
        if not value or float(value) <= 0:
            raise GeometryError(
                f"{label} has a single slice and no SpacingBetweenSlices or SliceThickness.",
                code="inconsistent_spacing",
            )
        slice_spacing = float(value)
        warnings.append(
            f"{label} has a single slice; slice spacing taken from the header ({slice_spacing} mm)."
        )
    check_slice_spacing(spacing_mm=slice_spacing, label=label, limits=limits)
    check_volume_size(shape=(len(ordered), *shape_2d), label=label, limits=limits)
    direction = np.column_stack([row_cosine, column_cosine, normal])
    grid = Grid(
        shape=(len(ordered), shape_2d[0], shape_2d[1]),
        spacing=(float(slice_spacing), float(pixel_spacing[0]), float(pixel_spacing[1])),
        origin=tuple(float(v) for v in origins[0]),
        direction=tuple(tuple(float(v) for v in row) for row in direction),
    )
    return SeriesGeometry(grid=grid, files=ordered, warnings=warnings)


def _decimal(dataset: Dataset, keyword: str, default: float) -> float:
    numbers = raw_decimals(dataset, keyword)
    if numbers is not None and len(numbers) == 1:
        return numbers[0] or default
    return float(dataset.get(keyword, default) or default)


def _rescale_into(dataset: Dataset, pixels: np.ndarray, out: np.ndarray) -> None:
    """Stored values -> rescaled float32, written into ``out`` (one slice of the volume)."""
    if _MODALITY_LUT_TAG in dataset._dict:  # a plain dict lookup: Dataset.__contains__ converts the tag first
        from pydicom.pixels import apply_modality_lut

        out[...] = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float32)
        return
    slope = _decimal(dataset, "RescaleSlope", 1.0)
    intercept = _decimal(dataset, "RescaleIntercept", 0.0)
    exact = pixels.dtype.itemsize <= 2  # float32 holds these integers exactly: fuse the cast
    if exact and slope != 1.0:
        np.multiply(pixels, np.float32(slope), out=out)
    elif exact and intercept != 0.0:
        np.add(pixels, np.float32(intercept), out=out)
        return
    else:
        out[...] = pixels  # the same float32 values as pixels.astype(np.float32)
        if slope != 1.0:
            out *= np.float32(slope)
    if intercept != 0.0:
        out += np.float32(intercept)


def slice_reader(
    *, geometry: SeriesGeometry, label: str = "Series", scale: float = 1.0
) -> Callable[[int, np.ndarray], None]:
    """``read(first, out)``: the rescaled float32 values of slices ``first, first + 1, ...`` written into ``out``.

    ``scale`` multiplies every value afterwards (a unit conversion such as Philips counts to Bq/ml).
    """
    files, shape = geometry.files, geometry.grid.shape[1:]
    pixel_reader = PixelReader()

    def read(first: int, out: np.ndarray) -> None:
        for index in range(out.shape[0]):
            dicom = files[first + index]
            dataset, pixels = pixel_reader.read(dicom)
            if pixels.shape != shape:
                raise GeometryError(
                    f"{label}: '{dicom.name}' decodes to pixels of shape {pixels.shape}, expected {shape}.",
                    code="inconsistent_geometry",
                    file=dicom.name,
                )
            _rescale_into(dataset, pixels, out[index])
            if scale != 1.0:
                out[index] *= np.float32(scale)

    return read


def load_series(
    *, files: Sequence[DicomFile], label: str = "Series", limits: Limits = DEFAULT_LIMITS
) -> LoadedSeries:
    """Header and geometry checks, then pixels of every slice rescaled into one float32 volume."""
    geometry = series_geometry(files=files, label=label, limits=limits)
    array = np.empty(geometry.grid.shape, dtype=np.float32)
    slice_reader(geometry=geometry, label=label)(0, array)
    return LoadedSeries(
        volume=Volume(array=array, grid=geometry.grid),
        headers=[dicom.header for dicom in geometry.files],
        warnings=geometry.warnings,
    )
