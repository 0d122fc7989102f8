"""The compiled scan gives the generic scan's answer, for any attribute object."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from braze_sim.scan import compile_scanner, fast_scan
from braze_sim.standard import STANDARD_ATTRIBUTES
from braze_sim.validation import scan_attribute_object
from tests.braze_sim import examples

KEYS = st.sampled_from(
    [*STANDARD_ATTRIBUTES, "external_id", "braze_id", "user_alias", "_update_existing_only", "_merge_objects",
     "team", "score", "tags", "$bad", "k" * 256, "pet"]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            "",
            "AU",
            "Narnia",
            "opted_in",
            "subscribed",
            "F",
            "en",
            "1988-02-14",
            "1988-02-30",
            "jane@example.com",
            "not-an-email",
            "Australia/Sydney",
            "x" * 256,
        ]
    ),
)
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=3),
    st.fixed_dictionaries({"add": st.lists(SCALARS, max_size=2)}),
    st.fixed_dictionaries({"inc": st.one_of(st.integers(), st.floats(allow_nan=False))}),
    st.dictionaries(st.sampled_from(["name", "a.b", "$x"]), SCALARS, max_size=2),
    st.just({"alias_name": "n", "alias_label": "l"}),
    st.just([{"subscription_group_id": "g", "subscription_state": "subscribed"}]),
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=8))
def test_compiled_and_generic_scans_agree(obj: dict[str, Any]) -> None:
    assert compile_scanner(tuple(obj))(obj) == scan_attribute_object(obj)


def test_documented_objects_scan_alike_and_shapes_are_reused() -> None:
    for obj in [*examples.USER_ATTRIBUTES_EXAMPLE, *examples.TRACK_BY_EMAIL["attributes"]]:
        assert fast_scan(obj) == scan_attribute_object(obj)
        assert fast_scan(dict(obj)) == scan_attribute_object(obj)
