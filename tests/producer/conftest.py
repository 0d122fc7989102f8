"""An in-process producer on port 0 against the test's own prefix, and an HTTP client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import pytest

from komo_braze.settings import Settings
from producer.app import Producer
from tests.broker import BrokerKit

KOMO_BODY: dict[str, str] = {
    "id": "54e635de-92f5-4419-a498-5f69323db34c",
    "event": "CompetitionEntrySuccess",
    "timestamp": "2026-01-01T09:30:00.000Z",
    "site_id": "2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11",
    "site_name": "Summer Hub",
    "user_session_id": "d40cc0e7-1b2c-4d5e-8f90-a1b2c3d4e5f6",
    "card_id": "dd0b77cd-2e3f-4a5b-9c8d-7e6f5a4b3c2d",
    "card_name": "Footy Tipping Quiz",
    "card_type": "Quiz",
    "score": "1",
    "correct": "1",
    "competition_entry_id": "a76a65ea-3b4c-4d5e-8f6a-7b8c9d0e1f2a",
    "submission_id": "c0ff823d-4c5d-4e6f-9a0b-1c2d3e4f5a6b",
    "email": "joe@bloggs.com",
    "first_name": "Joe",
    "last_name": "Bloggs",
    "optin": "true",
}


class Intake:
    """A running producer and a client session pointed at it."""

    def __init__(self, producer: Producer, session: aiohttp.ClientSession) -> None:
        self.producer = producer
        self.session = session
        self.url = f"http://127.0.0.1:{producer.port}"

    def post(self, body: bytes | str, **kwargs: Any) -> Any:
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        data = body.encode() if isinstance(body, str) else body
        return self.session.post(f"{self.url}/v1/submissions", data=data, headers=headers, **kwargs)

    async def metrics_text(self) -> str:
        async with self.session.get(f"{self.url}/metrics") as response:
            return await response.text()


StartIntake = Callable[..., AbstractAsyncContextManager[Intake]]


@pytest.fixture
def start_intake(broker: BrokerKit) -> StartIntake:
    """``async with start_intake(**settings) as intake``: a producer ready to publish."""

    @asynccontextmanager
    async def start(
        wait_ready: bool = True, settings: Settings | None = None, **overrides: Any
    ) -> AsyncIterator[Intake]:
        producer = Producer(settings or broker.settings(reconnect_interval_s=0.2, **overrides))
        await producer.start(port=0)
        try:
            if wait_ready:
                assert await producer.publisher.wait_ready(15), "producer never connected to the broker"
            async with aiohttp.ClientSession() as session:
                yield Intake(producer, session)
        finally:
            await producer.stop()

    return start
