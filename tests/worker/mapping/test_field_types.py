"""Each type's options: accepted values, and the line of a bad one."""

from __future__ import annotations

import pytest

from tests.worker.mapping.errors import HUB, assert_load_error
from tests.worker.mapping.samples import body, mapped, mapping

ATTRIBUTES = HUB + "    attributes:\n"  # attribute lines start at line 5

CASES = [
    (
        ATTRIBUTES + "      d:\n        to: d\n        type: date\n        day_first: usually\n",
        8,
        "day_first must be true or false",
    ),
    (ATTRIBUTES + "      b:\n        to: dob\n        past_only: false\n", 7, "past_only cannot be false"),
    (
        ATTRIBUTES + "      t:\n        to: t\n        type: datetime\n        timezone: Sydney/Australia\n",
        8,
        "unknown time zone 'Sydney/Australia'",
    ),
    (
        ATTRIBUTES + "      m:\n        to: phone\n        default_region: Oz\n",
        7,
        "default_region 'OZ' is not a country code",
    ),
    (
        ATTRIBUTES + "      g:\n        to: gender\n        values: {Mr: Male}\n",
        7,
        "a gender must be one of F, M, N, O, P",
    ),
    (ATTRIBUTES + "      g:\n        to: gender\n        values: [Mr]\n", 7, "values must be a map"),
    (
        ATTRIBUTES + "      o:\n        to: email_subscribe\n        false_means: opted_out\n",
        7,
        "false_means must be one of nothing, unsubscribed",
    ),
    (
        ATTRIBUTES + "      o:\n        to: email_subscribe\n        true_means: yes\n",
        7,
        "true_means must be one of opted_in, subscribed",
    ),
    (
        ATTRIBUTES + "      l:\n        to: l\n        type: list\n        mode: replace\n",
        8,
        "mode must be one of set, add",
    ),
    (
        ATTRIBUTES + "      l:\n        to: l\n        type: list\n        max_items: 501\n",
        8,
        "max_items must be a whole number from 1 to 500",
    ),
    (
        ATTRIBUTES + "      l:\n        to: l\n        type: list\n        separator: ''\n",
        8,
        "separator must be one or more characters",
    ),
    (
        ATTRIBUTES + "      n:\n        to: n\n        type: number\n        day_first: true\n",
        8,
        "unknown key 'day_first' in attribute 'n' (allowed: to, type)",
    ),
]


@pytest.mark.parametrize(("text", "line", "fragment"), CASES)
def test_a_bad_option_stops_the_load_at_its_line(text: str, line: int, fragment: str) -> None:
    assert_load_error(text, line, fragment)


def test_options_change_the_conversion() -> None:
    config = mapping(
        ATTRIBUTES
        + "      born: {to: komo_born, type: date, day_first: false}\n"
        + "      seen: {to: komo_seen, type: datetime, timezone: Australia/Sydney}\n"
        + "      mobile: {to: phone, default_region: NZ}\n"
        + "      title: {to: gender, values: {Mr: M, Mx: O}}\n"
        + "      optin: {to: email_subscribe, true_means: subscribed, false_means: unsubscribed}\n"
        + "      tags: {to: komo_tags, type: list, separator: ';', max_items: 2}\n"
    )
    result = mapped(
        config,
        body(born="05/17/1990", seen="2026-01-01 20:30", mobile="021 123 4567", title="Mx", optin="false", tags="a;b"),
    )
    assert result.attributes == {
        "email": "joe@bloggs.com",
        "komo_born": "1990-05-17",
        "komo_seen": "2026-01-01T09:30:00.000Z",
        "phone": "+64211234567",
        "gender": "O",
        "email_subscribe": "unsubscribed",
        "komo_tags": ["a", "b"],
    }
    assert mapped(config, body(tags="a;b;c")).rejected[0].reason == "more than 2 items"
