"""Converters for dates and times, and reading Komo's own ``timestamp``.

Dates are accepted in the forms people and form builders write (``1990-05-17``, ``17/05/1990``,
``17 May 1990``, ``May 17, 1990``, ``19900517``, an ISO date-time) and become ``YYYY-MM-DD``; a date
written with two-digit years or a day that does not exist is rejected rather than guessed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from komo_braze.envelope import format_time
from worker.mapping.convert_text import Converter, ValueRejected

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",),
            ("june", "jun"), ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"),
            ("october", "oct"), ("november", "nov"), ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}  # fmt: skip

_YEAR_FIRST = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?")
_YEAR_LAST = re.compile(r"(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_DAY_MONTH_NAME = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?[ -]+([a-z]+)\.?,?[ -]+(\d{4})", re.IGNORECASE)
_MONTH_NAME_DAY = re.compile(r"([a-z]+)\.?[ -]+(\d{1,2})(?:st|nd|rd|th)?,?[ -]+(\d{4})", re.IGNORECASE)


def parse_date(text: str, *, day_first: bool = True) -> date:
    """A date in one of the accepted forms; raises :class:`ValueRejected`."""
    if match := _YEAR_FIRST.fullmatch(text):
        year, month, day = match.groups()
    elif match := _YEAR_LAST.fullmatch(text):
        first, second, year = match.groups()
        day, month = (first, second) if day_first else (second, first)
    elif match := _COMPACT.fullmatch(text):
        year, month, day = match.groups()
    elif match := _DAY_MONTH_NAME.fullmatch(text):
        day, month, year = match.group(1), _month_number(match.group(2)), match.group(3)
    elif match := _MONTH_NAME_DAY.fullmatch(text):
        month, day, year = _month_number(match.group(1)), match.group(2), match.group(3)
    else:
        raise ValueRejected("not a date in a known form")
    try:
        parsed = date(int(year), int(month), int(day))
    except ValueError:
        raise ValueRejected("not a real date") from None
    if parsed.year < 1000:
        raise ValueRejected("not a real date")
    return parsed


def _month_number(name: str) -> str:
    number = _MONTHS.get(name.lower())
    if number is None:
        raise ValueRejected("not a date in a known form")
    return str(number)


def date_converter(*, day_first: bool, past_only: bool) -> Converter:
    """``past_only`` (always on for ``dob``) rejects dates after today, allowing for time zones ahead of UTC."""

    def to_date(value: Any) -> str:
        if type(value) is not str:
            raise ValueRejected("not a date")
        parsed = parse_date(value, day_first=day_first)
        if past_only and parsed > (datetime.now(UTC) + timedelta(days=1)).date():
            raise ValueRejected("a date in the future")
        return parsed.isoformat()

    return to_date


def parse_datetime(value: Any, assume: tzinfo = UTC) -> datetime:
    """An ISO-8601 time (or a date, or epoch seconds or milliseconds) as an aware UTC datetime."""
    if isinstance(value, bool):
        raise ValueRejected("not a date-time")
    if isinstance(value, int | float) or (type(value) is str and value.isdigit() and len(value) in (10, 13)):
        seconds = float(value)
        if seconds > 1e11:  # more digits than epoch seconds will have for millennia: milliseconds
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueRejected("not a date-time") from None
    if type(value) is not str:
        raise ValueRejected("not a date-time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = datetime.combine(parse_date(value), datetime.min.time())
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=assume)
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueRejected("not a date-time") from None


def datetime_converter(*, assume: tzinfo) -> Converter:
    """``assume``: the zone of a time written without an offset (UTC unless the hub says otherwise)."""

    def to_datetime(value: Any) -> str:
        moment = parse_datetime(value, assume)
        if moment.year < 1000:
            raise ValueRejected("not a date-time")
        return format_time(moment)

    return to_datetime


def komo_time(value: Any, fallback: datetime) -> datetime:
    """Komo's ``timestamp`` of a submission, or ``fallback`` (when it was received) if it has none."""
    if type(value) is str:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return fallback
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        try:
            return moment.astimezone(UTC)
        except (OverflowError, ValueError):
            return fallback
    return fallback
