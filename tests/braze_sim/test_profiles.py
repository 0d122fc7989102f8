"""Profiles as Braze holds them after the accepted objects: merging, arrays, ``inc``, null, and
identity by external_id, braze_id, alias, email and phone with ``_update_existing_only``."""

from __future__ import annotations

from braze_sim.testing import RunningSim
from tests.braze_sim import examples
from tests.braze_sim.helpers import BrazeCaller, attrs


async def test_two_updates_for_one_user_merge(braze: BrazeCaller, sim: RunningSim) -> None:
    await braze.track(attrs({"external_id": "u1", "first_name": "Ada", "team": "Swans", "visits": 1,
                             "tags": ["a", "b"], "country": "AU", "email": "ada@example.com"}))  # fmt: skip
    await braze.track(attrs({"external_id": "u1", "last_name": "Lovelace", "team": None, "visits": {"inc": 2},
                             "tags": {"add": ["c", "a"], "remove": ["b"]}, "country": "New Zealand"}))  # fmt: skip
    profile = await sim.client.profile(external_id="u1")
    assert profile is not None
    assert profile["attributes"] == {"first_name": "Ada", "last_name": "Lovelace", "country": "NZ"}
    assert profile["custom_attributes"] == {"visits": 3, "tags": ["c", "a"]}
    assert profile["email"] == "ada@example.com"
    assert len(await sim.client.profiles()) == 1


async def test_a_plain_array_replaces_and_keeps_each_value_once(braze: BrazeCaller, sim: RunningSim) -> None:
    await braze.track(attrs({"external_id": "u1", "food": ["pizza"]}))
    await braze.track(attrs({"external_id": "u1", "food": ["hotdog", "hotdog", "hotdog", "pizza"]}))
    profile = await sim.client.profile(external_id="u1")
    assert profile is not None
    assert profile["custom_attributes"]["food"] == ["hotdog", "pizza"]


async def test_inc_starts_from_zero_and_null_removes(braze: BrazeCaller, sim: RunningSim) -> None:
    await braze.track(attrs({"external_id": "u1", "score": {"inc": 5}, "first_name": "Ada"}))
    await braze.track(attrs({"external_id": "u1", "score": {"inc": -2}, "first_name": None}))
    profile = await sim.client.profile(external_id="u1")
    assert profile is not None
    assert profile["custom_attributes"] == {"score": 3}
    assert profile["attributes"] == {}


async def test_standard_attributes_as_braze_stores_them(braze: BrazeCaller, sim: RunningSim) -> None:
    answer = await braze.track(attrs({"external_id": "u1", "country": "Narnia", "gender": "f", "language": "EN",
                                      "time_zone": "Not/AZone", "dob": "1990-01-31"}))  # fmt: skip
    assert "errors" not in answer.body
    profile = await sim.client.profile(external_id="u1")
    assert profile is not None
    assert profile["attributes"] == {"gender": "F", "language": "en", "dob": "1990-01-31"}  # unknowns dropped


async def test_subscription_groups_and_nested_objects(braze: BrazeCaller, sim: RunningSim) -> None:
    await braze.track(examples.TRACK_SUBSCRIPTION_GROUPS)
    await braze.track(
        attrs({"external_id": "user_identifier", "pet": {"name": "Rex", "born": {"$time": "2020-01-01"}}})
    )
    await braze.track(attrs({"external_id": "user_identifier", "_merge_objects": True, "pet": {"breed": "kelpie"}}))
    profile = await sim.client.profile(external_id="user_identifier")
    assert profile is not None
    assert profile["subscription_groups"] == {
        "subscription_group_identifier_1": "unsubscribed",
        "subscription_group_identifier_2": "subscribed",
        "subscription_group_identifier_3": "subscribed",
    }
    assert profile["attributes"]["email_subscribe"] == "subscribed"
    assert profile["custom_attributes"]["pet"] == {"name": "Rex", "born": {"$time": "2020-01-01"}, "breed": "kelpie"}


async def test_an_alias_needs_update_existing_only_false_to_create(braze: BrazeCaller, sim: RunningSim) -> None:
    alias = {"alias_name": "device123", "alias_label": "my_device_identifier"}
    answer = await braze.track(attrs({"user_alias": alias, "first_name": "Alice"}))
    assert answer.body == {"message": "success", "attributes_processed": 1}  # accepted, but creates nobody
    assert await sim.client.profiles() == []
    await braze.track(attrs({"user_alias": alias, "_update_existing_only": False, "first_name": "Alice"}))
    await braze.track(attrs({"user_alias": alias, "last_name": "Liddell"}))  # now it exists: updated
    profile = await sim.client.profile(alias=("my_device_identifier", "device123"))
    assert profile is not None
    assert profile["user_aliases"] == [alias | {"alias_label": "my_device_identifier"}]
    assert profile["attributes"] == {"first_name": "Alice", "last_name": "Liddell"}
    assert profile["external_id"] is None
    assert (await sim.client.stats())["skipped_objects"]["attributes"] == 1


