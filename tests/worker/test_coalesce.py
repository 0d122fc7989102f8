from __future__ import annotations

import orjson
import pytest

from tests.worker.factories import submission
from worker.batch import Batch
from worker.coalesce import BatchLimits, Coalescer


def _coalescer(**limits: object) -> Coalescer[object]:
    return Coalescer("default", BatchLimits(**limits))  # type: ignore[arg-type]


def test_three_submissions_of_one_user_become_one_attribute_object_and_three_events() -> None:
    coalescer = _coalescer()
    coalescer.add(submission("s1", "u1", at_s=0, attributes={"team": "Swans", "first_name": "Jo"}), now=0)
    coalescer.add(submission("s3", "u1", at_s=20, attributes={"team": "Cats"}), now=0)
    coalescer.add(submission("s2", "u1", at_s=10, attributes={"team": "Lions", "last_name": "B"}), now=0)
    batch = coalescer.take(now=1.0)
    assert batch is not None
    body, index = batch.body()
    assert body["attributes"] == [{"external_id": "u1", "team": "Cats", "first_name": "Jo", "last_name": "B"}]
    assert [e["properties"]["submission_id"] for e in body["events"]] == ["s1", "s2", "s3"]
    assert [s.submission_id for s in index.attributes[0]] == ["s1", "s3", "s2"]
    assert [[s.submission_id for s in behind] for behind in index.events] == [["s1"], ["s2"], ["s3"]]
    assert batch.coalesced_count() == 2


def test_a_redelivered_submission_adds_no_second_event_but_travels_behind_the_first() -> None:
    coalescer = _coalescer()
    first, copy = submission("s1", "u1", handle="tag-1"), submission("s1", "u1", handle="tag-2")
    coalescer.add(first, now=0)
    coalescer.add(copy, now=0)
    batch = coalescer.take(now=0, force=True)
    assert batch is not None
    body, index = batch.body()
    assert len(body["events"]) == 1
    assert [s.handle for s in index.events[0]] == ["tag-1", "tag-2"]
    assert batch.object_count() == 2


def test_a_batch_waits_for_its_linger_time_unless_forced() -> None:
    coalescer = _coalescer(linger_s=0.25)
    assert coalescer.due_in(now=0) is None
    coalescer.add(submission("s1", "u1"), now=10.0)
    assert abs((coalescer.due_in(now=10.1) or 0.0) - 0.15) < 1e-9
    assert coalescer.take(now=10.1) is None
    batch = coalescer.take(now=10.25)
    assert batch is not None
    assert batch.users[0].value == "u1"
    coalescer.add(submission("s2", "u2"), now=11.0)
    assert coalescer.take(now=11.0, force=True) is not None


def test_a_full_batch_is_sealed_at_75_objects_in_all() -> None:
    coalescer = _coalescer()
    for n in range(40):  # each user: one attribute object and one event
        coalescer.add(submission(f"s{n}", f"u{n}"), now=0)
    first = coalescer.take(now=0)
    assert first is not None
    assert first.object_count() <= 75
    assert len(first.users) == 37
    assert coalescer.take(now=0) is None  # the rest lingers
    rest = coalescer.take(now=1, force=True)
    assert rest is not None
    assert len(rest.users) == 3


def test_per_array_mode_allows_75_in_each_array() -> None:
    coalescer = _coalescer(per_array=True)
    for n in range(80):
        coalescer.add(submission(f"s{n}", f"u{n}"), now=0)
    first = coalescer.take(now=0)
    assert first is not None
    body, _ = first.body()
    assert (len(body["attributes"]), len(body["events"])) == (75, 75)


def test_a_batch_never_exceeds_the_byte_limit() -> None:
    coalescer = _coalescer(max_bytes=2000)
    for n in range(20):
        coalescer.add(submission(f"s{n}", f"u{n}", attributes={"bio": "x" * 100}), now=0)
    sizes = []
    while (batch := coalescer.take(now=5, force=True)) is not None:
        body, _ = batch.body()
        sizes.append(len(orjson.dumps(body)))
    assert len(sizes) > 1
    assert max(sizes) <= 2000


def test_a_user_in_flight_waits_for_the_next_batch_and_keeps_their_order() -> None:
    coalescer = _coalescer()
    coalescer.add(submission("s1", "u1", at_s=0, attributes={"team": "Swans"}), now=0)
    in_flight = coalescer.take(now=0, force=True)
    assert in_flight is not None
    coalescer.add(submission("s2", "u1", at_s=5, attributes={"team": "Cats"}), now=1)
    coalescer.add(submission("s3", "u2", at_s=5), now=1)
    second = coalescer.take(now=2, force=True)
    assert second is not None
    assert [u.value for u in second.users] == ["u2"]  # u1 waits: their first batch is still in flight
    coalescer.release(in_flight, now=3)
    third = coalescer.take(now=3, force=True)
    assert third is not None
    body, _ = third.body()
    assert body["attributes"] == [{"external_id": "u1", "team": "Cats"}]


def test_discard_drops_held_submissions_and_keeps_the_rest() -> None:
    coalescer = _coalescer()
    for n in range(3):
        coalescer.add(submission(f"s{n}", f"u{n}"), now=0)
    dropped = coalescer.discard(lambda s: s.submission_id == "s1")
    assert [s.submission_id for s in dropped] == ["s1"]
    assert coalescer.held == 2
    batch = coalescer.take(now=0, force=True)
    assert batch is not None
    assert [u.value for u in batch.users] == ["u0", "u2"]


def _taken_u1_and_u2() -> tuple[Coalescer[object], Batch[object]]:
    """A coalescer that handed out one batch: s1 of u1 and s2 of u2."""
    coalescer = _coalescer()
    coalescer.add(submission("s1", "u1", at_s=0), now=0)
    coalescer.add(submission("s2", "u2", at_s=0), now=0)
    taken = coalescer.take(now=0, force=True)
    assert taken is not None
    return coalescer, taken


def test_a_batch_given_back_goes_out_again_ahead_of_its_users_newer_submissions() -> None:
    coalescer, taken = _taken_u1_and_u2()
    coalescer.add(submission("s3", "u1", at_s=5), now=0)  # u1 is busy: it waits
    coalescer.add(submission("s4", "u3", at_s=5), now=0)
    # another worker held u1: give u1's part back, send u2's
    coalescer.release(taken.without(lambda s: s.user.value == "u1"), now=0)
    coalescer.give_back(taken.without(lambda s: s.user.value != "u1"), now=0)
    assert coalescer.held == 3
    again = coalescer.take(now=0, force=True)
    assert again is not None
    assert [[s.submission_id for s in unit.ordered()] for unit in again.units] == [["s4"], ["s1", "s3"]]


def test_submissions_given_back_do_not_linger_a_second_time() -> None:
    coalescer, taken = _taken_u1_and_u2()
    coalescer.release(taken.without(lambda s: s.user.value == "u1"), now=0.1)
    coalescer.add(submission("s3", "u3", at_s=1), now=0.1)  # opens a batch that lingers from 0.1
    assert coalescer.due_in(now=0.1) == pytest.approx(coalescer.limits.linger_s)
    coalescer.give_back(taken.without(lambda s: s.user.value != "u1"), now=0.12)
    assert coalescer.due_in(now=0.12) == 0.0
    again = coalescer.take(now=0.12)
    assert again is not None
    assert sorted(s.submission_id for s in again.submissions) == ["s1", "s3"]
