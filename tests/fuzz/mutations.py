"""Malformed variants of one small valid PET-CT study, each declaring whether it must be refused.

A mutation edits deep copies of the CT and PET datasets (header mutations) or the encoded file
bytes (truncation, random bytes, transfer-syntax swaps that keep the meta header's length).
"""

from __future__ import annotations

import copy
import io
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass

import pydicom
from pydicom import config
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import generate_uid

Files = list[tuple[str, bytes]]
EXPLICIT_LE = b"1.2.840.10008.1.2.1\x00"


@dataclass(frozen=True)
class Mutation:
    name: str
    refuse: bool  # True: must be answered 400; False: genuinely harmless, must import (201)
    build: Callable[[list[Dataset], list[Dataset]], Files]


def put(ds: Dataset, keyword: str, value: object) -> None:
    """Set an element to any value, valid or not (the fuzzer's whole point)."""
    tag = tag_for_keyword(keyword)
    vr = dictionary_VR(tag)
    if vr in ("US", "SS", "UL", "SL", "FL", "FD", "SQ", "OB", "OW"):
        ds[tag] = DataElement(tag, vr, value, validation_mode=config.IGNORE)
        return
    # Text VRs as raw bytes, so pydicom neither parses nor refuses what we write.
    values = value if isinstance(value, list) else [value]
    raw = "\\".join("" if v is None else str(v) for v in values).encode("utf-8")
    raw += b" " * (len(raw) % 2)
    ds._dict[BaseTag(tag)] = RawDataElement(BaseTag(tag), vr, len(raw), raw, 0, False, True)


def encode(ds: Dataset) -> bytes:
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, enforce_file_format=True)
    return buffer.getvalue()


def encode_all(ct: list[Dataset], pet: list[Dataset]) -> Files:
    return [(f"CT{i:03d}.dcm", encode(d)) for i, d in enumerate(ct)] + [
        (f"PT{i:03d}.dcm", encode(d)) for i, d in enumerate(pet)
    ]


def fresh_study(ct: list[Dataset], pet: list[Dataset]) -> tuple[list[Dataset], list[Dataset]]:
    """Deep copies under a new StudyInstanceUID, so accepted variants are not duplicates of each other."""
    study = generate_uid()
    ct, pet = copy.deepcopy(ct), copy.deepcopy(pet)
    for ds in (*ct, *pet):
        ds.StudyInstanceUID = study
    return ct, pet


