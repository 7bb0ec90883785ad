"""CSV exports that a spreadsheet cannot turn into formulas (CSV injection, OWASP's rule).

A text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or carriage return is prefixed with a
single quote, so Excel, LibreOffice and Google Sheets show it as text. Only strings are touched:
numbers (``-0.5`` as a float) stay numbers, because the exports are also read by statistics software.
Every CSV the product writes goes through ``csv_writer``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class SafeCsvWriter:
    """``csv.writer`` with every text cell neutralised."""

    def __init__(self, stream, **fmtparams) -> None:
        self._writer = csv.writer(stream, **fmtparams)

    def writerow(self, row: Iterable[Any]):
        return self._writer.writerow([neutralise_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream, **fmtparams) -> SafeCsvWriter:
    return SafeCsvWriter(stream, **fmtparams)
