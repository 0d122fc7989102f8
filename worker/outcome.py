"""What an answer from Braze means for the batch behind it: the outcome table of docs/architecture.md, in one place.

:func:`decide` turns an answer (or the failure to get one) into one :data:`Outcome` value; the sender
acts on the value and nothing else looks at status codes.

| answer                          | outcome                                                     |
| ------------------------------- | ----------------------------------------------------------- |
| 2xx, no ``errors``              | :class:`Accepted` (ack all)                                 |
| 2xx with ``errors[]``           | :class:`Accepted` with the named objects (dead-letter them)  |
| 2xx, body not a JSON object     | :class:`Retry` (a proxy's page, a cut body: not Braze's)     |
| 400, 413 (and any other 4xx)    | :class:`Split` (halves; an object failing alone: rejected)  |
| 429                             | :class:`RateLimited` (pause the workspace, resend)           |
| 5xx, 408, timeout, connection   | :class:`Retry` (backoff, then the breaker)                   |
| 401, 403, 404 (and 3xx)         | :class:`ConfigFault` (breaker open, nothing dead-lettered)   |

Only a JSON object body makes a 2xx an acceptance (Braze's ``201 {"message": "success"}``, or its
documented ``202 {"message": "queued"}``): a captive proxy's or maintenance page answers 200 too, and a
cut connection can leave half of Braze's JSON; taking those for success would ack what was never stored.

A 4xx that Braze does not document for this endpoint is treated like a 400: it says *this request* is
wrong, and splitting finds the object that makes it so without dead-lettering the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONFIG_FAULT_STATUSES = frozenset({401, 403, 404})
SPLIT_STATUSES = frozenset({400, 413})
#: the retry reason of a 2xx whose body is not a JSON object
NOT_JSON_2XX = "not_json_2xx"


@dataclass(frozen=True, slots=True)
class ObjectError:
    """One entry of Braze's ``errors[]``: the object at ``index`` of ``input_array`` was not processed."""

    input_array: str
    index: int
    reason: str


@dataclass(frozen=True, slots=True)
class Accepted:
    errors: tuple[ObjectError, ...] = ()


@dataclass(frozen=True, slots=True)
class Split:
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class RateLimited:
    pass


@dataclass(frozen=True, slots=True)
class Retry:
    reason: str  # "status_503", "timeout", "connection_error", "not_json_2xx"


@dataclass(frozen=True, slots=True)
class ConfigFault:
    status: int
    reason: str


Outcome = Accepted | Split | RateLimited | Retry | ConfigFault


def _errors(body: Any) -> tuple[ObjectError, ...]:
    if not isinstance(body, dict) or not isinstance(body.get("errors"), list):
        return ()
    found = []
    for entry in body["errors"]:
        if not isinstance(entry, dict):
            continue
        index, array = entry.get("index"), entry.get("input_array")
        if isinstance(index, int) and isinstance(array, str):
            found.append(ObjectError(array, index, str(entry.get("type") or "rejected by Braze")))
    return tuple(found)


def _message(body: Any, status: int) -> str:
    if isinstance(body, dict):
        for key in ("message", "error", "errors"):
            if body.get(key):
                return str(body[key])[:500]
    return f"HTTP {status}"


def decide(status: int | None, body: Any, *, failure: str | None = None) -> Outcome:
    """The outcome of one request: ``status`` and parsed ``body`` of the answer, or ``failure``
    (``"timeout"`` / ``"connection_error"``) when there was none."""
    if status is None:
        return Retry(failure or "connection_error")
    if 200 <= status < 300:
        return Accepted(_errors(body)) if isinstance(body, dict) else Retry(NOT_JSON_2XX)
    if status == 429:
        return RateLimited()
    if status in CONFIG_FAULT_STATUSES or status < 400:  # a redirect: the URL is not Braze's endpoint
        return ConfigFault(status, _message(body, status))
    if status >= 500 or status == 408:
        return Retry(f"status_{status}")
    return Split(status, _message(body, status))
