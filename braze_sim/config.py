"""What one simulator instance is told at start: its workspaces (API keys), rate limit, batch mode,
size limits, and the faults it starts with. Built from flags by the CLI or from arguments by tests."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from braze_sim.hostile import DEFAULT_REDIRECT_TO, HostileKind, parse_kinds
from komo_braze.settings import parse_rate

#: Braze's documented request limits (reference: "Request")
MAX_OBJECTS = 75
MAX_BODY_BYTES = 4_000_000
DEFAULT_RATE_LIMIT = "3000/3s"


class ObjectLimitMode(StrEnum):
    COMBINED = "combined"  # at most 75 objects in all three arrays together (current accounts)
    PER_ARRAY = "per-array"  # at most 75 in each array (legacy accounts)


class OutageMode(StrEnum):
    #: the load balancer in front of Braze still answers, with 503: what real outages look like
    ANSWER_503 = "503"
    #: the connection is closed without an answer (a connection error for the client)
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Workspace:
    """One Braze workspace: its REST API key and a name for the admin endpoints and the log."""

    name: str
    api_key: str

    def __repr__(self) -> str:  # the key is a secret, even a test one
        return f"Workspace(name={self.name!r})"


_NOT_NUMBERS = frozenset({"error_statuses", "outage_mode", "hostile_kinds", "redirect_to"})


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """Faults to inject. Shares are 0..1; ``*_for_s`` are windows counted from when they are set."""

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 502, 503)
    latency_ms: float = 0.0
    latency_jitter_ms: float = 0.0
    hang_rate: float = 0.0
    hang_s: float = 3600.0
    unauthorized_for_s: float = 0.0
    forbidden_for_s: float = 0.0
    outage_for_s: float = 0.0
    outage_mode: OutageMode = OutageMode.ANSWER_503
    storm_429_for_s: float = 0.0
    #: hostile mode (:mod:`braze_sim.hostile`): this share of requests gets a hostile answer
    hostile_rate: float = 0.0
    #: the kinds drawn from (empty: all)
    hostile_kinds: tuple[HostileKind, ...] = ()
    hostile_hang_s: float = 2.0
    #: where a hostile redirect points
    redirect_to: str = DEFAULT_REDIRECT_TO

    def __post_init__(self) -> None:
        for name in ("error_rate", "hang_rate", "hostile_rate"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {share}")
        for name in (
            "latency_ms",
            "latency_jitter_ms",
            "unauthorized_for_s",
            "forbidden_for_s",
            "outage_for_s",
            "storm_429_for_s",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.hang_s <= 0 or self.hostile_hang_s <= 0:
            raise ValueError("hang_s and hostile_hang_s must be positive")
        if not self.redirect_to.startswith(("http://", "https://")):
            raise ValueError(f"redirect_to must be an http(s) URL, got {self.redirect_to!r}")
        if not self.error_statuses or any(not 500 <= s <= 599 for s in self.error_statuses):
            raise ValueError(f"error_statuses must be 5xx codes, got {self.error_statuses}")

    @classmethod
    def from_mapping(cls, values: dict[str, object]) -> FaultSpec:
        """Build from JSON-like values (admin endpoint, keyword arguments); unknown names are an error."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown fault(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        cleaned: dict[str, object] = dict(values)
        if "error_statuses" in cleaned:
            statuses = cleaned["error_statuses"]
            if not isinstance(statuses, list | tuple):
                raise ValueError("error_statuses must be a list of 5xx codes")
            cleaned["error_statuses"] = tuple(int(s) for s in statuses)
        if "outage_mode" in cleaned:
            cleaned["outage_mode"] = OutageMode(str(cleaned["outage_mode"]))
        if "hostile_kinds" in cleaned:
            cleaned["hostile_kinds"] = parse_kinds(cleaned["hostile_kinds"])
        if not isinstance(cleaned.get("redirect_to", ""), str):
            raise ValueError("redirect_to must be a URL")
        for name, value in cleaned.items():
            if name not in _NOT_NUMBERS and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ValueError(f"{name} must be a number")
        return cls(**cleaned)  # type: ignore[arg-type]


def workspaces_from_keys(keys: Iterable[str]) -> tuple[Workspace, ...]:
    """``KEY`` or ``NAME=KEY`` per workspace; unnamed keys are called ``ws1``, ``ws2``, ..."""
    workspaces: list[Workspace] = []
    for index, text in enumerate(keys, start=1):
        name, sep, key = text.partition("=")
        if not sep:
            name, key = f"ws{index}", text
        if not key or not name:
            raise ValueError("an API key must not be empty")
        workspaces.append(Workspace(name=name, api_key=key))
    if not workspaces:
        raise ValueError("at least one API key is needed")
    if len({w.name for w in workspaces}) != len(workspaces) or len({w.api_key for w in workspaces}) != len(workspaces):
        raise ValueError("workspace names and API keys must be unique")
    return tuple(workspaces)


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Everything a simulator is started with; run-time changes go through the admin endpoints."""

    workspaces: tuple[Workspace, ...]
    rate_limit: str = DEFAULT_RATE_LIMIT
    mode: ObjectLimitMode = ObjectLimitMode.COMBINED
    faults: FaultSpec = field(default_factory=FaultSpec)
    max_objects: int = MAX_OBJECTS
    max_body_bytes: int = MAX_BODY_BYTES
    #: retained events, purchases and request-log entries (oldest dropped; stats count everything)
    max_kept_records: int = 200_000
    seed: int | None = None

    def __post_init__(self) -> None:
        parse_rate(self.rate_limit)
        if self.max_objects < 1 or self.max_body_bytes < 1 or self.max_kept_records < 1:
            raise ValueError("limits must be positive")

    @classmethod
    def from_keys(cls, api_keys: Iterable[str], **options: object) -> SimConfig:
        return cls(workspaces=workspaces_from_keys(api_keys), **options)  # type: ignore[arg-type]

    @property
    def rate(self) -> tuple[int, float]:
        """``(requests, window_s)`` of the rate limit."""
        return parse_rate(self.rate_limit)
