"""How fast the mapper is against how fast one aio-pika consumer can take messages (``python -m bench mapping``).

The mapper must never be the worker's bottleneck: the aim is at least three times the raw consume rate of
one aio-pika consumer (consume and ack, prefetch 1000, persistent messages on a quorum queue) measured in
the same run on the same machine. Submissions are full entry forms of the example mapping's ``"*"`` hub,
each from a different person (every per-user cache is cleared between rounds), mapped on one core, with
and without the phone field; a third figure shows people who enter again (the caches answer).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import yaml

from komo_braze.envelope import Envelope
from komo_braze.settings import load_settings
from worker.mapping import Mapped, MappingConfig, load_mapping
from worker.mapping.convert_contact import _domain_forms, _e164, _normal_email

EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "mapping.example.yaml"
AIM_RATIO = 3.0
RETURNING_USERS = 2_000  # well inside the converters' caches
DOMAINS = ["gmail.com", "hotmail.com", "outlook.com", "yahoo.com.au", "bigpond.com", "icloud.com", "optusnet.com.au"]
NAMES = [("Joe", "Bloggs"), ("Zoë", "Ångström"), ("Nguyễn", "Văn An"), ("Siobhán", "O'Brien"), ("Aroha", "Ngata")]
BIRTHS = ["1990-05-17", "17/05/1990", "17 May 1990", "May 17, 1990", "03.11.1984", "19761231"]
COUNTRIES = ["Australia", "AU", "New Zealand", "United Kingdom", "USA", "Viet Nam", "Ireland"]
GENDERS = ["Male", "female", "Non-binary", "Prefer not to say"]


def entry_form(number: int) -> dict[str, Any]:
    """A Komo body as an entry form sends it: the documented fields plus contact properties, all text."""
    first, last = NAMES[number % len(NAMES)]
    mobile = f"04{number % 100_000_000:08d}" if number % 2 else f"+61 4{number % 100_000_000:08d}"
    return {
        "id": str(uuid.UUID(int=number)),
        "event": "CompetitionEntrySuccess",
        "timestamp": "2026-01-01T09:30:00.000Z",
        "site_id": "7a0c4e21-3b5d-4f6e-8a9b-0c1d2e3f4a5b",
        "site_name": "Winter Hub",
        "card_id": "dd0b77cd-2e3f-4a5b-9c8d-7e6f5a4b3c2d",
        "card_name": "Footy Tipping Quiz",
        "card_type": "Quiz",
        "score": str(number % 10),
        "submission_id": str(uuid.UUID(int=number + 1)),
        "email": f"Entrant.{number}@{DOMAINS[number % len(DOMAINS)]}",
        "first_name": first,
        "last_name": last,
        "mobile": mobile,
        "date_of_birth": BIRTHS[number % len(BIRTHS)],
        "country": COUNTRIES[number % len(COUNTRIES)],
        "gender": GENDERS[number % len(GENDERS)],
        "optin": "true" if number % 3 else "false",
        "sms_optin": "true" if number % 4 else "",
        "interests": "footy, cricket" if number % 5 else "tennis",
        "favourite_team": "Sydney Swans",
    }


def documented_body(number: int) -> dict[str, Any]:
    """The reference file's example body (email, names, consent) from a different person each time."""
    body = entry_form(number)
    body["site_id"] = "2d5776b8-8f1e-4c1a-9d57-1e3f0a9b2c11"
    for field in ("mobile", "date_of_birth", "country", "gender", "sms_optin", "interests", "favourite_team"):
        del body[field]
    return body


