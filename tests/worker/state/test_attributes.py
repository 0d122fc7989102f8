"""Which values of a user's attribute object are sent, given what Braze last accepted for them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.worker.factories import T0, submission
from worker.batch import Submission, Unit
from worker.mapping.model import UserKey
from worker.state import value_digest
from worker.state.attributes import compared, sendable

T0_MS = int(T0.timestamp() * 1000)
#: the digest an earlier version recorded for every attribute of a hub without ``skip_unchanged`` (the worker now
#: keeps the time alone there); no value's digest is equal to it
NO_DIGEST = "-"


def _unit(*submissions: Submission[object], skip_unchanged: bool = False) -> Unit[object]:
    if skip_unchanged:
        for s in submissions:
            s.mapped = dataclasses.replace(s.mapped, skip_unchanged=True)
    return Unit(submissions[0].user, list(submissions))


def test_with_nothing_seen_everything_is_sent_and_recorded_with_its_komo_time() -> None:
    result = sendable(_unit(submission("s1", "joe", at_s=2, attributes={"team": "Blues", "city": "Perth"})), {})
    assert result.attributes == {"external_id": "joe", "team": "Blues", "city": "Perth"}
    assert result.record == {"team": T0_MS + 2000, "city": T0_MS + 2000}  # times alone: no digest kept
    assert (result.older, result.unchanged) == (0, 0)


def test_a_value_older_than_the_one_accepted_is_held_back_and_a_newer_one_is_sent() -> None:
    unit = _unit(submission("s1", "joe", at_s=2, attributes={"team": "Blues", "city": "Perth"}))
    result = sendable(unit, {"team": (T0_MS + 3000, NO_DIGEST), "city": (T0_MS + 1000, NO_DIGEST)})
    assert result.attributes == {"external_id": "joe", "city": "Perth"}
    assert result.record == {"city": T0_MS + 2000}
    assert result.older == 1


def test_merged_submissions_give_each_attribute_the_time_of_the_submission_that_set_it() -> None:
    unit = _unit(
        submission("s1", "joe", at_s=1, attributes={"team": "Blues", "city": "Perth"}),
        submission("s2", "joe", at_s=5, attributes={"team": "Reds"}),
    )
    result = sendable(unit, {"city": (T0_MS + 3000, NO_DIGEST)})
    assert result.attributes == {"external_id": "joe", "team": "Reds"}
    assert result.record == {"team": T0_MS + 5000}


def test_with_skip_unchanged_an_equal_value_is_held_back_but_its_newer_time_recorded() -> None:
    unit = _unit(submission("s1", "joe", at_s=4, attributes={"team": "Blues", "city": "Perth"}), skip_unchanged=True)
    seen = {"team": (T0_MS, value_digest("Blues")), "city": (T0_MS, value_digest("Sydney"))}
    result = sendable(unit, seen)
    assert result.attributes == {"external_id": "joe", "city": "Perth"}
    assert result.record == {
        "team": (T0_MS + 4000, value_digest("Blues")),
        "city": (T0_MS + 4000, value_digest("Perth")),
    }
    assert result.unchanged == 1


def test_an_object_left_with_only_its_identifier_is_not_sent() -> None:
    unit = _unit(submission("s1", "joe", at_s=4, attributes={"team": "Blues"}), skip_unchanged=True)
    result = sendable(unit, {"team": (T0_MS, value_digest("Blues"))})
    assert result.attributes is None
    assert result.unchanged == 1


def test_an_object_that_only_ever_held_its_identifier_is_still_sent() -> None:
    result = sendable(_unit(submission("s1", "joe")), {"team": (T0_MS, NO_DIGEST)})
    assert result.attributes == {"external_id": "joe"}


def test_identifiers_steering_keys_and_operations_are_always_sent() -> None:
    s = submission(
        "s1",
        "joe@example.com",
        at_s=1,
        attributes={"_update_existing_only": False, "komo_interests": {"add": ["golf"]}, "visits": {"inc": 1}},
    )
    s.mapped = dataclasses.replace(s.mapped, user=UserKey(s.user.kind.EMAIL, "joe@example.com"))
    s.mapped.attributes["email"] = "joe@example.com"
    later = (T0_MS + 9000, NO_DIGEST)
    seen = dict.fromkeys(("external_id", "email", "_update_existing_only", "komo_interests", "visits"), later)
    result = sendable(_unit(s), seen)
    assert result.attributes == s.mapped.attributes
    assert result.older == 0


_NAMES = ("external_id", "email", "team", "city", "visits", "komo_interests", "_update_existing_only")
_VALUES = st.one_of(
    st.sampled_from(["Blues", "Reds", "Perth", None, 3, True]),
    st.just({"inc": 1}),
    st.just({"add": ["golf"]}),
)


#: what was accepted, in each form a state may hold: a time alone, a pair, a pair from JSON (a list)
_FORMS: dict[str, Callable[[int], Any]] = {
    "time": lambda t: t,
    "pair": lambda t: (t, NO_DIGEST),
    "list": lambda t: [t, NO_DIGEST],
}


@given(
    attributes=st.dictionaries(st.sampled_from(_NAMES[2:]), _VALUES, max_size=5),
    seen_offsets_s=st.dictionaries(
        st.sampled_from(_NAMES), st.tuples(st.integers(-3, 3), st.sampled_from(sorted(_FORMS))), max_size=6
    ),
    at_s=st.integers(0, 3),
)
def test_a_unit_newer_than_everything_seen_is_sent_as_if_each_value_were_compared(
    attributes: dict[str, object], seen_offsets_s: dict[str, tuple[int, str]], at_s: int
) -> None:
    """The shortcut for one-submission units equals the comparison value by value, whatever was seen, in
    whichever form (times alone, or pairs an earlier version wrote)."""
    unit = _unit(submission("s1", "joe", at_s=at_s, attributes=attributes))
    seen = {name: _FORMS[form](T0_MS + 1000 * offset) for name, (offset, form) in seen_offsets_s.items()}
    quick = sendable(unit, seen)
    slow = compared(unit, unit.attribute_object(), seen, skip_unchanged=False)
    assert (quick.attributes, quick.record, quick.sent, quick.older, quick.unchanged) == (
        slow.attributes,
        slow.record,
        slow.sent,
        slow.older,
        slow.unchanged,
    )


def test_a_state_an_earlier_version_wrote_is_read_as_it_is() -> None:
    """Pairs with the old placeholder digest, as JSON lists, mixed with times alone: older held back."""
    unit = _unit(submission("s1", "joe", at_s=2, attributes={"team": "Blues", "city": "Perth", "dob": "1990"}))
    seen = {"team": [T0_MS + 3000, NO_DIGEST], "city": [T0_MS + 1000, NO_DIGEST], "dob": T0_MS}
    result = sendable(unit, seen)  # type: ignore[arg-type]
    assert result.attributes == {"external_id": "joe", "city": "Perth", "dob": "1990"}
    assert result.record == {"city": T0_MS + 2000, "dob": T0_MS + 2000}
    assert result.older == 1
