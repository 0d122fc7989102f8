"""Every ``komo-braze dlq`` command, run for real as a subprocess against the broker."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import orjson

from devtools.components import spawn
from komo_braze.deadletter import ErrorKind
from tests.broker import BrokerKit
from tests.cli import run_komo_braze
from tests.prometheus import check_metrics
from tests.worker.dlq.letters import fill, letter_of, message_ids

ROOT = Path(__file__).resolve().parents[3]


async def komo_braze(broker: BrokerKit, *args: str, timeout_s: float = 60) -> tuple[int, str, str]:
    finished = await run_komo_braze(*args, env=broker.env(), timeout_s=timeout_s)
    return finished.status, finished.stdout, finished.stderr


async def filled(broker: BrokerKit, count: int) -> list[str]:
    await broker.declare()
    async with broker.connection() as connection:
        return [s.submission_id for s in await fill(connection, broker.prefix, count)]


async def test_stats_counts_by_kind_hub_and_workspace_and_changes_nothing(broker: BrokerKit) -> None:
    everything = await filled(broker, 30)
    status, out, err = await komo_braze(broker, "dlq", "stats", "--json")
    assert status == 0, err
    stats = orjson.loads(out)
    assert stats["total"] == 30
    assert stats["by_kind"] == {"braze_rejected": 10, "no_identifier": 10, "unmapped_hub": 10}
    assert stats["by_hub"] == {"hub-a": 12, "hub-b": 9, "hub-c": 9}
    assert stats["by_workspace"] == {"default": 24, "client_b": 6}
    assert (stats["oldest_failure"], stats["newest_failure"]) == (
        "2026-11-01T00:00:00.000Z",
        "2026-11-01T00:29:00.000Z",
    )
    status, out, _ = await komo_braze(broker, "dlq", "stats")
    assert status == 0
    assert "braze_rejected" in out
    assert "client_b" in out
    assert message_ids(await broker.drain(broker.names.dead_queue)) == everything


async def test_list_prints_one_masked_line_per_matching_letter(broker: BrokerKit) -> None:
    await filled(broker, 12)
    status, out, err = await komo_braze(broker, "dlq", "list", "--kind", "no_identifier", "--json")
    assert status == 0, err
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert [r["submission_id"] for r in rows] == ["sub-000001", "sub-000004", "sub-000007", "sub-000010"]
    assert rows[0]["detail"] == "Invalid email address u***@e***.com"
    assert "@example.com" not in out
    status, out, _ = await komo_braze(broker, "dlq", "list", "--limit", "2", "--reveal")
    lines = out.splitlines()
    assert lines[0].startswith("SUBMISSION_ID")
    assert len(lines) == 3
    assert "user0@example.com" in lines[1]
    assert await broker.count(broker.names.dead_queue) == 12


async def test_show_masks_emails_and_phones_unless_revealed(broker: BrokerKit) -> None:
    await filled(broker, 5)
    status, out, err = await komo_braze(broker, "dlq", "show", "sub-000003")
    assert status == 0, err
    record = orjson.loads(out)
    assert record["position"] == 4
    assert record["headers"]["x-error-kind"] == "braze_rejected"
    assert record["envelope"]["payload"]["email"] == "u***@e***.com"
    assert record["envelope"]["payload"]["mobile"] == "+** *** *** *78"
    assert "user3@example.com" not in out
    status, out, _ = await komo_braze(broker, "dlq", "show", "sub-000003", "--reveal")
    assert orjson.loads(out)["envelope"]["payload"]["email"] == "user3@example.com"
    status, _, err = await komo_braze(broker, "dlq", "show", "sub-999999")
    assert status == 1
    assert "no dead letter" in err


async def test_export_then_import_puts_letters_back_on_the_work_routing_or_the_dlq(
    broker: BrokerKit, tmp_path: Path
) -> None:
    everything = await filled(broker, 20)
    exported = tmp_path / "hub-b.ndjson"
    status, _, err = await komo_braze(broker, "dlq", "export", str(exported), "--hub", "hub-b")
    assert status == 0, err
    assert "exported 6 of 20" in err
    lines = exported.read_bytes().splitlines()
    assert [orjson.loads(line)["message_id"] for line in lines] == [f"sub-{n:06d}" for n in (3, 4, 5, 12, 13, 14)]
    assert message_ids(await broker.drain(broker.names.dead_queue)) == everything  # export removed nothing

    status, out, err = await komo_braze(broker, "dlq", "import", str(exported), "--json")
    assert status == 0, err
    assert orjson.loads(out)["published"] == 6
    work = await broker.drain(broker.names.work_queue())
    assert message_ids(work) == [f"sub-{n:06d}" for n in (3, 4, 5, 12, 13, 14)]
    assert all(m.headers["x-replay-count"] == 1 for m in work)

    status, _, err = await komo_braze(broker, "dlq", "import", str(exported), "--to-dlq")
    assert status == 0, err
    status, out, _ = await komo_braze(broker, "dlq", "stats", "--json")
    assert orjson.loads(out)["by_hub"] == {"hub-b": 6}
    status, _, err = await komo_braze(broker, "dlq", "export", str(exported), "--hub", "hub-b")
    assert status == 2
    assert "--force" in err


async def test_import_names_the_lines_it_could_not_use(broker: BrokerKit, tmp_path: Path) -> None:
    await broker.declare()
    source = tmp_path / "broken.ndjson"
    source.write_bytes(b'{"message_id": "x", "envelope": {"v": 1}}\nnot json\n\n{"headers": {}}\n')
    status, out, _ = await komo_braze(broker, "dlq", "import", str(source), "--json")
    assert status == 1
    report = orjson.loads(out)
    assert report["published"] == 0
    assert [f["line"] for f in report["failed_lines"]] == [1, 2, 4]


async def test_import_of_ids_and_headers_too_long_for_amqp_names_the_lines_and_publishes_the_rest(
    broker: BrokerKit, tmp_path: Path
) -> None:
    await filled(broker, 3)
    exported = tmp_path / "all.ndjson"
    assert (await komo_braze(broker, "dlq", "export", str(exported)))[0] == 0
    good = [orjson.loads(line) for line in exported.read_bytes().splitlines()]
    long_id = {**good[0], "message_id": "m" * 300}
    long_hub = {**good[1], "envelope": {**good[1]["envelope"], "hub_id": "h" * 252}}
    long_header = {**good[2], "headers": {**good[2]["headers"], "x-" + "k" * 300: "v"}}
    huge_number = {**good[0], "headers": {**good[0]["headers"], "x-n": 2**64 - 1}}  # no AMQP integer holds it
    lines = [good[0], long_id, good[1], long_hub, long_header, good[2], huge_number]
    source = tmp_path / "hostile.ndjson"
    source.write_bytes(b"".join(orjson.dumps(record) + b"\n" for record in lines))

    status, out, err = await komo_braze(broker, "dlq", "import", str(source), "--json")

    assert status == 1
    assert "Traceback" not in err
    report = orjson.loads(out)
    assert report["published"] == 3
    failed = {f["line"]: f["reason"] for f in report["failed_lines"]}
    assert sorted(failed) == [2, 4, 5, 7]
    assert "message_id takes 300 bytes" in failed[2]
    assert "hub takes 256 bytes in the routing key" in failed[4]
    assert "a header name takes 302 bytes; the broker carries at most 128" in failed[5]
    assert "the broker cannot carry this message: x-n error: Unsupported numeric value" in failed[7]
    work = await broker.drain(broker.names.work_queue())
    assert message_ids(work) == ["sub-000000", "sub-000001", "sub-000002"]


HOSTILE_HUBS = ["\x1b[2Jclear", "two\nlines", "rtl\u202eevil", "c1\x9b31m", "[/]markup"]


async def hostile_letters(broker: BrokerKit) -> None:
    """Dead letters whose hub, id and detail carry terminal controls, markup and unicode contacts."""
    await broker.declare()
    async with broker.connection() as connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange(broker.names.dead_exchange)
        for n, hub in enumerate(HOSTILE_HUBS):
            body = {"submission_id": f"sub-{n}\x1b]0;title\x07", "site_id": hub, "email": "zoë@exämple.com"}
            detail = "Braze: 'zoë@exämple.com'\n\x1b[31m+61 412 345 678 \u202einvalid"
            letter = letter_of(body, kind=ErrorKind.BRAZE_REJECTED, detail=detail)
            await exchange.publish(letter, routing_key="", mandatory=True)


def raw_controls(text: str) -> list[str]:
    return sorted({char for char in text if not char.isprintable() and char != "\n"})


async def test_list_stats_and_show_print_control_characters_escaped_and_mask_unicode_contacts(
    broker: BrokerKit,
) -> None:
    await hostile_letters(broker)
    outputs = {}
    for command in (["list"], ["list", "--json"], ["stats"], ["stats", "--json"], ["show", "sub-0\x1b]0;title\x07"]):
        status, out, err = await komo_braze(broker, "dlq", *command)
        assert status == 0, err
        assert raw_controls(out) == [], command
        outputs[" ".join(command[:2])] = out
    listed = outputs["list"].splitlines()
    assert len(listed) == 1 + len(HOSTILE_HUBS)  # a newline never breaks a line of the table
    assert "\\x1b[2Jclear" in listed[1]
    assert "two\\nlines" in listed[2]
    assert "sub-0\\x1b]0;title\\x07" in listed[1]
    assert [orjson.loads(line)["hub_id"] for line in outputs["list --json"].splitlines()] == HOSTILE_HUBS
    for hub in ("\\x1b[2Jclear", "two\\nlines", "rtl\\u202eevil", "c1\\x9b31m", "[/]markup"):
        assert hub in outputs["stats"]
    assert orjson.loads(outputs["stats --json"])["by_hub"] == dict.fromkeys(HOSTILE_HUBS, 1)
    shown = orjson.loads(outputs["show sub-0\x1b]0;title\x07"])
    assert shown["headers"]["x-error-detail"] == "Braze: 'z***@e***.com'\n\x1b[31m+** *** *** *78 \u202einvalid"
    assert shown["envelope"]["payload"]["email"] == "z***@e***.com"
    assert "zoë" not in "".join(outputs.values())


async def test_purge_needs_yes_and_removes_only_what_matches(broker: BrokerKit) -> None:
    everything = await filled(broker, 30)
    status, out, err = await komo_braze(broker, "dlq", "purge", "--kind", "unmapped_hub", "--json")
    assert status == 2
    assert orjson.loads(out)["matched"] == 10
    assert "--yes" in err
    assert await broker.count(broker.names.dead_queue) == 30
    status, _, err = await komo_braze(broker, "dlq", "purge", "--kind", "unmapped_hub", "--yes")
    assert status == 0, err
    assert "removed 10 dead letters" in err
    stayed = message_ids(await broker.drain(broker.names.dead_queue))
    assert stayed == [i for n, i in enumerate(everything) if n % 3 != 2]


async def test_replay_dry_run_then_replay_with_a_summary(broker: BrokerKit) -> None:
    everything = await filled(broker, 40)
    status, _, err = await komo_braze(broker, "dlq", "replay", "--dry-run", "--workspace", "client_b")
    assert status == 0, err
    assert "8 of 40 dead letters read would move; nothing changed" in err
    assert await broker.count(broker.names.work_queue()) == 0
    status, _, err = await komo_braze(broker, "dlq", "replay", "--workspace", "client_b", "--rate", "1000")
    assert status == 0, err
    assert "replayed 8 dead letters of 8 matching (read 40; 32 stay in" in err
    assert message_ids(await broker.drain(broker.names.work_queue())) == everything[::5]


async def test_replay_serves_its_metrics_while_it_runs(broker: BrokerKit) -> None:
    await filled(broker, 9)
    process = await spawn(
        "dlq",
        "replay",
        "--kind",
        "braze_rejected",
        "--metrics-bind",
        "127.0.0.1:0",
        "--metrics-linger-s",
        "10",
        env=broker.env(),
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    port, finished = 0, False
    try:
        async with asyncio.timeout(30):
            while not finished:
                line = await process.stderr.readline()
                assert line, "replay ended without serving metrics"
                if not line.startswith(b"{"):
                    continue
                event = orjson.loads(line)
                port = event.get("port", port)
                finished = event["event"] == "dlq_move_finished"
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
    finally:
        process.terminate()
        await process.wait()
    assert 'komo_braze_dlq_replayed_total{kind="braze_rejected"} 3.0' in text
    assert 'komo_braze_dlq_replayed_total{kind="no_identifier"} 0.0' in text
    assert "komo_braze_dlq_purged_total" in text
    assert 'komo_braze_build_info{component="dlq"' in text
    assert check_metrics(text) == ""


async def test_filters_combine_on_the_command_line(broker: BrokerKit) -> None:
    everything = await filled(broker, 30)
    window = ("--since", "2026-11-01T00:10:00Z", "--until", "2026-11-01T00:19:00Z")
    status, out, err = await komo_braze(broker, "dlq", "list", *window, "--hub", "hub-b", "--json")
    assert status == 0, err
    assert [orjson.loads(line)["submission_id"] for line in out.splitlines()] == [
        "sub-000012",
        "sub-000013",
        "sub-000014",
    ]
    status, _, err = await komo_braze(broker, "dlq", "purge", "--id", "sub-000002", "--id", "sub-000029", "--yes")
    assert status == 0, err
    assert "removed 2 dead letters" in err
    status, _, err = await komo_braze(broker, "dlq", "list", "--since", "soon")
    assert status == 2
    assert "age like 2h" in err
    status, out, _ = await komo_braze(broker, "dlq", "list", "--since", "3650d", "--json")
    assert len(out.splitlines()) == 28
    assert message_ids(await broker.drain(broker.names.dead_queue)) == [
        i for i in everything if i not in ("sub-000002", "sub-000029")
    ]
