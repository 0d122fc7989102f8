"""Whatever JSON a payload holds, the mapper answers with Braze objects or a mapping error, never an exception;
and every object it answers with passes Braze's rules as ``braze_sim``'s validator (written apart) reads them.
"""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings

from braze_sim.validation import validate_attribute_object, validate_event_object
from komo_braze.envelope import Envelope
from tests.worker.mapping.samples import EXAMPLE_MAPPING, mapping
from tests.worker.mapping.strategies import envelopes
from worker.mapping import Mapped, MappingConfig, MappingFailure, load_mapping

GROUP = "6f1c2a0e-0000-4000-8000-000000000001"
#: every type and option, and every kind of identifier, on hubs the strategies route to
EVERY_TYPE = f"""
hubs:
  hub-phone:
    default_region: AU
    update_existing_only: true
    identify: {{by: phone, field: mobile}}
    attributes:
      mobile: phone
      first_name: first_name
      score: {{to: komo_score, type: integer}}
      rating: {{to: komo_rating, type: number}}
      member: {{to: komo_member, type: boolean}}
      seen: {{to: komo_seen, type: datetime, timezone: Australia/Sydney}}
      born: {{to: dob, day_first: false}}
      gender: gender
      push: {{to: push_subscribe, false_means: unsubscribed}}
      sms_optin: {{type: subscription_group, group_id: "{GROUP}", false_means: unsubscribed}}
      tags: {{to: komo_tags, type: list, max_items: 5}}
      interests: {{to: komo_interests, type: list, mode: add}}
    constants: {{komo_source: fuzz, komo_tags_seen: [a, b], komo_day: 2026-01-01}}
    event:
      name: komo_fuzz
      properties:
        site_id: site_id
        score: {{to: score, type: integer}}
        seen: {{to: seen, type: datetime}}
        tags: {{to: tags, type: list}}
        country: {{to: country, type: country}}
  hub-ids:
    identify:
      - {{by: braze_id, field: braze_id}}
      - {{by: external_id, field: customer_id}}
      - {{by: alias, field: email, label: email, type: email}}
      - {{by: alias, field: mobile, label: phone, type: phone}}
      - {{by: email, field: email}}
    attributes: {{email: email, country: country, card_name: komo_card}}
    event: {{name: komo_ids, properties: [submission_id, card_type]}}
"""
FIELDS = [
    "customer_id", "braze_id", "email", "mobile", "first_name", "last_name", "date_of_birth", "country", "gender",
    "optin", "sms_optin", "interests", "favourite_team", "score", "rating", "member", "seen", "born", "push",
    "tags", "card_name", "card_id", "card_type", "site_id", "submission_id", "timestamp",
]  # fmt: skip


@pytest.fixture(scope="module")
def configs() -> list[MappingConfig]:
    return [load_mapping(EXAMPLE_MAPPING), mapping(EVERY_TYPE)]


def check(configs: list[MappingConfig], envelope: Envelope) -> int:
    """Map with each config; returns how many produced objects (all of which were checked)."""
    produced = 0
    for config in configs:
        result = config.map(envelope)
        assert isinstance(result, Mapped | MappingFailure)
        if isinstance(result, MappingFailure):
            continue
        produced += 1
        orjson.dumps(result.attributes)  # plain JSON all the way down
        assert validate_attribute_object(result.attributes) == [], result.attributes
        if result.event is not None:
            orjson.dumps(result.event)
            assert validate_event_object(result.event) == [], result.event
    return produced


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(envelope=envelopes(FIELDS))
def test_any_payload_maps_to_objects_or_a_mapping_error(configs: list[MappingConfig], envelope: Envelope) -> None:
    check(configs, envelope)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(envelope=envelopes(FIELDS, identified=True))
def test_any_identified_payload_maps_to_valid_objects(configs: list[MappingConfig], envelope: Envelope) -> None:
    assert check(configs, envelope) >= 1  # the example's "*" hub always finds the email