async def test_events_keyed_by_an_alias_are_always_update_only(braze: BrazeCaller, sim: RunningSim) -> None:
    event = examples.EVENTS_EXAMPLE[2]
    await braze.track({"events": [{**event, "_update_existing_only": False}]})
    assert await sim.client.events() == []
    await braze.track(examples.TRACK_ALIAS_ONLY)
    await braze.track(
        {"events": [{**event, "user_alias": {"alias_name": "example_name", "alias_label": "example_label"}}]}
    )
    events = await sim.client.events()
    assert [e["name"] for e in events] == ["watched_trailer"]
    assert events[0]["external_id"] is None


async def test_email_identifies_or_creates_an_email_only_profile(braze: BrazeCaller, sim: RunningSim) -> None:
    answer = await braze.track(examples.TRACK_BY_EMAIL)
    assert "errors" not in answer.body
    profile = await sim.client.profile(email="test@braze.com")
    assert profile is not None
    assert profile["external_id"] is None
    assert profile["custom_attributes"]["array_attribute"] == ["banana", "apple"]
    assert profile["event_count"] == 1  # the alias-keyed event names nobody
    assert profile["purchase_count"] == 1


async def test_email_prefers_the_latest_profile_with_an_external_id(braze: BrazeCaller, sim: RunningSim) -> None:
    await braze.track(attrs({"external_id": "older", "email": "Shared@Example.com"}))
    await braze.track(attrs({"external_id": "newer", "email": "shared@example.com"}))
    await braze.track(attrs({"email": "lonely@example.com"}))
    await braze.track(attrs({"email": "shared@example.com", "first_name": "Who"}))
    newer = await sim.client.profile(external_id="newer")
    older = await sim.client.profile(external_id="older")
    assert newer is not None
    assert older is not None
    assert newer["attributes"].get("first_name") == "Who"
    assert "first_name" not in older["attributes"]
    assert len(await sim.client.profiles()) == 3


async def test_phone_identifies_in_e164(braze: BrazeCaller, sim: RunningSim) -> None:
    await braze.track(examples.TRACK_BY_PHONE)
    await braze.track(attrs({"phone": "+1 504-327-7269", "integer_attribute": 26}))
    profiles = await sim.client.profiles()
    assert len(profiles) == 1
    assert profiles[0]["custom_attributes"]["integer_attribute"] == 26


async def test_braze_id_updates_but_never_creates(braze: BrazeCaller, sim: RunningSim) -> None:
    await braze.track(attrs({"braze_id": "0123456789abcdef01234567", "first_name": "Ghost"}))
    assert await sim.client.profiles() == []
    await braze.track(attrs({"external_id": "u1"}))
    profile = await sim.client.profile(external_id="u1")
    assert profile is not None
    await braze.track(attrs({"braze_id": profile["braze_id"], "first_name": "Found"}))
    found = await sim.client.profile(braze_id=profile["braze_id"])
    assert found is not None
    assert found["attributes"]["first_name"] == "Found"


async def test_update_existing_only_for_an_external_id(braze: BrazeCaller, sim: RunningSim) -> None:
    await braze.track(attrs({"external_id": "u1", "_update_existing_only": True, "first_name": "No"}))
    assert await sim.client.profiles() == []
    await braze.track(
        {"events": [{"external_id": "u2", "_update_existing_only": True, "name": "e", "time": "2024-01-01"}]}
    )
    assert await sim.client.events() == []


async def test_attributes_are_applied_before_events_in_one_request(braze: BrazeCaller, sim: RunningSim) -> None:
    alias = {"alias_name": "a1", "alias_label": "komo"}
    body = {
        "events": [{"user_alias": alias, "name": "komo_form_submitted", "time": "2024-05-01T10:00:00Z"}],
        "attributes": [{"user_alias": alias, "_update_existing_only": False, "first_name": "Zed"}],
    }
    await braze.track(body)
    assert [e["name"] for e in await sim.client.events()] == ["komo_form_submitted"]


async def test_every_event_is_kept_even_the_same_one_twice(braze: BrazeCaller, sim: RunningSim) -> None:
    event = {"external_id": "u1", "name": "komo_form_submitted", "time": "2024-05-01T10:00:00Z",
             "properties": {"submission_id": "s-1"}}  # fmt: skip
    await braze.track({"events": [event, event]})
    await braze.track({"events": [event]})
    events = await sim.client.events(external_id="u1")
    assert len(events) == 3
    assert events[0]["properties"] == {"submission_id": "s-1"}
