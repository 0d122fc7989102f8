"""A Braze caller for the simulator's tests: real HTTP through aiohttp, answers decoded."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any


class BrazeCaller:
    """POSTs to ``/users/track`` of one simulator, the way a Braze client does."""

    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url

    async def track(
        self,
        body: Any,
        *,
        key: str | None = "test-key",
        raw: bytes | None = None,
        authorization: str | None = None,
        timeout_s: float = 10.0,
    ) -> Answer:
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        elif key is not None:
            headers["Authorization"] = f"Bearer {key}"
        payload = raw if raw is not None else orjson.dumps(body)
        # aiohttp wants large bodies as a stream
        data: bytes | io.BytesIO = io.BytesIO(payload) if len(payload) > 1_000_000 else payload
        async with self.session.post(
            f"{self.url}/users/track", data=data, headers=headers, timeout=aiohttp.ClientTimeout(total=timeout_s)
        ) as response:
            payload = await response.read()
            return Answer(response.status, dict(response.headers), orjson.loads(payload) if payload else None)


def attrs(*objects: dict[str, Any]) -> dict[str, Any]:
    return {"attributes": list(objects)}
