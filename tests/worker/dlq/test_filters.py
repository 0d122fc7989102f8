from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aio_pika
import pytest

from komo_braze.deadletter import DeadLetter
from tests.worker.dlq.letters import BASE_TIME, dead_letter, spec
from worker.dlq.filters import LetterFilter, parse_moment


def letter(n: int) -> DeadLetter:
    message = dead_letter(spec(n))
    return DeadLetter.from_message(message)


def test_no_filter_matches_every_letter() -> None:
    assert LetterFilter().is_everything
    assert all(LetterFilter().matches(letter(n)) for n in range(10))


@pytest.mark.parametrize(
    ("built", "expected"),
    [
        (LetterFilter.build(kinds=["braze_rejected"]), [0, 3, 6, 9]),
        (LetterFilter.build(kinds=["no_identifier", "unmapped_hub"], hubs=["hub-b"]), [4, 5]),
        (LetterFilter.build(workspaces=["client_b"]), [0, 5]),
        (LetterFilter.build(ids=["sub-000002", "sub-000007", "sub-999999"]), [2, 7]),
        (LetterFilter.build(since=BASE_TIME + timedelta(minutes=8)), [8, 9]),
        (LetterFilter.build(until=BASE_TIME + timedelta(minutes=1)), [0, 1]),
        (LetterFilter.build(hubs=["hub-c"], since=BASE_TIME + timedelta(minutes=7)), [7, 8]),
    ],
)
def test_a_letter_matches_when_it_passes_every_filter_given(built: LetterFilter, expected: list[int]) -> None:
    assert [n for n in range(10) if built.matches(letter(n))] == expected


def test_a_letter_without_a_failure_time_never_matches_a_time_filter() -> None:
    timeless = DeadLetter.from_message(aio_pika.Message(b"not json", headers={"x-error-kind": "invalid_submission"}))
    assert timeless.failed_at is None
    assert not LetterFilter.build(since=BASE_TIME).matches(timeless)
    assert LetterFilter.build(kinds=["invalid_submission"]).matches(timeless)


def test_moments_are_iso_times_or_ages() -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    assert parse_moment("2h", now) == now - timedelta(hours=2)
    assert parse_moment("7d", now) == now - timedelta(days=7)
    assert parse_moment("90s", now) == now - timedelta(seconds=90)
    assert parse_moment("2026-11-28T10:00:00Z") == datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
    assert parse_moment("2026-11-28") == datetime(2026, 11, 28, tzinfo=UTC)
    with pytest.raises(ValueError, match="age like 2h"):
        parse_moment("yesterday")


def test_contradictory_filters_are_refused() -> None:
    with pytest.raises(ValueError, match="later than"):
        LetterFilter.build(since=BASE_TIME, until=BASE_TIME - timedelta(days=1))
    with pytest.raises(ValueError, match="negative"):
        LetterFilter.build(limit=-1)