def without_phone(path: Path) -> MappingConfig:
    """The example mapping with every phone field taken out."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    for hub in document["hubs"].values():
        attributes = hub.get("attributes", {})
        for field, spec in list(attributes.items()):
            target = spec if isinstance(spec, str) else spec.get("to")
            if target == "phone" or (isinstance(spec, dict) and spec.get("type") == "phone"):
                del attributes[field]
    return MappingConfig.from_text(yaml.safe_dump(document), "example without phone")


def clear_caches() -> None:
    for cached in (_normal_email, _e164, _domain_forms):
        cached.cache_clear()


def mapping_rate(config: MappingConfig, envelopes: list[Envelope], rounds: int, *, fresh_users: bool) -> float:
    """Submissions mapped per second, best of ``rounds``."""
    best = float("inf")
    for _ in range(rounds):
        if fresh_users:
            clear_caches()
        started = time.perf_counter()
        for envelope in envelopes:
            config.map(envelope)
        best = min(best, time.perf_counter() - started)
    return len(envelopes) / best


async def consume_rate(amqp_url: str, messages: int, prefetch: int, body: bytes) -> float:
    """Messages per second one aio-pika consumer takes and acks from a quorum queue of its own."""
    queue_name = f"bench-mapping-{uuid.uuid4().hex[:10]}.consume"
    connection = await aio_pika.connect(amqp_url, timeout=10)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await channel.declare_queue(queue_name, durable=True, arguments={"x-queue-type": "quorum"})
        try:
            message = aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
            for start in range(0, messages, 500):
                publishes = [
                    channel.default_exchange.publish(message, routing_key=queue_name)
                    for _ in range(min(500, messages - start))
                ]
                await asyncio.wait_for(asyncio.gather(*publishes), timeout=60)
            consumer = await connection.channel()
            await consumer.set_qos(prefetch_count=prefetch)
            consumed = await consumer.get_queue(queue_name)
            taken = 0
            started = time.perf_counter()
            async with consumed.iterator(timeout=30) as incoming:
                async for delivery in incoming:
                    await delivery.ack()
                    taken += 1
                    if taken == messages:
                        break
            return messages / (time.perf_counter() - started)
        finally:
            await channel.queue_delete(queue_name)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench mapping", description=__doc__)
    parser.add_argument("--submissions", type=int, default=20_000, help="distinct submissions mapped per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per measurement; the best counts")
    parser.add_argument("--messages", type=int, default=50_000, help="messages for the consume baseline")
    parser.add_argument("--prefetch", type=int, default=1000, help="prefetch of the baseline consumer")
    args = parser.parse_args(argv)

    config = load_mapping(EXAMPLE)
    received_at = datetime.now(UTC)
    envelopes = [Envelope.from_komo(entry_form(n), received_at=received_at) for n in range(args.submissions)]
    outcomes = [config.map(envelope) for envelope in envelopes]
    mapped = [o for o in outcomes if isinstance(o, Mapped)]
    if len(mapped) != len(outcomes) or any(m.rejected for m in mapped):
        print("the benchmark bodies do not map cleanly: fix bench_mapping.entry_form")
        return 2
    returning = [envelopes[n % RETURNING_USERS] for n in range(len(envelopes))]  # each enters several times
    documented = [Envelope.from_komo(documented_body(n), received_at=received_at) for n in range(args.submissions)]
    variants: dict[str, Callable[[], float]] = {
        "with phone parsing": lambda: mapping_rate(config, envelopes, args.rounds, fresh_users=True),
        "without phone parsing": lambda: mapping_rate(without_phone(EXAMPLE), envelopes, args.rounds, fresh_users=True),
        "with phone, returning users": lambda: mapping_rate(config, returning, args.rounds, fresh_users=False),
        "documented body, Summer Hub": lambda: mapping_rate(config, documented, args.rounds, fresh_users=True),
    }
    rates = {name: measure() for name, measure in variants.items()}

    amqp_url = load_settings().amqp_url.get_secret_value()
    try:
        baseline = asyncio.run(consume_rate(amqp_url, args.messages, args.prefetch, envelopes[0].encode()))
    except (OSError, aio_pika.exceptions.AMQPError, TimeoutError) as exc:
        print(f"no broker for the consume baseline: {type(exc).__name__}: {exc}")
        return 2

    print(f"mapper: example mapping, {args.submissions} distinct entry forms, best of {args.rounds}, one core")
    for name, rate in rates.items():
        print(f"  {name:<30} {rate:>10,.0f} submissions/s   {1e6 / rate:6.1f} us each   {rate / baseline:5.1f}x")
    print(f"consume: one aio-pika consumer, prefetch {args.prefetch}, {args.messages} persistent messages, quorum")
    print(f"  {'consume and ack':<30} {baseline:>10,.0f} messages/s")
    worst = min(rates["with phone parsing"], rates["without phone parsing"])
    verdict = "met" if worst >= AIM_RATIO * baseline else "MISSED"
    print(f"aim: mapper >= {AIM_RATIO:.0f}x consume rate (fresh users, with phone): {worst / baseline:.1f}x, {verdict}")
    return 0 if verdict == "met" else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
