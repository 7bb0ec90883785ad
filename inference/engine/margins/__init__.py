"""Margin analysis between continuous tumour and specimen surfaces (see ``analysis``)."""

from cases.imaging.specimen import find_holder_plate, specimen_mask_from_ct
from inference.engine.margins.analysis import DEFAULT_MIN_FOCUS_VOLUME_MM3, analyse_margins
from inference.engine.margins.faces import ANATOMICAL_FACES, FACE_LABELS
from inference.engine.margins.result import (
    STATUS_TOLERANCE_MM,
    FaceMargin,
    FocusMargin,
    FoldMargin,
    MarginPoint,
    MarginResult,
    SliceMargin,
)

__all__ = [
    "ANATOMICAL_FACES",
    "DEFAULT_MIN_FOCUS_VOLUME_MM3",
    "FACE_LABELS",
    "STATUS_TOLERANCE_MM",
    "FaceMargin",
    "FocusMargin",
    "FoldMargin",
    "MarginPoint",
    "MarginResult",
    "SliceMargin",
    "analyse_margins",
    "find_holder_plate",
    "specimen_mask_from_ct",
]
