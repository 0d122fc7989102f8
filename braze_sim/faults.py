"""Faults on demand: a share of 5xx, added latency, hanging requests, a window of 401 (or of 403: a key
without the ``users.track`` permission), an outage, a storm of 429. Set at start (flags) or at run
time (``POST /_sim/faults``); windows count from then.

An outage answers 503 by default: Braze sits behind load balancers that keep answering while the
service behind them is down. ``outage_mode="drop"`` closes connections without an answer instead.
"""

from __future__ import annotations

import random
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from braze_sim.config import FaultSpec, OutageMode
from braze_sim.hostile import ALL_KINDS, FIVE_XX, HostileKind


class Action(StrEnum):
    NONE = "none"
    OUTAGE_503 = "outage_503"
    OUTAGE_DROP = "outage_drop"
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    STORM_429 = "storm_429"
    HANG = "hang"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Plan:
    """What the faults make of one request: a delay first, then the checks that apply."""

    delay_s: float
    before_auth: Action  # outage, window of 401 or 403
    after_auth: Action  # 429 storm, hang, 5xx share
    error_status: int = 0
    hostile: HostileKind | None = None  # a hostile answer instead of (or around) the normal one


NO_FAULT = Plan(0.0, Action.NONE, Action.NONE)


class Faults:
    """The fault settings in force and the deadlines of their windows (monotonic clock)."""

    def __init__(self, spec: FaultSpec, seed: int | None = None) -> None:
        self._random = random.Random(seed)
        self.spec = FaultSpec()
        self._until: dict[str, float] = {}
        self.active = False
        self.apply(spec)

    def apply(self, spec: FaultSpec) -> None:
        """Put ``spec`` in force; its windows start now."""
        now = time.monotonic()
        self.spec = spec
        self._until = {
            "unauthorized": now + spec.unauthorized_for_s,
            "forbidden": now + spec.forbidden_for_s,
            "outage": now + spec.outage_for_s,
            "storm_429": now + spec.storm_429_for_s,
        }
        self.active = spec != FaultSpec()

    def update(self, changes: dict[str, Any]) -> None:
        """Change some settings; the windows named in ``changes`` restart, the others keep running."""
        carried = {f"{name}_for_s": left for name, left in self.remaining_s().items()}
        self.apply(FaultSpec.from_mapping({**asdict(self.spec), **carried, **changes}))

    def remaining_s(self) -> dict[str, float]:
        now = time.monotonic()
        return {name: round(max(0.0, until - now), 3) for name, until in self._until.items()}

    def describe(self) -> dict[str, Any]:
        described = asdict(self.spec)
        described["outage_mode"] = self.spec.outage_mode.value
        described["error_statuses"] = list(self.spec.error_statuses)
        described["hostile_kinds"] = [kind.value for kind in self.spec.hostile_kinds]
        described["remaining_s"] = self.remaining_s()
        return described

    def plan(self) -> Plan:
        """Draw the faults for one request."""
        if not self.active:
            return NO_FAULT
        spec = self.spec
        now = time.monotonic()
        draw = self._random.random
        delay_s = (spec.latency_ms + (draw() * spec.latency_jitter_ms if spec.latency_jitter_ms else 0.0)) / 1000
        before = Action.NONE
        if now < self._until["outage"]:
            before = Action.OUTAGE_DROP if spec.outage_mode is OutageMode.DROP else Action.OUTAGE_503
        elif now < self._until["unauthorized"]:
            before = Action.UNAUTHORIZED
        elif now < self._until["forbidden"]:
            before = Action.FORBIDDEN
        after = Action.NONE
        status = 0
        if now < self._until["storm_429"]:
            after = Action.STORM_429
        elif spec.hang_rate and draw() < spec.hang_rate:
            after = Action.HANG
        elif spec.error_rate and draw() < spec.error_rate:
            after = Action.ERROR
            status = self._random.choice(spec.error_statuses)
        hostile = None
        if spec.hostile_rate and after is Action.NONE and draw() < spec.hostile_rate:
            hostile = self._random.choice(spec.hostile_kinds or ALL_KINDS)
            if hostile is HostileKind.ERROR_5XX:
                status = self._random.choice(FIVE_XX)
        return Plan(delay_s, before, after, status, hostile)
