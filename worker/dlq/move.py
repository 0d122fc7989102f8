"""``replay`` and ``purge``: walk the dead-letter queue in order and move what matches.

A matching letter is *replayed* (published to the submissions exchange as a new submission, and its
dead copy acked only once the broker confirmed the copy) or *purged* (acked). Everything else, and
anything whose copy was not confirmed, stays held by the reader and goes back to the queue, in order,
when the reader closes, or when the process dies. So an interrupted run loses nothing and can simply
be run again; the only possible duplicates are copies confirmed whose dead copy was not acked yet when
the process died, at most ``max_in_flight`` of them.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

import aio_pika

from komo_braze.deadletter import REPLAYED_AT, DeadLetter
from komo_braze.envelope import parse_time, routing_key
from komo_braze.logs import get_logger
from worker.dlq.filters import LetterFilter
from worker.dlq.held import Held
from worker.dlq.metrics import DlqMetrics, kind_label
from worker.dlq.pipeline import Destination, Pipeline
from worker.dlq.reader import DeadLetterReader

log = get_logger(__name__)

#: acks sent last before a lost connection that the broker may not have had (at least max_in_flight)
UNSURE_ACKS = 1000


class Action(StrEnum):
    REPLAY = "replay"
    PURGE = "purge"
    DRY_RUN = "dry-run"  # count what replay or purge would move; move nothing


@dataclass
class MoveReport:
    action: Action
    depth: int = 0  # letters in the queue when the run started
    scanned: int = 0
    matched: int = 0  # letters the filters selected (up to --limit)
    moved: int = 0  # replayed (confirmed and acked) or purged
    failed: int = 0  # matched but the copy was not confirmed: the dead copy stays
    unroutable: int = 0  # matched but no hub to route by (not an envelope, no x-hub-id): stays
    moved_by_kind: Counter[str] = field(default_factory=Counter)
    matched_by_kind: Counter[str] = field(default_factory=Counter)
    matched_by_hub: Counter[str] = field(default_factory=Counter)
    failure: str | None = None
    connection_lost: bool = False  # the failure was the broker connection: another node may take over
    republished: int = 0  # replayed again after a lost connection; the first copy may have gone out
    resumes: int = 0  # times the run went on over a new connection
    # after a lost connection: ids whose copy may be out already (published, dead copy not acked, or its
    # ack sent just before the loss, which the broker may not have had: ``acked_unsure``, counted moved)
    in_doubt: set[str] = field(default_factory=set)
    acked_unsure: set[str] = field(default_factory=set)
    recounted_by_kind: Counter[str] = field(default_factory=Counter)  # moved again after an unsure ack
    interrupted: bool = False
    capacity_reached: bool = False
    duration_s: float = 0.0

    @property
    def left(self) -> int:
        """Letters read that stay in the queue."""
        return self.scanned - self.moved

    @property
    def rate_per_s(self) -> float:
        return self.moved / self.duration_s if self.duration_s > 0 else 0.0

    def resumed_from(self, before: MoveReport) -> MoveReport:
        """This report (of a run resumed on a new connection) counted on top of what ``before`` moved:
        the letters ``before`` only read were read again by this run."""
        self.depth = before.depth
        moved_before = before.moved - self.recounted_by_kind.total()
        self.scanned += moved_before
        self.matched += moved_before
        self.moved += moved_before
        self.moved_by_kind.update(before.moved_by_kind)
        self.moved_by_kind.subtract(self.recounted_by_kind)
        self.matched_by_kind.update(before.moved_by_kind)
        self.matched_by_kind.subtract(self.recounted_by_kind)
        self.republished += before.republished
        self.in_doubt |= before.in_doubt  # those acked since are gone from the queue: never seen again
        self.resumes = before.resumes + 1
        self.duration_s += before.duration_s
        return self

    def to_dict(self) -> dict[str, object]:
        return {
            "action": self.action.value,
            "depth_at_start": self.depth,
            "scanned": self.scanned,
            "matched": self.matched,
            "moved": self.moved,
            "left": self.left,
            "failed": self.failed,
            "unroutable": self.unroutable,
            "moved_by_kind": dict(self.moved_by_kind),
            "matched_by_kind": dict(self.matched_by_kind),
            "matched_by_hub": dict(self.matched_by_hub.most_common(50)),
            "failure": self.failure,
            "resumes": self.resumes,
            "republished": self.republished,
            "interrupted": self.interrupted,
            "capacity_reached": self.capacity_reached,
            "duration_s": round(self.duration_s, 3),
            "rate_per_s": round(self.rate_per_s, 1),
        }


def replayed_since(letter: DeadLetter, started_at: datetime) -> bool:
    """True when this run already replayed the letter (it failed again and came back while we ran)."""
    try:
        return parse_time(letter.headers.get(REPLAYED_AT)) >= started_at
    except (TypeError, ValueError):
        return False


Progress = Callable[[MoveReport], None]


async def move(
    reader: DeadLetterReader,
    letter_filter: LetterFilter,
    action: Action,
    *,
    destination: Destination | None,
    metrics: DlqMetrics,
    shutdown: asyncio.Event,
    max_in_flight: int = 2000,
    rate_per_s: float | None = None,
    publish_timeout_s: float = 10.0,
    progress: Progress | None = None,
    started_at: datetime | None = None,
    in_doubt: frozenset[str] = frozenset(),
    acked_unsure: frozenset[str] = frozenset(),
) -> MoveReport:
    """Move the letters ``letter_filter`` selects; returns what happened. ``destination`` for replay.

    A run resumed after a lost connection passes the first run's ``started_at``, ``in_doubt`` and
    ``acked_unsure`` (see :class:`MoveReport`): replaying one of those again is counted as
    ``republished``, and moving again one the first run counted as moved is not counted twice.
    """
    if action is Action.REPLAY and destination is None:
        raise ValueError("replay needs the submissions exchange")
    report = MoveReport(action, depth=reader.depth)
    started_at, started = started_at or datetime.now(UTC), time.monotonic()
    pipeline = Pipeline(max_in_flight, rate_per_s if action is Action.REPLAY else None)
    recently_acked: deque[str] = deque(maxlen=max(max_in_flight, UNSURE_ACKS))

    def count_moved(letter: DeadLetter) -> None:
        key = letter.submission_id or ""
        if key in acked_unsure:
            report.recounted_by_kind[letter.kind] += 1
        recently_acked.append(key)
        report.moved += 1
        report.moved_by_kind[letter.kind] += 1

    async def replay(held: Held, key: str) -> None:
        assert destination is not None
        metrics.in_flight.inc()
        letter = held.letter
        doubt = letter.submission_id or ""
        report.republished += doubt in in_doubt or doubt in acked_unsure
        report.in_doubt.add(doubt)
        try:
            await destination.publish(letter.body, letter.replay_properties(datetime.now(UTC)), key, publish_timeout_s)
        finally:
            metrics.in_flight.dec()
        await reader.ack(held)
        report.in_doubt.discard(doubt)
        count_moved(letter)
        metrics.replayed.labels(kind=kind_label(held.letter.kind)).inc()

    def give_up(held: Held) -> Callable[[str], None]:
        def on_failure(_reason: str) -> None:
            reader.unclaim(held)
            report.failed += 1
            metrics.failures.inc()

        return on_failure

    try:
        async for held in reader.letters():
            report.scanned += 1
            metrics.scanned.inc()
            letter = held.letter
            if letter_filter.matches(letter) and not replayed_since(letter, started_at):
                hub = letter.routing_hub
                if action is Action.REPLAY and hub is None:
                    report.unroutable += 1
                else:
                    report.matched += 1
                    report.matched_by_kind[letter.kind] += 1
                    report.matched_by_hub[letter.hub_id or "(none)"] += 1
                    if action is Action.PURGE:
                        await reader.ack(held, claimed=False)
                        count_moved(letter)
                        metrics.purged.labels(kind=kind_label(letter.kind)).inc()
                    elif action is Action.REPLAY:
                        assert hub is not None
                        reader.claim(held)
                        await pipeline.submit(functools.partial(replay, held, routing_key(hub)), give_up(held))
            if progress is not None:
                progress(report)
            if pipeline.failure is not None or shutdown.is_set():
                break
            if letter_filter.limit is not None and report.matched >= letter_filter.limit:
                break
    except (aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
        # RuntimeError: aiormq's ChannelInvalidStateError. The broker hands the held letters back.
        report.failure = f"broker connection lost ({type(exc).__name__})"
    finally:
        finished = await pipeline.drain(publish_timeout_s + 5)
        if report.failure is None and pipeline.failure is not None and reader.connection_lost:
            # a publish noticed first; what it raised may say little (aiormq fails pending confirms with
            # whatever closed the connection), so name the cause the operator can act on
            report.failure = f"broker connection lost ({pipeline.failure})"
        report.failure = report.failure or pipeline.failure
        report.connection_lost = report.failure is not None and reader.connection_lost
        if not finished:
            report.failure = report.failure or "confirms still outstanding at the end"
        report.interrupted = shutdown.is_set()
        report.capacity_reached = reader.capacity_reached
        report.duration_s = time.monotonic() - started
        if progress is not None:
            progress(report)
        if report.connection_lost:
            report.acked_unsure = set(recently_acked)
            report.in_doubt |= report.acked_unsure
        report.in_doubt.discard("")
        report.acked_unsure.discard("")
        summary = {k: v for k, v in report.to_dict().items() if k not in ("matched_by_hub",)}
        log.info("dlq_move_finished", **summary, **letter_filter.describe())
    return report
