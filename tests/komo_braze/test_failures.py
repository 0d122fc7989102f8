"""Start-up failures end every command the same way: one line naming the problem, a documented status.

Each failure is made for real: a port another socket holds, a broker address nothing answers on.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from komo_braze.failures import exit_status_markdown
from tests.broker import BrokerKit
from tests.cli import ROOT, busy_port, closed_port, run_komo_braze

MAPPING = """
hubs:
  "*":
    identify: {by: external_id, field: customer_id}
    attributes: {first_name: first_name}
"""


def _worker_env(broker: BrokerKit, tmp_path: Path, **extra: str) -> dict[str, str]:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    return broker.env(
        KOMO_BRAZE_MAPPING=str(mapping),
        KOMO_BRAZE_BRAZE_URL="http://127.0.0.1:9",
        KOMO_BRAZE_BRAZE_API_KEY="test-key",
        **extra,
    )


async def test_a_producer_on_a_busy_port_says_so_in_one_line_and_exits(broker: BrokerKit) -> None:
    with busy_port() as port:
        finished = await run_komo_braze("producer", "--bind", f"127.0.0.1:{port}", env=broker.env(), timeout_s=30)
    assert finished.status == os.EX_OSERR
    [event] = finished.stderr_events()
    assert event["event"] == "command_failed"
    assert event["kind"] == "bind_failed"
    assert event["exit_status"] == os.EX_OSERR
    assert event["problem"].startswith(f"cannot listen on 127.0.0.1:{port}: ")


async def test_a_worker_on_a_busy_metrics_port_says_so_and_exits(broker: BrokerKit, tmp_path: Path) -> None:
    with busy_port() as port:
        env = _worker_env(broker, tmp_path, KOMO_BRAZE_WORKER_METRICS_BIND=f"127.0.0.1:{port}")
        finished = await run_komo_braze("worker", env=env, timeout_s=30)
    assert finished.status == os.EX_OSERR
    events = finished.stderr_events()
    assert [e["event"] for e in events if e["level"] in ("error", "critical")] == ["command_failed"]
    assert events[-1]["problem"].startswith(f"cannot listen on 127.0.0.1:{port}: ")


async def test_a_worker_without_a_broker_says_so_in_one_line_and_exits(broker: BrokerKit, tmp_path: Path) -> None:
    with closed_port() as port:
        env = _worker_env(broker, tmp_path, KOMO_BRAZE_AMQP_URL=f"amqp://guest:secret-pw@127.0.0.1:{port}/")
        finished = await run_komo_braze("worker", env=env, timeout_s=30)
    assert finished.status == os.EX_UNAVAILABLE
    [event] = finished.stderr_events()
    assert event["kind"] == "broker_unreachable"
    assert event["problem"].startswith(f"broker amqp://guest:***@127.0.0.1:{port}/ unreachable: ")
    assert "secret-pw" not in finished.stderr


async def test_topology_without_a_broker_prints_one_plain_line_on_a_console(broker: BrokerKit) -> None:
    with closed_port() as port:
        env = broker.env(KOMO_BRAZE_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{port}/", KOMO_BRAZE_LOG_FORMAT="console")
        finished = await run_komo_braze("topology", env=env, timeout_s=30)
    assert finished.status == os.EX_UNAVAILABLE
    [line] = finished.stderr_lines
    assert line.startswith(f"Error: broker amqp://guest:***@127.0.0.1:{port}/ unreachable: ")
    assert finished.stdout == ""


async def test_every_reading_command_without_a_broker_gives_the_same_status(broker: BrokerKit) -> None:
    with closed_port() as port:
        env = broker.env(KOMO_BRAZE_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{port}/")
        runs = [("dlq", "stats"), ("dlq", "list"), ("dlq", "show", "some-id"), ("dlq", "export", "-")]
        finished = await asyncio.gather(*(run_komo_braze(*args, env=env, timeout_s=30) for args in runs))
    assert [f.status for f in finished] == [os.EX_UNAVAILABLE] * len(runs)
    assert [[e["kind"] for e in f.stderr_events()] for f in finished] == [["broker_unreachable"]] * len(runs)


def test_readme_lists_the_exit_statuses_the_code_gives() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert exit_status_markdown() in readme, "README's exit status table is stale: komo_braze.failures"


async def test_publishing_commands_that_never_reach_the_broker_give_up_with_the_same_status(broker: BrokerKit) -> None:
    backfill = str(ROOT / "examples" / "backfill.ndjson")
    with closed_port() as port:
        env = broker.env(KOMO_BRAZE_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{port}/")
        runs = [("publish", backfill), ("dlq", "import", backfill)]
        finished = await asyncio.gather(*(run_komo_braze(*args, env=env, timeout_s=60) for args in runs))
    assert [f.status for f in finished] == [os.EX_UNAVAILABLE] * len(runs)
    problems = [f.stderr_events()[-1]["problem"] for f in finished]
    assert problems == [f"broker amqp://guest:***@127.0.0.1:{port}/ unreachable: no connection within 30 s"] * 2


async def test_a_worker_whose_mapping_names_a_workspace_without_its_key_says_which(
    broker: BrokerKit, tmp_path: Path
) -> None:
    env = _worker_env(broker, tmp_path)
    env["KOMO_BRAZE_MAPPING"] = str(ROOT / "deploy" / "mapping.example.yaml")
    env.pop("CLIENT_B_BRAZE_KEY", None)
    finished = await run_komo_braze("worker", env=env, timeout_s=30)
    assert finished.status == os.EX_CONFIG
    [event] = finished.stderr_events()
    assert event["problem"] == "workspace 'client_b' needs a url and its key in $CLIENT_B_BRAZE_KEY"
