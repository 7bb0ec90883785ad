"""Synthetic lumpectomy specimen generator (Django-free).

Writes genuine DICOM CT and PET series of a specimen on a holder plate, with FDG-avid
tumours placed at chosen margin categories, plus independent ground truth (masks on the
CT grid, margin distances, SUV statistics). See :mod:`cases.phantoms.generator`.
"""

from cases.phantoms.generator import (
    PhantomCase,
    PhantomSummary,
    case_seed,
    generate_case,
    generate_phantoms,
    write_case,
)

__all__ = [
    "PhantomCase",
    "PhantomSummary",
    "case_seed",
    "generate_case",
    "generate_phantoms",
    "write_case",
]
