"""Load-time errors in a hub's attributes, constants and event, and what those sections accept."""

from __future__ import annotations

import pytest

from tests.worker.mapping.errors import HUB, assert_load_error
from tests.worker.mapping.samples import body, mapped, mapping

GROUP = "6f1c2a0e-0000-4000-8000-000000000001"
ATTRIBUTES = HUB + "    attributes:\n"  # attribute lines start at line 5

CASES = [
    # attributes
    (ATTRIBUTES + "      a: {to: $a}\n", 5, "starts with '$', which Braze refuses"),
    (ATTRIBUTES + "      a: " + "n" * 256 + "\n", 5, "is 256 characters long; Braze allows 255"),
    (ATTRIBUTES + "      a: {to: ''}\n", 5, "to must not be empty"),
    (ATTRIBUTES + "      a: x\n      b: y\n      c: x\n", 7, "fields 'a' (line 5) and 'c' both set 'x'"),
    (ATTRIBUTES + "      a: {to: x, type: text}\n", 5, "unknown type 'text' (types: string, number"),
    (
        ATTRIBUTES + "      a: {to: x, type: string, max: 3}\n",
        5,
        "unknown key 'max' in attribute 'a' (allowed: to, type)",
    ),
    (ATTRIBUTES + "      a:\n        to: x\n        tpye: number\n", 7, "unknown key 'tpye'"),
    (ATTRIBUTES + "      a: [x, y]\n", 5, "attribute 'a' must be text"),
    (ATTRIBUTES + "      '': x\n", 5, "a Komo field name must not be empty"),
    (ATTRIBUTES + "      id: external_id\n", 5, "'external_id' is not an attribute a field may set"),
    (ATTRIBUTES + "      groups: subscription_groups\n", 5, "is not an attribute a field may set"),
    (ATTRIBUTES + "      born: {to: dob, type: string}\n", 5, "Braze's 'dob' takes type date, not string"),
    (ATTRIBUTES + "      cc: {to: country, type: string}\n", 5, "takes type country"),
    (
        ATTRIBUTES + "      optin: {to: newsletter, type: subscription}\n",
        5,
        "type subscription sets email_subscribe or push_subscribe",
    ),
    (ATTRIBUTES + "      sms: {to: sms, type: subscription_group, group_id: " + GROUP + "}\n", 5, "it takes no 'to'"),
    (ATTRIBUTES + "      sms: {type: subscription_group}\n", 5, "attribute 'sms' needs 'group_id'"),
    (
        ATTRIBUTES + "      sms: {type: subscription_group, group_id: sms-group}\n",
        5,
        "group_id must be the subscription group's id",
    ),
    (
        ATTRIBUTES
        + f"      sms: {{type: subscription_group, group_id: {GROUP}}}\n"
        + f"      sms2: {{type: subscription_group, group_id: {GROUP}}}\n",
        6,
        "both set 'subscription_groups'",
    ),
    # constants
    (
        ATTRIBUTES + "      source: komo_source\n    constants:\n      komo_source: komo\n",
        7,
        "constant 'komo_source' is also set by field 'source' (line 5)",
    ),
    (HUB + "    constants:\n      email: all@bloggs.com\n", 5, "'email' cannot be a constant"),
    (HUB + "    constants:\n      braze_id: x\n", 5, "'braze_id' cannot be a constant"),
    (HUB + "    constants:\n      $source: komo\n", 5, "starts with '$'"),
    (HUB + "    constants:\n      country: Atlantis\n", 5, "constant 'country': not a known country"),
    (
        HUB + "    constants:\n      email_subscribe: yes\n",
        5,
        "email_subscribe must be one of opted_in, subscribed, unsubscribed",
    ),
    (HUB + "    constants:\n      komo_source:\n", 5, "constant 'komo_source' must be text, a number"),
    (HUB + "    constants:\n      komo_source: {a: 1}\n", 5, "constant 'komo_source' must be text, a number"),
    (HUB + "    constants:\n      komo_tags: [a, {b: 1}]\n", 5, "constant 'komo_tags' must be text"),
    (HUB + "    constants:\n      komo_source: " + "s" * 256 + "\n", 5, "longer than 255 characters"),
    (HUB + "    constants:\n      komo_weight: .nan\n", 5, "must be a finite number"),
    # event
    (HUB + "    event: {properties: [site_id]}\n", 4, "event needs 'name'"),
    (HUB + "    event: {name: e, time: timestamp}\n", 4, "unknown key 'time' in event"),
    (HUB + "    event: {name: $submitted}\n", 4, "event name '$submitted' starts with '$'"),
    (
        HUB + "    event:\n      name: e\n      properties: site_id\n",
        6,
        "properties must be a list of Komo fields or a map",
    ),
    (HUB + "    event:\n      name: e\n      properties: [site_id, time]\n", 6, "'time' is reserved by Braze"),
    (HUB + "    event:\n      name: e\n      properties:\n        when: event_name\n", 7, "'event_name' is reserved"),
    (HUB + "    event:\n      name: e\n      properties:\n        a: $a\n", 7, "property name '$a' starts with '$'"),
    (
        HUB + "    event:\n      name: e\n      properties:\n        a: x\n        b: x\n",
        8,
        "two fields set the property 'x'",
    ),
    (
        HUB + "    event:\n      name: e\n      properties:\n        optin: {to: optin, type: subscription}\n",
        7,
        "cannot be an event property",
    ),
    (
        HUB + "    event:\n      name: e\n      properties:\n        tags: {to: tags, type: list, mode: add}\n",
        7,
        "mode add is for attributes",
    ),
    (
        HUB + "    event:\n      name: e\n      properties: [site_id, {card_id: [x]}]\n",
        6,
        "a property's field must be text",
    ),
]


