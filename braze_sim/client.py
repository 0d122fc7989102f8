"""A Python client for the simulator's admin endpoints, for tests, benchmarks and the demo.

async with SimClient("http://127.0.0.1:9911") as sim:
    await sim.set_faults(error_rate=0.2)
    profile = await sim.profile(external_id="user1")
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

import aiohttp
import orjson


class SimAdminError(Exception):
    """The simulator refused an admin request; carries its status and message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


def _query(filters: dict[str, Any]) -> dict[str, str]:
    return {key: str(value) for key, value in filters.items() if value is not None}


class SimClient:
    """Admin client of one simulator at ``base_url`` (no trailing slash needed)."""

    def __init__(self, base_url: str, *, timeout_s: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SimClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _call(self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": "application/json"} if data is not None else None
        async with self._session.request(
            method, f"{self.base_url}{path}", params=params, data=data, headers=headers
        ) as response:
            payload = orjson.loads(await response.read() or b"null")
            if response.status >= 400:
                message = payload.get("message", "") if isinstance(payload, dict) else str(payload)
                raise SimAdminError(response.status, message)
            return payload

    async def profiles(self, *, workspace: str | None = None, limit: int | None = None, **filters: Any) -> list[Any]:
        """Profiles, filtered by ``external_id``, ``braze_id``, ``email``, ``phone``, ``alias_label`` and
        ``alias_name``, or ``has`` (holding that custom attribute)."""
        params = _query({"workspace": workspace, "limit": limit, **filters})
        result: list[Any] = (await self._call("GET", "/_sim/profiles", params=params))["profiles"]
        return result

    async def profile(
        self,
        *,
        workspace: str | None = None,
        external_id: str | None = None,
        braze_id: str | None = None,
        email: str | None = None,
        phone: str | None = None,
        alias: tuple[str, str] | None = None,
    ) -> dict[str, Any] | None:
        """The profile Braze would pick for one identifier (``alias`` is ``(label, name)``), or None."""
        filters: dict[str, Any] = {"external_id": external_id, "braze_id": braze_id, "email": email, "phone": phone}
        if alias is not None:
            filters["alias_label"], filters["alias_name"] = alias
        try:
            found: dict[str, Any] = await self._call(
                "GET", "/_sim/profile", params=_query({"workspace": workspace, **filters})
            )
        except SimAdminError as exc:
            if exc.status == 404 and exc.message == "no such profile":
                return None
            raise
        return found

    async def events(self, *, workspace: str | None = None, limit: int | None = None, **filters: Any) -> list[Any]:
        """Accepted events, filtered by ``external_id``, ``braze_id`` or ``name``; oldest first."""
        params = _query({"workspace": workspace, "limit": limit, **filters})
        result: list[Any] = (await self._call("GET", "/_sim/events", params=params))["events"]
        return result

    async def purchases(self, *, workspace: str | None = None, limit: int | None = None, **filters: Any) -> list[Any]:
        """Accepted purchases, filtered by ``external_id``, ``braze_id`` or ``product_id``; oldest first."""
        params = _query({"workspace": workspace, "limit": limit, **filters})
        result: list[Any] = (await self._call("GET", "/_sim/purchases", params=params))["purchases"]
        return result

    async def requests(self, *, status: int | None = None, limit: int | None = None) -> list[Any]:
        """The request log, latest first."""
        result: list[Any] = (
            await self._call("GET", "/_sim/requests", params=_query({"status": status, "limit": limit}))
        )["requests"]
        return result

    async def stats(self) -> dict[str, Any]:
        """Requests by status, objects by array, 429s, profiles per workspace."""
        result: dict[str, Any] = await self._call("GET", "/_sim/stats")
        return result

    async def reset(self) -> None:
        """Forget profiles, events, purchases, the request log, counters and rate-limit windows."""
        await self._call("POST", "/_sim/reset")

    async def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("GET", "/_sim/faults")
        return result

    async def set_faults(self, *, clear: bool = False, **faults: Any) -> dict[str, Any]:
        """Change faults (names of :class:`braze_sim.config.FaultSpec`); ``clear=True`` first removes all."""
        body = {"clear": clear, **{k: list(v) if isinstance(v, tuple) else v for k, v in faults.items()}}
        result: dict[str, Any] = await self._call("POST", "/_sim/faults", body=body)
        return result

    async def set_rate_limit(self, rate_limit: str, *, workspace: str | None = None) -> dict[str, Any]:
        """A new limit like ``"5/1s"`` for one workspace (name or key) or all; windows start afresh."""
        result: dict[str, Any] = await self._call(
            "POST", "/_sim/rate-limit", body={"rate_limit": rate_limit, "workspace": workspace}
        )
        return result
