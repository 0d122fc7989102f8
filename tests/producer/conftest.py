"""An in-process producer on port 0 against the test's own prefix, and an HTTP client for it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import aiohttp
import pytest

from komo_braze.settings import Settings
from producer.app import Producer
from producer.auth import SIGNATURE_HEADER, sign
from tests.broker import BrokerKit


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

    def admin_headers(self) -> dict[str, str]:
        """What opens ``/metrics`` on the intake port: the first token, else the signature of an empty body."""
        settings = self.producer.settings
        if settings.webhook_token:
            return {"Authorization": f"Bearer {settings.webhook_token[0].get_secret_value()}"}
        if settings.webhook_hmac_secret is not None:
            return {SIGNATURE_HEADER: sign(settings.webhook_hmac_secret.get_secret_value(), b"")}
        return {}

    async def metrics_text(self) -> str:
        async with self.session.get(f"{self.url}/metrics", headers=self.admin_headers()) as response:
            assert response.status == 200, f"/metrics answered {response.status}"
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
