"""Parse and shift DICOM DA / TM / DT strings with ``pydicom.valuerep`` (DA, TM, DT).

What this module adds to pydicom: vendors write legal-but-varied forms, so old ACR-NEMA
separators ("10:15:30", "2024-01-31", "2024/01/31") are normalised first; a malformed value is
None instead of an exception; a DT must carry a whole date (pydicom would read "2024" as 1 January,
an invented day that would skew SUV decay); and the DT's UTC offset is dropped, because SUV only
needs differences between times of the same scanner clock (date shifting keeps the suffix verbatim).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

from pydicom.valuerep import DA, DT, TM

_DATE_SEPARATORS = re.compile(r"[.\-/]")
# pydicom matches only a prefix of a DT ("20240131 1015" would become midnight): insist on the whole form.
_DT_SHAPE = re.compile(r"\d{8,14}(\.\d{1,6})?([+-]\d{4})?")


def parse_date(*, value: object) -> date | None:
    """DA -> date, or None when absent or malformed."""
    text = _DATE_SEPARATORS.sub("", str(value or "").strip())
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        day = DA(text)
    except ValueError:
        return None
    return date(day.year, day.month, day.day)


def parse_time(*, value: object) -> time | None:
    """TM -> time (HH, HHMM, HHMMSS, HHMMSS.FFFFFF, or with colons), or None.

    A leap second (60) becomes 59, as pydicom does (with a warning), since Python has no 60.
    """
    text = str(value or "").strip().replace(":", "")
    if not text:
        return None
    try:
        moment = TM(text)
    except ValueError:
        return None
    return time(moment.hour, moment.minute, moment.second, moment.microsecond)


def parse_datetime(*, value: object) -> datetime | None:
    """DT -> naive datetime (UTC offset dropped), or None. A date-only DT gives midnight."""
    text = str(value or "").strip()
    if not _DT_SHAPE.fullmatch(text):
        return None
    try:
        moment = DT(text)
    except ValueError:
        return None
    return datetime(moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
                    moment.microsecond)


def combine(*, date_value: object, time_value: object) -> datetime | None:
    """A DA and a TM element together, or None when either is missing."""
    day = parse_date(value=date_value)
    moment = parse_time(value=time_value)
    return datetime.combine(day, moment) if day and moment else None


def shift_date(*, value: str, days: int) -> str:
    """Shift a DA string by ``days``; malformed values are emptied rather than leaked."""
    day = parse_date(value=value)
    return (day + timedelta(days=days)).strftime("%Y%m%d") if day else ""


def shift_datetime(*, value: str, days: int) -> str:
    """Shift the date part of a DT string, keeping its time and offset text as written."""
    text = str(value or "").strip()
    day = parse_date(value=text[:8])
    if day is None:
        return ""
    return (day + timedelta(days=days)).strftime("%Y%m%d") + text[8:]
