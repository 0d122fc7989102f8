from __future__ import annotations

import pytest

from worker.mapping.convert_consent import subscription_converter, subscription_group_converter
from worker.mapping.convert_text import SKIP, ValueRejected

GROUP = "6f1c2a0e-0000-4000-8000-000000000001"


def test_a_ticked_box_opts_in() -> None:
    convert = subscription_converter(true_means="opted_in", false_means="nothing")
    assert convert("true") == "opted_in"
    assert convert("yes") == "opted_in"


def test_an_unticked_box_sends_nothing_by_default() -> None:
    convert = subscription_converter(true_means="opted_in", false_means="nothing")
    assert convert("false") is SKIP


def test_false_means_unsubscribed_sends_the_unticked_box() -> None:
    convert = subscription_converter(true_means="subscribed", false_means="unsubscribed")
    assert convert("false") == "unsubscribed"
    assert convert("1") == "subscribed"


def test_a_box_that_is_neither_ticked_nor_unticked_is_rejected() -> None:
    with pytest.raises(ValueRejected, match="not a yes/no value"):
        subscription_converter(true_means="opted_in", false_means="nothing")("maybe")


def test_subscription_groups_name_their_group() -> None:
    convert = subscription_group_converter(group_id=GROUP, false_means="nothing")
    assert convert("on") == {"subscription_group_id": GROUP, "subscription_state": "subscribed"}
    assert convert("off") is SKIP
    unsubscribing = subscription_group_converter(group_id=GROUP, false_means="unsubscribed")
    assert unsubscribing("off") == {"subscription_group_id": GROUP, "subscription_state": "unsubscribed"}


def test_each_group_entry_is_a_fresh_dict() -> None:
    convert = subscription_group_converter(group_id=GROUP, false_means="nothing")
    first = convert("true")
    first["subscription_state"] = "changed by a later stage"
    assert convert("true")["subscription_state"] == "subscribed"