def _header(name: str, refuse: bool, modality: str, which: str, edit: Callable[[Dataset], None]) -> Mutation:
    def build(ct: list[Dataset], pet: list[Dataset]) -> Files:
        series = ct if modality == "CT" else pet
        for ds in series if which == "all" else [series[len(series) // 2]]:
            edit(ds)
        return encode_all(ct, pet)

    return Mutation(f"{modality}:{which}:{name}", refuse, build)


def _setter(keyword: str, value: object) -> Callable[[Dataset], None]:
    return lambda ds: put(ds, keyword, value)


def _many(*pairs: tuple[str, object]) -> Callable[[Dataset], None]:
    def edit(ds: Dataset) -> None:
        for keyword, value in pairs:
            put(ds, keyword, value)

    return edit


def _rgb(ds: Dataset) -> None:
    put(ds, "SamplesPerPixel", 3)
    put(ds, "PhotometricInterpretation", "RGB")
    put(ds, "PlanarConfiguration", 0)
    ds.PixelData = ds.PixelData * 3


def _drop(keyword: str) -> Callable[[Dataset], None]:
    return lambda ds: delattr(ds, keyword) if keyword in ds else None


def _half_pixels(ds: Dataset) -> None:
    ds.PixelData = ds.PixelData[: len(ds.PixelData) // 2]


def _more_pixels(ds: Dataset) -> None:
    ds.PixelData = ds.PixelData + ds.PixelData


def _private(ds: Dataset) -> None:
    ds.private_block(0x0029, "FUZZ PRIVATE", create=True).add_new(0x01, "LO", "harmless")


# Header values that must be refused, applied to one slice and to all slices of CT and of PET.
BAD_VALUES: list[tuple[str, Callable[[Dataset], None]]] = [
    ("rows-65535", _setter("Rows", 65535)),
    ("columns-65535", _setter("Columns", 65535)),
    ("rows-cols-65535", _many(("Rows", 65535), ("Columns", 65535))),
    ("rows-0", _setter("Rows", 0)),
    ("rows-empty", _setter("Rows", None)),
    ("spacing-0", _setter("PixelSpacing", ["0", "0"])),
    ("spacing-1e-30", _setter("PixelSpacing", ["1e-30", "1e-30"])),
    ("spacing-nan", _setter("PixelSpacing", ["NaN", "NaN"])),
    ("spacing-inf", _setter("PixelSpacing", ["inf", "0.5"])),
    ("spacing-negative", _setter("PixelSpacing", ["-0.5", "0.5"])),
    ("spacing-1000", _setter("PixelSpacing", ["1000", "1000"])),
    ("spacing-one-value", _setter("PixelSpacing", "0.5")),
    ("spacing-text", _setter("PixelSpacing", ["abc", "0.5"])),
    ("thickness-0", _setter("SliceThickness", "0")),
    ("thickness-nan", _setter("SliceThickness", "NaN")),
    ("thickness-1e-30", _setter("SliceThickness", "1e-30")),
    ("intercept-inf", _setter("RescaleIntercept", "inf")),
    ("intercept-nan", _setter("RescaleIntercept", "NaN")),
    ("intercept-empty", _setter("RescaleIntercept", "")),
    ("slope-inf", _setter("RescaleSlope", "inf")),
    ("slope-nan", _setter("RescaleSlope", "NaN")),
    ("slope-empty", _setter("RescaleSlope", "")),
    ("slope-0", _setter("RescaleSlope", "0")),
    ("slope-1e300", _setter("RescaleSlope", "1e300")),
    ("iop-parallel", _setter("ImageOrientationPatient", ["1", "0", "0", "1", "0", "0"])),
    ("iop-zero-column", _setter("ImageOrientationPatient", ["1", "0", "0", "0", "0", "0"])),
    ("iop-not-unit", _setter("ImageOrientationPatient", ["2", "0", "0", "0", "1", "0"])),
    ("iop-skewed", _setter("ImageOrientationPatient", ["1", "0", "0", "0.5", "0.8660254", "0.2"])),
    ("iop-nan", _setter("ImageOrientationPatient", ["NaN", "0", "0", "0", "1", "0"])),
    ("iop-five-values", _setter("ImageOrientationPatient", ["1", "0", "0", "0", "1"])),
    ("ipp-nan", _setter("ImagePositionPatient", ["NaN", "0", "0"])),
    ("ipp-huge", _setter("ImagePositionPatient", ["1e300", "0", "0"])),
    ("ipp-missing", _drop("ImagePositionPatient")),
    ("rgb", _rgb),
    ("photometric-palette", _setter("PhotometricInterpretation", "PALETTE COLOR")),
    ("photometric-ybr", _setter("PhotometricInterpretation", "YBR_FULL")),
    ("samples-3-only", _setter("SamplesPerPixel", 3)),
    ("bits-allocated-12", _setter("BitsAllocated", 12)),
    ("bits-allocated-64", _setter("BitsAllocated", 64)),
    ("bits-stored-0", _setter("BitsStored", 0)),
    ("bits-stored-17", _setter("BitsStored", 17)),
    ("high-bit-wrong", _setter("HighBit", 3)),
    ("pixel-representation-2", _setter("PixelRepresentation", 2)),
    ("frames-1000", _setter("NumberOfFrames", "1000")),
    ("frames-0", _setter("NumberOfFrames", "0")),
    ("frames-2", _setter("NumberOfFrames", "2")),
    ("sop-class-secondary-capture", _setter("SOPClassUID", "1.2.840.10008.5.1.4.1.1.7")),
    ("sop-class-rt-dose", _setter("SOPClassUID", "1.2.840.10008.5.1.4.1.1.481.2")),
    ("sop-class-enhanced-ct", _setter("SOPClassUID", "1.2.840.10008.5.1.4.1.1.2.1")),
    ("sop-class-sr", _setter("SOPClassUID", "1.2.840.10008.5.1.4.1.1.88.11")),
    ("pixels-truncated", _half_pixels),
    ("pixels-too-long", _more_pixels),
    ("pixels-missing", _drop("PixelData")),
]
# Harmless edits: the study must still import.
GOOD_VALUES: list[tuple[str, Callable[[Dataset], None]]] = [
    ("series-description", _setter("SeriesDescription", "another description")),
    ("private-tag", _private),
    ("instance-number-empty", _setter("InstanceNumber", None)),
    ("slope-absent", _drop("RescaleSlope")),
    ("thickness-absent", _drop("SliceThickness")),
    ("patient-name-unicode", _setter("PatientName", "Müller^Zoë")),
]


def _all_same_uid(modality: str) -> Mutation:
    def build(ct: list[Dataset], pet: list[Dataset]) -> Files:
        series = ct if modality == "CT" else pet
        for ds in series:
            ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = series[0].SOPInstanceUID
        return encode_all(ct, pet)

    return Mutation(f"{modality}:all:same-sop-instance-uid", True, build)


def _shared_uid(ct: list[Dataset], pet: list[Dataset]) -> Files:
    pet[0].SOPInstanceUID = pet[0].file_meta.MediaStorageSOPInstanceUID = ct[0].SOPInstanceUID
    return encode_all(ct, pet)


def _keep_slices(modality: str, count: int) -> Mutation:
    def build(ct: list[Dataset], pet: list[Dataset]) -> Files:
        if modality == "CT":
            ct = ct[:count]
        else:
            pet = pet[:count]
        return encode_all(ct, pet)

    return Mutation(f"{modality}:keep-{count}-slices", True, build)


def _same_position(modality: str) -> Mutation:
    def build(ct: list[Dataset], pet: list[Dataset]) -> Files:
        series = ct if modality == "CT" else pet
        series[1].ImagePositionPatient = series[0].ImagePositionPatient
        return encode_all(ct, pet)

    return Mutation(f"{modality}:two-slices-same-position", True, build)


def _file_edit(name: str, refuse: bool, edit: Callable[[Files], Files]) -> Mutation:
    return Mutation(name, refuse, lambda ct, pet: edit(encode_all(ct, pet)))


def _replace(files: Files, index: int, content: bytes) -> Files:
    return [*files[:index], (files[index][0], content), *files[index + 1 :]]


def _truncate(index: int, fraction: float | None, keep: int | None = None) -> Callable[[Files], Files]:
    def edit(files: Files) -> Files:
        content = files[index][1]
        cut = keep if keep is not None else int(len(content) * fraction)
        return _replace(files, index, content[:cut])

    return edit


def _syntax(index: int, uid: bytes) -> Callable[[Files], Files]:
    def edit(files: Files) -> Files:
        content = files[index][1]
        assert EXPLICIT_LE in content[:400]
        return _replace(files, index, content.replace(EXPLICIT_LE, uid.ljust(len(EXPLICIT_LE), b"\x00"), 1))

    return edit


def _zip(files: Files) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files:
            archive.writestr(name, content)
    return buffer.getvalue()


def file_mutations(n_ct: int, seed: int = 7) -> list[Mutation]:
    rng = random.Random(seed)
    out: list[Mutation] = []
    for index in (0, n_ct - 1, n_ct, n_ct + 1):  # CT first and last, PET first and second
        for fraction in (0.05, 0.3, 0.5, 0.8, 0.95, 0.999):
            out.append(_file_edit(f"file{index}:truncated-{fraction}", True, _truncate(index, fraction)))
        for keep in (0, 128, 132, 140, 300):
            out.append(_file_edit(f"file{index}:first-{keep}-bytes", True, _truncate(index, None, keep)))
        for label, uid in (
            ("big-endian", b"1.2.840.10008.1.2.2"),
            ("rle", b"1.2.840.10008.1.2.5"),
            ("unknown", b"1.2.840.10008.1.2.9"),
            ("jpeg-baseline", b"1.2.840.10008.1.2.4.50"),
        ):
            out.append(_file_edit(f"file{index}:transfer-syntax-{label}", True, _syntax(index, uid)))
        noise = rng.randbytes(2000)
        out.append(
            _file_edit(f"file{index}:dicm-then-noise", True, lambda f, i=index, n=noise: _replace(f, i, n[:128] + b"DICM" + n))
        )
        out.append(
            _file_edit(
                f"file{index}:header-noise",
                True,
                lambda f, i=index: _replace(f, i, f[i][1][:132] + random.Random(i).randbytes(len(f[i][1]) - 132)),
            )
        )
    for size in (0, 1, 200, 5000):
        blob = rng.randbytes(size)
        out.append(Mutation(f"random-{size}-bytes-alone", True, lambda ct, pet, b=blob: [("noise.bin", b)]))
        out.append(
            Mutation(f"dicm-{size}-random-alone", True, lambda ct, pet, b=blob: [("x.dcm", bytes(128) + b"DICM" + b)])
        )
    out.append(Mutation("zip-of-noise", True, lambda ct, pet: [("study.zip", b"PK\x03\x04" + rng.randbytes(3000))]))
    out.append(
        Mutation("zip-truncated", True, lambda ct, pet: [("study.zip", _zip(encode_all(ct, pet))[:-300])])
    )
    out.append(Mutation("ct-only", True, lambda ct, pet: encode_all(ct, [])))
    out.append(Mutation("pet-only", True, lambda ct, pet: encode_all([], pet)))
    out.append(_file_edit("plus-readme", False, lambda f: [*f, ("README.txt", b"scanned on Tuesday")]))
    out.append(_file_edit("plus-duplicate-file", False, lambda f: [*f, ("copy.dcm", f[1][1])]))
    out.append(Mutation("as-zip", False, lambda ct, pet: [("study.zip", _zip(encode_all(ct, pet)))]))
    return out


def all_mutations(n_ct: int) -> list[Mutation]:
    mutations: list[Mutation] = []
    for modality in ("CT", "PT"):
        for which in ("one", "all"):
            mutations += [_header(name, True, modality, which, edit) for name, edit in BAD_VALUES]
            mutations += [_header(name, False, modality, which, edit) for name, edit in GOOD_VALUES]
        mutations += [_all_same_uid(modality), _same_position(modality)]
        mutations += [_keep_slices(modality, count) for count in (1, 2)]
    mutations.append(Mutation("CT-and-PET-share-a-uid", True, _shared_uid))
    mutations += file_mutations(n_ct)
    return mutations
