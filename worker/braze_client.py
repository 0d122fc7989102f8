"""The Braze ``/users/track`` client: one aiohttp session per workspace.

Keep-alive connections, at most ``max_in_flight`` requests at once, a timeout per request, bodies
serialized with orjson, redirects not followed. It never raises for an answer or a network failure: it
returns a :class:`BrazeAnswer` carrying a status (or the failure), the body if it is JSON (else None)
and the rate-limit headers as read (:mod:`worker.ratelimit_headers`), and the outcome policy
(:mod:`worker.outcome`) decides what it means. The API key lives only in the session's default
headers; it is never logged and never part of a ``repr``.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from pydantic import SecretStr

from worker.ratelimit_headers import DEFAULT_MAX_AHEAD_S, RateLimitHeaders

TRACK_PATH = "/users/track"
#: the probe sent while the breaker is open: valid JSON with no object in it, so it changes nothing
PROBE_BODY = b'{"attributes":[]}'


@dataclass(frozen=True, slots=True)
class BrazeAnswer:
    status: int | None  # None: no answer (see ``failure``)
    body: Any
    rate_limit: RateLimitHeaders
    duration_s: float
    failure: str | None = None  # "timeout" or "connection_error"

    @property
    def status_label(self) -> str:
        """A bounded label for metrics: the status code, or the kind of failure."""
        return str(self.status) if self.status is not None else (self.failure or "connection_error")

    def log_fields(self) -> dict[str, int | str]:
        """``status`` (always a number) when Braze answered, else ``failure``."""
        if self.status is not None:
            return {"status": self.status}
        return {"failure": self.failure or "connection_error"}


_NO_HEADERS = RateLimitHeaders(None, None, None, None)


class BrazeClient:
    """Requests to one workspace's REST endpoint."""

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        *,
        max_in_flight: int,
        timeout_s: float,
        max_pause_s: float = DEFAULT_MAX_AHEAD_S,
    ) -> None:
        self.url = base_url.rstrip("/") + TRACK_PATH
        self._max_pause_s = max_pause_s
        self._api_key = api_key
        self._max_in_flight = max_in_flight
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"BrazeClient({self.url!r})"

    async def __aenter__(self) -> BrazeClient:
        connector = aiohttp.TCPConnector(limit=self._max_in_flight, keepalive_timeout=60)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            headers={
                "Authorization": f"Bearer {self._api_key.get_secret_value()}",
                "Content-Type": "application/json",
            },
            json_serialize=lambda value: orjson.dumps(value).decode(),
        )
        return self

    async def __aexit__(self, *_exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def track(self, body: bytes) -> BrazeAnswer:
        """POST one serialized ``/users/track`` body."""
        if self._session is None:
            raise RuntimeError("BrazeClient used outside its `async with`")
        started = time.perf_counter()
        try:
            # a redirect is answered as it is (a configuration fault), never followed: following it would
            # send the batch to another origin, and take that origin's 2xx for Braze's
            async with self._session.post(self.url, data=body, allow_redirects=False) as response:
                raw = await response.read()
                rate_limit = RateLimitHeaders.parse(response.headers, max_ahead_s=self._max_pause_s)
                try:
                    parsed: Any = orjson.loads(raw) if raw else None
                except orjson.JSONDecodeError:
                    parsed = None
                return BrazeAnswer(response.status, parsed, rate_limit, time.perf_counter() - started)
        except TimeoutError:
            return BrazeAnswer(None, None, _NO_HEADERS, time.perf_counter() - started, failure="timeout")
        except (aiohttp.ClientError, OSError, asyncio.IncompleteReadError):
            return BrazeAnswer(None, None, _NO_HEADERS, time.perf_counter() - started, failure="connection_error")
