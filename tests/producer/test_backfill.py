"""``komo-braze publish FILE|-``: NDJSON in, confirmed messages out, bad lines reported by number."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from devtools.components import component_env
from komo_braze.bulk import Outgoing, Unusable
from producer.backfill import parse_line
from tests.broker import BrokerKit
from tests.cli import run_komo_braze
from tests.komo_example import KOMO_BODY


def line(submission_id: str, **changes: object) -> bytes:
    return orjson.dumps({**KOMO_BODY, "submission_id": submission_id, **changes}) + b"\n"


def test_a_good_line_becomes_an_enveloped_persistent_message() -> None:
    item = parse_line(7, line("s-1"))
    assert isinstance(item, Outgoing)
    assert item.position == 7
    assert item.routing_key == f"hub.{KOMO_BODY['site_id']}"
    assert item.message.message_id == "s-1"
    assert orjson.loads(item.message.body)["payload"]["submission_id"] == "s-1"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b"{oops\n", "not valid JSON"),
        (b"[1, 2]\n", "not a JSON object"),
        (b'{"site_id": "s"}\n', "no submission_id"),
        (b'{"id": "x"}\n', "no site_id"),
        (b'{"id": "x", "site_id": "%s"}\n' % (b"h" * 252), "site_id takes 256 bytes in the routing key"),
        (b'{"id": "%s", "site_id": "s"}\n' % (b"i" * 256), "submission_id takes 256 bytes"),
    ],
)
def test_a_bad_line_is_unusable_with_its_reason(text: bytes, reason: str) -> None:
    item = parse_line(3, text)
    assert isinstance(item, Unusable)
    assert item.position == 3
    assert reason in item.reason


def test_a_blank_line_is_nothing() -> None:
    assert parse_line(1, b"  \n") is None


async def run_publish(broker: BrokerKit, source: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    env = component_env(amqp_url=broker.amqp_url, prefix=broker.prefix)
    finished = await run_komo_braze("publish", source, "--max-in-flight", "16", env=env, stdin=stdin)
    return finished.status, finished.stdout, finished.stderr


async def test_a_file_with_bad_lines_publishes_every_good_line_and_names_the_bad_ones(
    broker: BrokerKit, tmp_path: Path
) -> None:
    good = [f"good-{n}" for n in range(200)]
    lines = [line(submission_id) for submission_id in good]
    lines.insert(2, b'{"broken": \n')  # line 3
    lines.insert(4, b"\n")  # line 5: blank, ignored
    lines.insert(9, line("no-site", site_id=None))  # line 10
    source = tmp_path / "backfill.ndjson"
    source.write_bytes(b"".join(lines))

    status, stdout, stderr = await run_publish(broker, str(source))

    assert status == 1
    assert "line 3: not valid JSON" in stderr
    assert "line 10: body has no site_id" in stderr
    assert "line 5" not in stderr
    assert "published (confirmed by the broker)" in stdout
    assert " 200 " in stdout
    messages = await broker.drain(broker.names.work_queue())
    assert sorted(m.message_id for m in messages if m.message_id) == sorted(good)
    assert len(messages) == 200


async def test_stdin_with_only_good_lines_exits_zero(broker: BrokerKit) -> None:
    status, stdout, stderr = await run_publish(broker, "-", stdin=b"".join(line(f"in-{n}") for n in range(25)))
    assert status == 0, stderr
    assert await broker.wait_for_count(broker.names.work_queue(), 25) == 25
    assert "failed lines" in stdout
