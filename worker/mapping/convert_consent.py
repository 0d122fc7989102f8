"""Converters for consent: ``email_subscribe``/``push_subscribe`` and Braze subscription groups.

An unticked box means "no consent given here", not "withdraw consent": by default it sends nothing,
so a form without a box never unsubscribes anyone. ``false_means: unsubscribed`` changes that for
forms whose box really is the user's current choice.
"""

from __future__ import annotations

from typing import Any, Final

from worker.mapping.convert_text import SKIP, Converter, to_boolean

SUBSCRIBE_ATTRIBUTES: Final = frozenset({"email_subscribe", "push_subscribe"})
SUBSCRIPTION_STATES: Final = frozenset({"opted_in", "subscribed", "unsubscribed"})
TRUE_STATES: Final = ("opted_in", "subscribed")
FALSE_MEANINGS: Final = ("nothing", "unsubscribed")


def subscription_converter(*, true_means: str, false_means: str) -> Converter:
    """A ticked box becomes ``true_means`` (``opted_in`` by default); an unticked one ``false_means``."""
    unticked: Any = SKIP if false_means == "nothing" else false_means

    def to_subscription(value: Any) -> Any:
        return true_means if to_boolean(value) else unticked

    return to_subscription


def subscription_group_converter(*, group_id: str, false_means: str) -> Converter:
    """One entry of ``subscription_groups``; the mapper gathers the entries of all group fields."""
    send_unticked = false_means == "unsubscribed"

    def to_group_entry(value: Any) -> Any:
        if to_boolean(value):
            return {"subscription_group_id": group_id, "subscription_state": "subscribed"}
        if send_unticked:
            return {"subscription_group_id": group_id, "subscription_state": "unsubscribed"}
        return SKIP

    return to_group_entry
