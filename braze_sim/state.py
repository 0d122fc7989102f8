"""Everything the simulator remembers: per workspace its profiles and rate limiter, every accepted
event and purchase, a log of requests, and the counters behind ``/_sim/stats``."""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from braze_sim.config import SimConfig, Workspace
from braze_sim.kept import Kept, KeptLog
from braze_sim.profiles import Profile, ProfileStore
from braze_sim.ratelimit import WindowLimiter
from braze_sim.scan import fast_scan
from braze_sim.validation import NOT_AN_OBJECT, validate_event_object, validate_purchase_object


@dataclass(slots=True)
class WorkspaceState:
    workspace: Workspace
    limiter: WindowLimiter
    profiles: ProfileStore = field(default_factory=ProfileStore)


def kept_json(kept: Kept, profile: Profile | None) -> dict[str, Any]:
    """What the admin endpoints show of a kept event or purchase."""
    user = {"braze_id": kept.braze_id, "external_id": profile.external_id if profile else None}
    return {"workspace": kept.workspace, **user, **kept.obj, "received_at": kept.received_at}


@dataclass(slots=True)
class RequestRecord:
    """One answered request, as the request log and the CLI's one-line log show it."""

    at: float
    workspace: str | None
    status: int
    attributes: int = 0
    events: int = 0
    purchases: int = 0
    errors: int = 0
    latency_ms: float = 0.0
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "workspace": self.workspace,
            "status": self.status,
            "attributes": self.attributes,
            "events": self.events,
            "purchases": self.purchases,
            "errors": self.errors,
            "latency_ms": round(self.latency_ms, 3),
            "note": self.note,
        }


@dataclass(slots=True)
class TrackOutcome:
    processed: dict[str, int]
    errors: list[dict[str, Any]]


class SimState:
    """The simulator's memory. Not thread-safe: one event loop owns it."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.workspaces: dict[str, WorkspaceState] = {}
        self.by_key: dict[str, WorkspaceState] = {}
        self.rate_limit = config.rate_limit
        self.reset()

    def reset(self) -> None:
        """Forget profiles, events, purchases, the request log, counters and rate-limit windows."""
        keep = self.config.max_kept_records
        self.workspaces = {
            w.name: WorkspaceState(workspace=w, limiter=WindowLimiter(self.rate_limit)) for w in self.config.workspaces
        }
        self.by_key = {state.workspace.api_key: state for state in self.workspaces.values()}
        self.events = KeptLog(keep)
        self.purchases = KeptLog(keep)
        self.requests: deque[RequestRecord] = deque(maxlen=keep)
        self.by_status: Counter[int] = Counter()
        self.objects: Counter[str] = Counter()
        self.rejected_objects: Counter[str] = Counter()
        self.skipped_objects: Counter[str] = Counter()
        self.started_at = time.time()

    def set_rate_limit(self, rate: str, workspace: str | None = None) -> None:
        """A new limit, for one workspace or all (and for all after a reset); windows start afresh."""
        limiter = WindowLimiter(rate)  # validates the text
        if workspace is None:
            self.rate_limit = rate
            for state in self.workspaces.values():
                state.limiter = WindowLimiter(rate)
            return
        self.workspace(workspace).limiter = limiter

    def workspace(self, name_or_key: str) -> WorkspaceState:
        state = self.workspaces.get(name_or_key) or self.by_key.get(name_or_key)
        if state is None:
            raise KeyError(name_or_key)
        return state

    def record(self, entry: RequestRecord) -> None:
        self.requests.append(entry)
        self.by_status[entry.status] += 1

    def track(self, state: WorkspaceState, arrays: tuple[list[Any], ...]) -> TrackOutcome:
        """Apply a request that passed the request-level checks: attributes, then events, then purchases."""
        attributes, events, purchases = arrays
        errors: list[dict[str, Any]] = []
        processed: dict[str, int] = {}
        store = state.profiles
        name = state.workspace.name
        now = time.time()
        # the loops below run for every object of every request: look-ups are bound to locals and the
        # usual identifier (a known external_id) is resolved inline
        by_external_id = store.by_external_id
        if attributes:
            count = 0
            for index, obj in enumerate(attributes):
                if type(obj) is not dict:
                    errors.append({"type": NOT_AN_OBJECT, "input_array": "attributes", "index": index})
                    continue
                problems, plain, special = fast_scan(obj)
                if problems:
                    errors.append({"type": problems[0], "input_array": "attributes", "index": index})
                    continue
                count += 1
                profile = by_external_id.get(obj["external_id"]) if "external_id" in obj else None
                if profile is None:
                    profile = store.find_or_create(obj, attributes=True, now=now)
                if profile is None:
                    self.skipped_objects["attributes"] += 1
                else:
                    store.apply_scanned(profile, obj, plain, special, now)
            processed["attributes_processed"] = count
        sequence = store.sequence
        for array, items, validate, kept in (
            ("events", events, validate_event_object, self.events),
            ("purchases", purchases, validate_purchase_object, self.purchases),
        ):
            if not items:
                continue
            count = 0
            is_event = array == "events"
            accepted: list[dict[str, Any]] = []
            braze_ids: list[str] = []
            for index, obj in enumerate(items):
                problems = validate(obj)
                if problems:
                    errors.append({"type": problems[0], "input_array": array, "index": index})
                    continue
                count += 1
                profile = by_external_id.get(obj["external_id"]) if "external_id" in obj else None
                if profile is None:
                    profile = store.find_or_create(obj, attributes=False, now=now)
                    if profile is None:
                        self.skipped_objects[array] += 1
                        continue
                if is_event:
                    profile.event_count += 1
                else:
                    profile.purchase_count += 1
                profile.updated_seq = next(sequence)
                profile.updated_at = now
                accepted.append(obj)
                braze_ids.append(profile.braze_id)
            if accepted:
                kept.add(name, braze_ids, accepted, now)
            processed[f"{array}_processed"] = count
        for array, items in zip(("attributes", "events", "purchases"), arrays, strict=True):
            self.objects[array] += len(items)
        for error in errors:
            self.rejected_objects[error["input_array"]] += 1
        return TrackOutcome(processed, errors)

    def stats(self) -> dict[str, Any]:
        return {
            "uptime_s": round(time.time() - self.started_at, 3),
            "requests": sum(self.by_status.values()),
            "by_status": {str(status): count for status, count in sorted(self.by_status.items())},
            "rate_limited": self.by_status.get(429, 0),
            "objects": {a: self.objects.get(a, 0) for a in ("attributes", "events", "purchases")},
            "rejected_objects": {a: self.rejected_objects.get(a, 0) for a in ("attributes", "events", "purchases")},
            "skipped_objects": {a: self.skipped_objects.get(a, 0) for a in ("attributes", "events", "purchases")},
            "profiles": {name: len(state.profiles) for name, state in self.workspaces.items()},
            "rate_limit": {name: f"{s.limiter.limit}/{s.limiter.window_s:g}s" for name, s in self.workspaces.items()},
        }
