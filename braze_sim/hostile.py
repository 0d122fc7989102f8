"""Hostile answers: what a broken proxy, a misconfigured edge or a buggy Braze could send back.

With ``hostile_rate`` set, that share of requests (after authentication and the rate limit) gets one
answer drawn, with the simulator's seeded random, from ``hostile_kinds`` (all of them by default); the
other requests are answered normally, so a client that copes makes progress. Answers whose kind
:attr:`HostileKind.processes` apply the request as Braze would and only corrupt the rate-limit headers
(the client must count the batch as accepted); every other kind applies nothing, so a client that takes
one of them for success has lost the batch.
"""

from __future__ import annotations

import time
from email.utils import formatdate
from enum import StrEnum

from aiohttp import web

from braze_sim.ratelimit import Verdict

#: the year 2100, in epoch seconds: a Reset no window ever has
FAR_RESET_EPOCH_S = 4_102_444_800
#: where redirects point unless told otherwise: another origin, where nothing listens (the discard port)
DEFAULT_REDIRECT_TO = "http://127.0.0.1:9/users/track"


class HostileKind(StrEnum):
    # the batch is not applied: the client must retry
    HTML_200 = "html_200"  # a captive proxy's or maintenance page, 200 text/html
    TRUNCATED_JSON = "truncated_json"  # a 201 whose JSON body is cut half way
    JSON_ARRAY_200 = "json_array_200"  # a 200 with JSON that is not an object
    REDIRECT = "redirect"  # 307 to another origin
    RESET = "reset"  # the connection closed without an answer
    HANG = "hang"  # no answer for ``hostile_hang_s``, then the connection closed
    ERROR_5XX = "5xx"  # 500/502/503/504 with an HTML body and no rate-limit headers
    STORM_429 = "429"  # a 429 with sane headers
    RETRY_AFTER_NEGATIVE = "429_retry_after_negative"  # Retry-After: -5
    RETRY_AFTER_HUGE = "429_retry_after_huge"  # Retry-After: 99999999999
    RETRY_AFTER_DATE = "429_retry_after_date"  # Retry-After as an HTTP date, 2 s ahead
    RETRY_AFTER_GARBAGE = "429_retry_after_garbage"  # Retry-After: soon, X-RateLimit-*: NaN
    FAR_RESET_429 = "429_far_reset"  # a 429 with Remaining 0 and a Reset in the year 2100
    # the batch is applied, the rate-limit headers are not usable
    NAN_HEADERS = "nan_headers"  # NaN / inf
    NEGATIVE_HEADERS = "negative_headers"  # Limit -1, Remaining -100, Reset -5
    HUGE_HEADERS = "huge_headers"  # 1e400, a 30-digit Remaining, 1e308
    FAR_RESET = "far_reset"  # Remaining 0 with a Reset in the year 2100
    MS_RESET = "ms_reset"  # Remaining 0 with the Reset in milliseconds

    @property
    def processes(self) -> bool:
        return self in _PROCESSING


_PROCESSING = frozenset(
    {
        HostileKind.NAN_HEADERS,
        HostileKind.NEGATIVE_HEADERS,
        HostileKind.HUGE_HEADERS,
        HostileKind.FAR_RESET,
        HostileKind.MS_RESET,
    }
)

#: what is drawn from when no kinds are named
ALL_KINDS = tuple(HostileKind)
_MAINTENANCE_PAGE = b"<!doctype html><html><body><h1>Down for maintenance</h1></body></html>"
#: the status of the (never written) response of a dropped connection
DROPPED = 499
#: the statuses of :attr:`HostileKind.ERROR_5XX`
FIVE_XX = (500, 502, 503, 504)


