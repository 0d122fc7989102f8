from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from worker.mapping.convert_text import ValueRejected
from worker.mapping.convert_time import date_converter, datetime_converter, komo_time, parse_date

FALLBACK = datetime(2026, 1, 1, 9, 30, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "1990-05-17",
        "1990/05/17",
        "1990-5-17",
        "17/05/1990",
        "17-05-1990",
        "17.05.1990",
        "19900517",
        "17 May 1990",
        "17th May 1990",
        "17 may, 1990",
        "17-May-1990",
        "May 17, 1990",
        "May 17th 1990",
        "17 MAY 1990",
        "1990-05-17T00:00:00.000Z",
    ],
)
def test_common_date_forms(text: str) -> None:
    assert parse_date(text) == date(1990, 5, 17)


def test_day_first_decides_ambiguous_dates() -> None:
    assert parse_date("01/02/1990") == date(1990, 2, 1)
    assert parse_date("01/02/1990", day_first=False) == date(1990, 1, 2)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("31/02/1990", "not a real date"),
        ("1990-13-01", "not a real date"),
        ("05/17/1990", "not a real date"),  # month-first under the day-first default: refused, not swapped
        ("17/05/90", "not a date in a known form"),
        ("yesterday", "not a date in a known form"),
        ("17 Maybe 1990", "not a date in a known form"),
        ("0999-01-01", "not a real date"),
    ],
)
def test_impossible_and_unreadable_dates_are_rejected(text: str, reason: str) -> None:
    with pytest.raises(ValueRejected) as raised:
        parse_date(text)
    assert raised.value.reason == reason


def test_a_birth_date_cannot_be_in_the_future() -> None:
    convert = date_converter(day_first=True, past_only=True)
    assert convert("1990-05-17") == "1990-05-17"
    assert convert(datetime.now(UTC).date().isoformat())  # today is allowed, in every time zone
    with pytest.raises(ValueRejected, match="in the future"):
        convert((datetime.now(UTC) + timedelta(days=3)).date().isoformat())
    assert date_converter(day_first=True, past_only=False)("2099-01-01") == "2099-01-01"


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2026-01-01T09:30:00Z", "2026-01-01T09:30:00.000Z"),
        ("2026-01-01T20:30:00+11:00", "2026-01-01T09:30:00.000Z"),
        ("2026-01-01 09:30:00.25", "2026-01-01T09:30:00.250Z"),
        ("2026-01-01", "2026-01-01T00:00:00.000Z"),
        ("01/01/2026", "2026-01-01T00:00:00.000Z"),
        ("1767259800", "2026-01-01T09:30:00.000Z"),
        ("1767259800000", "2026-01-01T09:30:00.000Z"),
        (1767259800, "2026-01-01T09:30:00.000Z"),
    ],
)
def test_datetimes_become_iso_utc(value: Any, iso: str) -> None:
    assert datetime_converter(assume=UTC)(value) == iso


def test_a_time_without_offset_is_read_in_the_hubs_zone() -> None:
    convert = datetime_converter(assume=ZoneInfo("Australia/Sydney"))
    assert convert("2026-01-01T20:30:00") == "2026-01-01T09:30:00.000Z"


@pytest.mark.parametrize("value", ["soon", "2026-02-30T00:00:00", True, {"a": 1}, "9" * 13 + "9", 1e20])
def test_what_is_not_a_time_is_rejected(value: Any) -> None:
    with pytest.raises(ValueRejected):
        datetime_converter(assume=UTC)(value)


def test_komo_time_reads_the_timestamp_else_falls_back() -> None:
    assert komo_time("2026-01-01T09:30:00.000Z", FALLBACK) == datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    assert komo_time("2026-01-01T09:30:00", FALLBACK).tzinfo is not None
    assert komo_time(None, FALLBACK) is FALLBACK
    assert komo_time("not a time", FALLBACK) is FALLBACK
    assert komo_time(1767259800, FALLBACK) is FALLBACK
    assert komo_time("0001-01-01T00:00:00+01:00", FALLBACK) is FALLBACK


def test_month_names_may_be_abbreviated() -> None:
    assert parse_date("17 Sept 1990") == date(1990, 9, 17)
    assert parse_date("Feb 1 2000") == date(2000, 2, 1)
