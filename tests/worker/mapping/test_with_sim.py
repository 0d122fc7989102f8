"""The example mapping's objects, sent to ``braze_sim`` over HTTP: accepted, and the profiles they make."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import orjson
import pytest

from braze_sim.testing import RunningSim, running_sim
from tests.worker.mapping.samples import EXAMPLE_MAPPING, OTHER_HUB, body, mapped
from worker.mapping import load_mapping


@pytest.fixture
async def sim() -> AsyncIterator[RunningSim]:
    async with running_sim() as running:
        yield running


async def track(sim: RunningSim, request: dict[str, Any]) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{sim.url}/users/track",
            data=orjson.dumps(request),
            headers={"Content-Type": "application/json", "Authorization": "Bearer test-key"},
            timeout=aiohttp.ClientTimeout(total=10),
        ) as response,
    ):
        return response.status, orjson.loads(await response.read())


async def test_realistic_submissions_are_accepted_and_make_profiles(sim: RunningSim) -> None:
    config = load_mapping(EXAMPLE_MAPPING)
    results = [
        mapped(config, body()),
        mapped(config, body(site_id=OTHER_HUB, mobile="0412 345 678", date_of_birth="17/05/1990", gender="male")),
        mapped(
            config,
            body(
                site_id=OTHER_HUB,
                email="zoe@example.com",
                customer_id="CUST-7",
                country="Viet Nam",
                sms_optin="yes",
                interests="footy, tennis",
                first_name="Zoë",
            ),
        ),
    ]
    request = {
        "attributes": [result.attributes for result in results],
        "events": [result.event for result in results if result.event is not None],
    }
    status, answer = await track(sim, request)
    assert status == 201
    assert "errors" not in answer, answer
    assert (answer["attributes_processed"], answer["events_processed"]) == (3, 3)

    alias = await sim.client.profile(alias=("email", "joe@bloggs.com"))
    assert alias is not None, "the alias profile was not created: _update_existing_only must be false"
    assert alias["phone"] == "+61412345678"
    assert alias["attributes"]["dob"] == "1990-05-17"
    customer = await sim.client.profile(external_id="CUST-7")
    assert customer is not None
    assert customer["attributes"]["country"] == "VN"
    assert customer["custom_attributes"]["komo_interests"] == ["footy", "tennis"]
    assert [event["name"] for event in await sim.client.events(external_id="CUST-7")] == ["komo_form_submitted"]
