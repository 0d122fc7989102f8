"""Which dead letters a ``dlq`` command acts on: the filters every command shares.

A letter matches when it passes every filter given (kinds, hubs, workspaces and ids each match any of
their values); ``limit`` caps how many matching letters a command acts on, in queue order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from komo_braze.deadletter import DeadLetter
from komo_braze.envelope import parse_time

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d|w)$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_moment(text: str, now: datetime | None = None) -> datetime:
    """An ISO-8601 time (UTC unless it says otherwise) or an age such as ``30m``, ``2h``, ``7d``."""
    match = _AGO.match(text.strip())
    if match is not None:
        ago_s = float(match.group(1)) * _UNIT_S[match.group(2)]
        return (now or datetime.now(UTC)) - timedelta(seconds=ago_s)
    try:
        return parse_time(text.strip())
    except (TypeError, ValueError) as exc:
        raise ValueError(f"expected an ISO-8601 time or an age like 2h or 7d, got {text!r}") from exc


@dataclass(frozen=True, slots=True)
class LetterFilter:
    """The filters of ``list``, ``export``, ``replay`` and ``purge``; empty means "every letter"."""

    kinds: frozenset[str] = frozenset()
    hubs: frozenset[str] = frozenset()
    workspaces: frozenset[str] = frozenset()
    ids: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    @classmethod
    def build(
        cls,
        *,
        kinds: Iterable[str] = (),
        hubs: Iterable[str] = (),
        workspaces: Iterable[str] = (),
        ids: Iterable[str] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> LetterFilter:
        if limit is not None and limit < 0:
            raise ValueError("limit must not be negative")
        if since is not None and until is not None and since > until:
            raise ValueError("--since is later than --until")
        return cls(frozenset(kinds), frozenset(hubs), frozenset(workspaces), frozenset(ids), since, until, limit)

    @property
    def is_everything(self) -> bool:
        return not (self.kinds or self.hubs or self.workspaces or self.ids or self.since or self.until)

    def matches(self, letter: DeadLetter) -> bool:
        if self.kinds and letter.kind not in self.kinds:
            return False
        if self.hubs and letter.hub_id not in self.hubs:
            return False
        if self.workspaces and (letter.workspace or "") not in self.workspaces:
            return False
        if self.ids and letter.submission_id not in self.ids:
            return False
        if self.since is not None and (letter.failed_at is None or letter.failed_at < self.since):
            return False
        return not (self.until is not None and (letter.failed_at is None or letter.failed_at > self.until))

    def describe(self) -> dict[str, object]:
        """The filters given, for logs and summaries (ids are counted, not listed)."""
        described: dict[str, object] = {}
        if self.kinds:
            described["kinds"] = sorted(self.kinds)
        if self.hubs:
            described["hubs"] = sorted(self.hubs)
        if self.workspaces:
            described["workspaces"] = sorted(self.workspaces)
        if self.ids:
            described["ids"] = len(self.ids)
        if self.since is not None:
            described["since"] = self.since.isoformat()
        if self.until is not None:
            described["until"] = self.until.isoformat()
        if self.limit is not None:
            described["limit"] = self.limit
        return described
