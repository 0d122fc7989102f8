from __future__ import annotations

from tests.worker.factories import submission
from worker.batch import Batch, Unit
from worker.mapping.model import IdentifierKind, UserKey


def _unit(user: str, *ids_and_times: tuple[str, float]) -> Unit[object]:
    return Unit(
        UserKey(IdentifierKind.EXTERNAL_ID, user),
        [submission(sid, user, at_s=at, attributes={"seq": at}) for sid, at in ids_and_times],
    )


def test_a_batch_body_puts_each_users_attribute_object_before_their_events() -> None:
    batch = Batch("default", [_unit("u1", ("a", 1), ("b", 2)), _unit("u2", ("c", 0))])
    body, index = batch.body()
    assert [a["external_id"] for a in body["attributes"]] == ["u1", "u2"]
    assert [e["properties"]["submission_id"] for e in body["events"]] == ["a", "b", "c"]
    assert [s.submission_id for s in index.behind("attributes", 0)] == ["a", "b"]
    assert [s.submission_id for s in index.behind("events", 2)] == ["c"]
    assert index.behind("events", 9) == []
    assert index.behind("purchases", 0) == []
    assert batch.object_count() == 5


def test_halves_split_between_users_never_inside_one() -> None:
    batch = Batch("default", [_unit(f"u{n}", (f"s{n}", n), (f"t{n}", n + 0.5)) for n in range(5)])
    first, second = batch.halves()
    assert [u.user.value for u in first.units] == ["u0", "u1"]
    assert [u.user.value for u in second.units] == ["u2", "u3", "u4"]
    assert all(len(u.submissions) == 2 for u in [*first.units, *second.units])


def test_a_user_alone_is_split_into_their_submissions_oldest_first_copies_together() -> None:
    unit = _unit("u1", ("b", 2), ("a", 1), ("b", 2))
    alone = unit.alone()
    assert [[s.submission_id for s in u.submissions] for u in alone] == [["a"], ["b", "b"]]


def test_without_drops_submissions_and_units_left_empty() -> None:
    batch = Batch("default", [_unit("u1", ("a", 1), ("b", 2)), _unit("u2", ("c", 0))])
    kept = batch.without(lambda s: s.submission_id in {"a", "c"})
    assert [u.user.value for u in kept.units] == ["u1"]
    assert [s.submission_id for s in kept.submissions] == ["b"]