def parse_kinds(names: object) -> tuple[HostileKind, ...]:
    """Kinds from a list of names (or a comma-separated string); unknown names are an error."""
    parts = names.split(",") if isinstance(names, str) else names
    if not isinstance(parts, list | tuple):
        raise ValueError("hostile_kinds must be a list of names")
    kinds = []
    for part in parts:
        name = str(part).strip()
        if not name:
            continue
        try:
            kinds.append(HostileKind(name))
        except ValueError as exc:
            known = ", ".join(ALL_KINDS)
            raise ValueError(f"unknown hostile kind {name!r}; known: {known}") from exc
    return tuple(kinds)


def corrupt_headers(kind: HostileKind, verdict: Verdict) -> dict[str, str]:
    """The rate-limit headers a processing kind answers with instead of ``verdict``'s."""
    match kind:
        case HostileKind.NAN_HEADERS:
            return {"X-RateLimit-Limit": "inf", "X-RateLimit-Remaining": "NaN", "X-RateLimit-Reset": "nan"}
        case HostileKind.NEGATIVE_HEADERS:
            return {"X-RateLimit-Limit": "-1", "X-RateLimit-Remaining": "-100", "X-RateLimit-Reset": "-5"}
        case HostileKind.HUGE_HEADERS:
            return {"X-RateLimit-Limit": "1e400", "X-RateLimit-Remaining": "9" * 30, "X-RateLimit-Reset": "1e308"}
        case HostileKind.FAR_RESET:
            return {**verdict.headers(), "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(FAR_RESET_EPOCH_S)}
        case HostileKind.MS_RESET:
            return {
                **verdict.headers(),
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(verdict.reset_epoch_s * 1000),
            }
        case _:
            return verdict.headers()


def _json(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _429(headers: dict[str, str]) -> web.Response:
    return _json(429, b'{"message":"Rate limit exceeded"}', headers)


def answer(
    kind: HostileKind, request: web.Request, verdict: Verdict, *, redirect_to: str, status_5xx: int
) -> web.Response:
    """The answer of a kind that applies nothing (the caller has checked :attr:`HostileKind.processes`
    and has made a :attr:`HostileKind.HANG` wait)."""
    sane = verdict.headers()
    spent = {**sane, "X-RateLimit-Remaining": "0"}
    match kind:
        case HostileKind.HTML_200:
            return web.Response(status=200, body=_MAINTENANCE_PAGE, content_type="text/html")
        case HostileKind.TRUNCATED_JSON:
            return _json(201, b'{"message":"success","attributes_processed":', sane)
        case HostileKind.JSON_ARRAY_200:
            return _json(200, b'["success"]', sane)
        case HostileKind.REDIRECT:
            return web.Response(status=307, headers={"Location": redirect_to})
        case HostileKind.ERROR_5XX:
            return web.Response(status=status_5xx, body=_MAINTENANCE_PAGE, content_type="text/html")
        case HostileKind.STORM_429:
            return _429(spent)
        # the Retry-After kinds keep the window's own count: only Retry-After says when to come back
        case HostileKind.RETRY_AFTER_NEGATIVE:
            return _429({**sane, "Retry-After": "-5"})
        case HostileKind.RETRY_AFTER_HUGE:
            return _429({**sane, "Retry-After": "99999999999"})
        case HostileKind.RETRY_AFTER_DATE:
            return _429({**sane, "Retry-After": formatdate(time.time() + 2, usegmt=True)})
        case HostileKind.RETRY_AFTER_GARBAGE:
            nan = {"X-RateLimit-Limit": "NaN", "X-RateLimit-Remaining": "NaN", "X-RateLimit-Reset": "NaN"}
            return _429({**nan, "Retry-After": "soon"})
        case HostileKind.FAR_RESET_429:
            return _429({**spent, "X-RateLimit-Reset": str(FAR_RESET_EPOCH_S)})
        case _:  # RESET, and HANG after its wait (a processing kind never comes here)
            return drop(request)


def drop(request: web.Request) -> web.Response:
    """Close the connection without an answer; the response returned is never written."""
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=DROPPED)
