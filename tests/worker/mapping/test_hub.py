"""Mapping envelopes with the documented example mapping: golden outputs and realistic variants."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.komo_example import SUMMER_HUB
from tests.worker.mapping.samples import (
    EXAMPLE_MAPPING,
    OTHER_HUB,
    RECEIVED_AT,
    body,
    envelope,
    mapped,
    mapping,
)
from worker.mapping import (
    IdentifierKind,
    Mapped,
    MappingConfig,
    MappingErrorKind,
    MappingFailure,
    RejectedField,
    UserKey,
    load_mapping,
)

GROUP = "6f1c2a0e-0000-4000-8000-000000000001"
ALIAS = {"user_alias": {"alias_name": "joe@bloggs.com", "alias_label": "email"}}


@pytest.fixture(scope="module")
def example() -> MappingConfig:
    return load_mapping(EXAMPLE_MAPPING)


def failure(config: MappingConfig, payload: dict[str, object]) -> MappingFailure:
    result = config.map(envelope(payload))
    assert isinstance(result, MappingFailure), result
    return result


def test_the_documented_body_maps_to_its_own_workspace(example: MappingConfig) -> None:
    result = mapped(example, body())
    assert result == Mapped(
        workspace="client_b",
        user=UserKey(IdentifierKind.EMAIL, "joe@bloggs.com"),
        attributes={
            "email": "joe@bloggs.com",
            "komo_source": "summer-hub",
            "first_name": "Joe",
            "last_name": "Bloggs",
            "email_subscribe": "opted_in",
            "komo_last_score": 1,
        },
        event={
            "email": "joe@bloggs.com",
            "name": "komo_quiz_completed",
            "time": "2026-01-01T09:30:00.000Z",
            "properties": {
                "site_id": SUMMER_HUB,
                "card_id": "dd0b77cd-2e3f-4a5b-9c8d-7e6f5a4b3c2d",
                "card_type": "Quiz",
                "submission_id": "c0ff823d-4c5d-4e6f-9a0b-1c2d3e4f5a6b",
                "score": 1,
            },
        },
        timestamp=datetime(2026, 1, 1, 9, 30, tzinfo=UTC),
        rejected=(),
    )


def test_the_documented_body_on_any_other_hub_creates_an_alias_profile(example: MappingConfig) -> None:
    result = mapped(example, body(site_id=OTHER_HUB))
    assert result.workspace == "default"
    assert result.user == UserKey(IdentifierKind.ALIAS, "email:joe@bloggs.com")
    assert result.attributes == {
        **ALIAS,
        "_update_existing_only": False,
        "komo_source": "komo",
        "first_name": "Joe",
        "last_name": "Bloggs",
        "email": "joe@bloggs.com",
        "email_subscribe": "opted_in",
        "komo_last_score": 1,
        "komo_last_card": "Footy Tipping Quiz",
    }
    assert result.event == {
        **ALIAS,
        "name": "komo_form_submitted",
        "time": "2026-01-01T09:30:00.000Z",
        "properties": {
            "site_id": OTHER_HUB,
            "card_id": "dd0b77cd-2e3f-4a5b-9c8d-7e6f5a4b3c2d",
            "card_type": "Quiz",
            "card_name": "Footy Tipping Quiz",
            "submission_id": "c0ff823d-4c5d-4e6f-9a0b-1c2d3e4f5a6b",
        },
    }


def test_a_full_entry_form_on_any_hub(example: MappingConfig) -> None:
    result = mapped(
        example,
        body(
            site_id=OTHER_HUB,
            customer_id="CUST-0042",
            first_name="  Zoë ",
            last_name="Ångström-Nguyễn",
            email=" Zoe.Nguyen@Example.COM ",
            mobile="0412 345 678",
            date_of_birth="17 May 1990",
            country="New Zealand",
            gender="Female",
            optin="false",
            sms_optin="true",
            interests="footy, cricket",
            favourite_team="Sydney Swans 🦢",
        ),
    )
    assert result.user == UserKey(IdentifierKind.EXTERNAL_ID, "CUST-0042")
    assert result.attributes == {
        "external_id": "CUST-0042",
        "komo_source": "komo",
        "first_name": "Zoë",
        "last_name": "Ångström-Nguyễn",
        "email": "zoe.nguyen@example.com",
        "phone": "+61412345678",
        "dob": "1990-05-17",
        "country": "NZ",
        "gender": "F",
        "komo_interests": {"add": ["footy", "cricket"]},
        "favourite_team": "Sydney Swans 🦢",
        "komo_last_score": 1,
        "komo_last_card": "Footy Tipping Quiz",
        "subscription_groups": [{"subscription_group_id": GROUP, "subscription_state": "subscribed"}],
    }  # no email_subscribe: an unticked box gives no consent, and takes none away
    assert result.event is not None
    assert result.event["external_id"] == "CUST-0042"


@pytest.mark.parametrize(
    "mobile", ["0412 345 678", "0412345678", "+61 412 345 678", "+61412345678", "0011 61 412 345 678"]
)
def test_phone_numbers_in_local_and_international_forms_meet(example: MappingConfig, mobile: str) -> None:
    assert mapped(example, body(site_id=OTHER_HUB, mobile=mobile)).attributes["phone"] == "+61412345678"


@pytest.mark.parametrize("born", ["1990-05-17", "17/05/1990", "17.05.1990", "17 May 1990", "May 17, 1990", "19900517"])
def test_dates_of_birth_in_several_forms(example: MappingConfig, born: str) -> None:
    assert mapped(example, body(site_id=OTHER_HUB, date_of_birth=born)).attributes["dob"] == "1990-05-17"


@pytest.mark.parametrize(("country", "code"), [("Australia", "AU"), ("AUS", "AU"), ("uk", "GB"), ("Viet Nam", "VN")])
def test_country_names_and_codes(example: MappingConfig, country: str, code: str) -> None:
    assert mapped(example, body(site_id=OTHER_HUB, country=country)).attributes["country"] == code


def test_values_that_do_not_fit_are_rejected_by_name_never_by_value(example: MappingConfig) -> None:
    result = mapped(
        example,
        body(
            site_id=OTHER_HUB,
            mobile="12345",
            date_of_birth="31/02/1990",
            country="Atlantis",
            score="lots",
            optin="perhaps",
            favourite_team="x" * 300,
        ),
    )
    assert set(result.rejected) == {
        RejectedField("phone", field="mobile", reason="not a valid phone number"),
        RejectedField("dob", field="date_of_birth", reason="not a real date"),
        RejectedField("country", field="country", reason="not a known country"),
        RejectedField("komo_last_score", field="score", reason="not a number"),
        RejectedField("email_subscribe", field="optin", reason="not a yes/no value"),
        RejectedField("favourite_team", field="favourite_team", reason="longer than 255 characters"),
    }
    for name in ("phone", "dob", "country", "komo_last_score", "email_subscribe", "favourite_team"):
        assert name not in result.attributes
    assert result.attributes["first_name"] == "Joe"  # the rest of the submission still goes
    shown = repr(result.rejected)
    for value in ("12345", "31/02/1990", "Atlantis", "lots", "perhaps", "xxxx"):
        assert value not in shown


def test_fields_the_mapping_does_not_name_are_never_sent(example: MappingConfig) -> None:
    result = mapped(example, body(site_id=OTHER_HUB, postcode="2000", secret_answer="42"))
    sent = repr(result.attributes) + repr(result.event)
    for unnamed in ("site_name", "user_session_id", "user_profile_id", "competition_entry_id", "2000", "42", "correct"):
        assert unnamed not in sent


def test_blank_and_null_fields_send_nothing_and_reject_nothing(example: MappingConfig) -> None:
    result = mapped(example, body(site_id=OTHER_HUB, first_name="   ", mobile="", country=None, last_name=None))
    assert "first_name" not in result.attributes
    assert "last_name" not in result.attributes
    assert result.rejected == ()


def test_no_identifier_at_all(example: MappingConfig) -> None:
    result = failure(example, body(site_id=OTHER_HUB, email=None))
    assert result == MappingFailure(MappingErrorKind.NO_IDENTIFIER, "no value in customer_id, email")


def test_an_invalid_identifier_names_the_field_not_the_value(example: MappingConfig) -> None:
    result = failure(example, body(email="joe@bloggs"))
    assert result.kind is MappingErrorKind.INVALID_IDENTIFIER
    assert result.detail == "email (email): not a valid email address"
    assert "joe@bloggs" not in result.detail


def test_a_later_rule_wins_when_an_earlier_identifier_is_invalid(example: MappingConfig) -> None:
    result = mapped(example, body(site_id=OTHER_HUB, customer_id={"not": "an id"}))
    assert result.user == UserKey(IdentifierKind.ALIAS, "email:joe@bloggs.com")


def test_a_hub_without_an_entry_goes_to_star_and_without_star_is_unmapped(example: MappingConfig) -> None:
    assert mapped(example, body(site_id="any-other-hub")).workspace == "default"
    strict = mapping("hubs:\n  site-1:\n    identify: {by: email, field: email}\n")
    assert mapped(strict, body(site_id="site-1")).workspace == "default"
    assert failure(strict, body(site_id="site-2")).kind is MappingErrorKind.UNMAPPED_HUB


def test_one_user_one_key_whatever_the_spelling(example: MappingConfig) -> None:
    keys = {
        mapped(example, body(email=email)).user for email in ("joe@bloggs.com", " Joe@Bloggs.COM", "JOE@BLOGGS.COM")
    }
    assert keys == {UserKey(IdentifierKind.EMAIL, "joe@bloggs.com")}
    phones = mapping('hubs:\n  "*":\n    default_region: AU\n    identify: {by: phone, field: mobile}\n')
    keys = {mapped(phones, body(mobile=m)).user for m in ("0412 345 678", "+61412345678", "+61 (0)412-345-678")}
    assert keys == {UserKey(IdentifierKind.PHONE, "+61412345678")}


ALIAS_RULE = "{by: alias, field: id, label: l}"
EXTERNAL_ID_RULE = "{by: external_id, field: id}"


def objects(rule: str, update_existing_only: bool) -> Mapped:
    flag = "true" if update_existing_only else "false"
    config = mapping(f'hubs:\n  "*":\n    update_existing_only: {flag}\n    identify: {rule}\n    event: {{name: e}}\n')
    return mapped(config, body(id="u1"))


def test_update_existing_only_is_explicit_where_braze_needs_it() -> None:
    alias_new = objects(ALIAS_RULE, update_existing_only=False)
    assert alias_new.attributes["_update_existing_only"] is False  # Braze's alias default is true
    assert alias_new.event is not None
    assert "_update_existing_only" not in alias_new.event
    external_new = objects(EXTERNAL_ID_RULE, update_existing_only=False)
    assert "_update_existing_only" not in external_new.attributes  # Braze's default is already false
    for rule in (ALIAS_RULE, EXTERNAL_ID_RULE):
        existing = objects(rule, update_existing_only=True)
        assert existing.attributes["_update_existing_only"] is True
        assert existing.event is not None
        assert existing.event["_update_existing_only"] is True


def test_the_time_is_komos_timestamp_else_when_it_was_received(example: MappingConfig) -> None:
    for stamp in (None, "", "not a time", 1767259800, "2026-02-30T09:30:00.000Z"):
        result = mapped(example, body(timestamp=stamp))
        assert result.timestamp == RECEIVED_AT
        assert result.event is not None
        assert result.event["time"] == "2026-01-01T09:30:05.000Z"


def test_a_time_with_an_offset_is_sent_in_utc(example: MappingConfig) -> None:
    result = mapped(example, body(timestamp="2026-01-01T20:30:00.5+11:00"))
    assert result.timestamp == datetime(2026, 1, 1, 9, 30, 0, 500_000, tzinfo=UTC)
    assert result.event is not None
    assert result.event["time"] == "2026-01-01T09:30:00.500Z"


def test_the_submission_id_property_falls_back_to_komos_id(example: MappingConfig) -> None:
    result = mapped(example, body(submission_id=None))
    assert result.event is not None
    assert result.event["properties"]["submission_id"] == "54e635de-92f5-4419-a498-5f69323db34c"


def test_attribute_and_event_objects_do_not_share_identifier_dicts(example: MappingConfig) -> None:
    result = mapped(example, body(site_id=OTHER_HUB))
    assert result.event is not None
    result.attributes["user_alias"]["alias_name"] = "changed by a later stage"
    assert result.event["user_alias"]["alias_name"] == "joe@bloggs.com"


def test_an_alias_of_a_phone_is_read_as_a_phone() -> None:
    config = mapping(
        'hubs:\n  "*":\n    default_region: AU\n    identify: {by: alias, field: mobile, label: phone}\n'
        "    attributes:\n      mobile: phone\n"
    )
    result = mapped(config, body(mobile="0412 345 678"))
    assert result.attributes["user_alias"] == {"alias_name": "+61412345678", "alias_label": "phone"}
    assert result.user == UserKey(IdentifierKind.ALIAS, "phone:+61412345678")


def test_skip_unchanged_is_off_unless_the_hub_turns_it_on() -> None:
    hub = 'hubs:\n  "*":\n    identify: {by: external_id, field: id}\n'
    assert mapped(mapping(hub), body(id="u1")).skip_unchanged is False
    assert mapped(mapping(hub + "    skip_unchanged: true\n"), body(id="u1")).skip_unchanged is True
