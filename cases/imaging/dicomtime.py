"""Parse and shift DICOM DA / TM / DT strings.

Our own small parsers because vendors write legal-but-varied forms: partial times
("1015"), fractional seconds, old ACR-NEMA separators ("10:15:30", "2024.01.31") and
DT values with a UTC offset suffix ("&ZZXX"), which we drop: SUV only needs differences
between times of the same scanner clock, and date shifting keeps the suffix verbatim.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta

_OFFSET = re.compile(r"[+-]\d{4}$")


def parse_date(*, value: object) -> date | None:
    """DA -> date, or None when absent or malformed."""
    text = re.sub(r"[.\-/]", "", str(value or "").strip())
    if len(text) != 8 or not text.isdigit():
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def parse_time(*, value: object) -> time | None:
    """TM -> time (HH, HHMM, HHMMSS, HHMMSS.FFFFFF, or with colons), or None."""
    text = str(value or "").strip().replace(":", "")
    if not text:
        return None
    whole, _, fraction = text.partition(".")
    if not whole.isdigit() or len(whole) not in (2, 4, 6) or (fraction and not fraction.isdigit()):
        return None
    hour, minute, second = int(whole[0:2]), int(whole[2:4] or 0), int(whole[4:6] or 0)
    micro = int((fraction + "000000")[:6]) if fraction else 0
    second = min(second, 59)  # DICOM allows a leap second 60; Python does not
    try:
        return time(hour, minute, second, micro)
    except ValueError:
        return None


def parse_datetime(*, value: object) -> datetime | None:
    """DT -> naive datetime (UTC offset dropped), or None. A date-only DT gives midnight."""
    text = _OFFSET.sub("", str(value or "").strip())
    if len(text) < 8:
        return None
    day = parse_date(value=text[:8])
    if day is None:
        return None
    rest = text[8:]
    moment = parse_time(value=rest) if rest else time(0)
    return None if moment is None else datetime.combine(day, moment)


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
