"""DICOM DA / TM / DT parsing (pydicom.valuerep underneath) and date shifting."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from cases.imaging.dicomtime import (
    combine,
    parse_date,
    parse_datetime,
    parse_time,
    shift_date,
    shift_datetime,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20240131", date(2024, 1, 31)), ("2024.01.31", date(2024, 1, 31)), ("2024-01-31", date(2024, 1, 31)),
     (" 20240131 ", date(2024, 1, 31)), ("20240230", None), ("2024013", None), ("abcdefgh", None), ("", None),
     (None, None)],
)
def test_parse_date(text, expected) -> None:
    got = parse_date(value=text)
    assert got == expected
    assert got is None or type(got) is date  # a plain date, not pydicom's subclass


@pytest.mark.parametrize(
    ("text", "expected"),
    [("10", time(10)), ("1015", time(10, 15)), ("101530", time(10, 15, 30)),
     ("101530.123", time(10, 15, 30, 123000)), ("10:15:30", time(10, 15, 30)), ("2515", None), ("105", None),
     ("abc", None), ("", None)],
)
def test_parse_time(text, expected) -> None:
    assert parse_time(value=text) == expected


def test_leap_second_becomes_59() -> None:
    with pytest.warns(UserWarning, match="60"):
        assert parse_time(value="235960") == time(23, 59, 59)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("20240131101530", datetime(2024, 1, 31, 10, 15, 30)),
     ("20240131101530.5+0100", datetime(2024, 1, 31, 10, 15, 30, 500000)),  # offset dropped
     ("20240131", datetime(2024, 1, 31)),
     ("2024", None),  # no whole date: never invent 1 January
     ("20240131 101530", None), ("20240131101530junk", None), ("", None)],
)
def test_parse_datetime(text, expected) -> None:
    got = parse_datetime(value=text)
    assert got == expected
    assert got is None or got.tzinfo is None


def test_combine_and_shift() -> None:
    assert combine(date_value="20240131", time_value="0930") == datetime(2024, 1, 31, 9, 30)
    assert combine(date_value="20240131", time_value="") is None
    assert shift_date(value="20240131", days=-31) == "20231231"
    assert shift_date(value="not-a-date", days=3) == ""
    assert shift_datetime(value="20240131101530+0100", days=1) == "20240201101530+0100"
