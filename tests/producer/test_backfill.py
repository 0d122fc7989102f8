"""``komo-braze publish FILE|-``: NDJSON in, confirmed messages out, bad lines reported by number."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
import pytest

from devtools.components import component_env, spawn
from komo_braze.bulk import Outgoing, Unusable
from producer.backfill import parse_line
from tests.broker import BrokerKit
from tests.komo_example import KOMO_BODY
from tests.proxy import TcpProxy
from tests.waiting import eventually


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


async def run_publish(
    broker: BrokerKit,
    source: str,
    stdin: bytes | None = None,
    *,
    amqp_url: str | None = None,
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> tuple[int, str, str]:
    """Run ``komo-braze publish`` to its end (and ``meanwhile`` while it runs); its status and output."""
    process = await spawn(
        "publish",
        source,
        "--max-in-flight",
        "16",
        env={**component_env(amqp_url=amqp_url or broker.amqp_url, prefix=broker.prefix), "COLUMNS": "200"},
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        if meanwhile is not None:
            stdout, stderr = (await asyncio.gather(process.communicate(stdin), meanwhile()))[0]
        else:
            stdout, stderr = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


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


async def test_losing_the_node_mid_run_resumes_on_another_and_says_how_many_were_republished(
    broker: BrokerKit, tmp_path: Path
) -> None:
    ids = [f"backfill-{n}" for n in range(3000)]
    source = tmp_path / "backfill.ndjson"
    source.write_bytes(b"".join(line(submission_id) for submission_id in ids))
    await broker.declare()
    async with TcpProxy.for_url(broker.amqp_url) as one, TcpProxy.for_url(broker.amqp_url) as two:
        nodes = f"{one.url_for(broker.amqp_url)},{two.url_for(broker.amqp_url)}"

        async def a_quarter_published() -> bool:
            return await broker.count(broker.names.work_queue()) >= len(ids) // 4

        async def lose_the_node_in_use() -> None:
            await eventually(a_quarter_published, what="a quarter of the lines published")
            (one if one.accepted else two).cut()

        status, stdout, stderr = await run_publish(broker, str(source), amqp_url=nodes, meanwhile=lose_the_node_in_use)
        assert (one.accepted, two.accepted) == (1, 1), "one connection to each node"
    assert status == 0, stderr
    finished = [orjson.loads(e) for e in stderr.splitlines() if b"publish_finished" in e.encode()]
    republished = finished[0]["republished"]
    assert republished > 0
    assert finished[0]["published"] == len(ids)
    assert re.search(rf"republished after a lost connection \(may arrive twice\)\s*│\s*{republished}\b", stdout)
    messages = await broker.drain(broker.names.work_queue())
    assert {m.message_id for m in messages} == set(ids)
    assert len(ids) <= len(messages) <= len(ids) + republished
