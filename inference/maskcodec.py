"""The viewer's mask wire format "rle-u8-v1" (decode and encode), pure numpy.

The flattened C-order binary mask is a sequence of run lengths, alternating runs of 0 and 1 and
starting with a (possibly empty) run of 0; each run is a little-endian uint32; the bytes travel
base64-encoded.
"""

from __future__ import annotations

import base64
import binascii

import numpy as np

ENCODING = "rle-u8-v1"


class MaskPayloadError(ValueError):
    pass


def decode_rle(*, data: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MaskPayloadError("mask data is not valid base64") from exc
    if len(raw) % 4:
        raise MaskPayloadError("mask data length is not a whole number of uint32 run lengths")
    runs = np.frombuffer(raw, dtype="<u4").astype(np.int64)
    total = int(np.prod(shape))
    if int(runs.sum()) != total:
        raise MaskPayloadError(f"run lengths cover {int(runs.sum())} voxels but the mask has {total}")
    values = np.zeros(len(runs), dtype=np.uint8)
    values[1::2] = 1
    return np.repeat(values, runs).reshape(shape)


def encode_rle(mask: np.ndarray) -> str:
    flat = np.ascontiguousarray(mask, dtype=np.uint8).ravel() != 0
    changes = np.flatnonzero(np.diff(flat.astype(np.int8))) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds)
    if flat.size and flat[0]:
        runs = np.concatenate([[0], runs])
    return base64.b64encode(runs.astype("<u4").tobytes()).decode()