@pytest.mark.parametrize(("text", "line", "fragment"), CASES)
def test_a_field_mistake_stops_the_load_at_its_line(text: str, line: int, fragment: str) -> None:
    assert_load_error(text, line, fragment)


def test_standard_attributes_take_their_type_without_saying_so() -> None:
    config = mapping(ATTRIBUTES + "      email: email\n      mobile: phone\n      born: dob\n      cc: country\n")
    result = mapped(config, body(email="Joe@Bloggs.com", mobile="+61 412 345 678", born="17/05/1990", cc="Australia"))
    assert result.attributes == {
        "email": "joe@bloggs.com",
        "phone": "+61412345678",
        "dob": "1990-05-17",
        "country": "AU",
    }


def test_constants_of_standard_attributes_are_converted_at_load() -> None:
    config = mapping(
        HUB + "    constants:\n      country: Australia\n      email_subscribe: subscribed\n      gender: female\n"
    )
    assert mapped(config, body()).attributes == {
        "email": "joe@bloggs.com",
        "country": "AU",
        "email_subscribe": "subscribed",
        "gender": "F",
    }


def test_custom_constants_keep_their_yaml_types() -> None:
    text = HUB + (
        "    constants:\n      komo_source: komo\n      komo_version: 3\n      komo_member: true\n"
        "      komo_launched: 2026-01-01\n      komo_tags: [summer, quiz]\n      komo_country: NO\n"
    )
    attributes = mapped(mapping(text), body()).attributes
    assert attributes["komo_source"] == "komo"
    assert attributes["komo_version"] == 3
    assert attributes["komo_member"] is True
    assert attributes["komo_launched"] == "2026-01-01"
    assert attributes["komo_tags"] == ["summer", "quiz"]
    assert attributes["komo_country"] is False  # a custom constant is plain YAML: quote "NO" to mean Norway


def test_each_submission_gets_its_own_copy_of_a_list_constant() -> None:
    config = mapping(HUB + "    constants:\n      komo_tags: [summer]\n")
    first = mapped(config, body())
    first.attributes["komo_tags"].append("changed by a later stage")
    assert mapped(config, body()).attributes["komo_tags"] == ["summer"]


def test_event_properties_may_be_renamed_and_typed() -> None:
    text = (
        HUB
        + "    event:\n      name: e\n      properties:\n"
        + "        card_name: card\n        score: {to: score, type: integer}\n"
    )
    event = mapped(mapping(text), body()).event
    assert event is not None
    assert event["properties"] == {"card": "Footy Tipping Quiz", "score": 1}
