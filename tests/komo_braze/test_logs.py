"""Logs in JSON mode: every line JSON (libraries' lines and tracebacks too), broker losses as events,
per-submission events with their ids, and one type per field name across all events.

The run is real: a producer and a worker as processes, the broker path cut and restored by a proxy of
the test's own, a braze_sim standing in for Braze.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from braze_sim.testing import running_sim
from devtools.components import Component, component_env, start_component
from komo_braze import logs
from tests.broker import BrokerKit
from tests.komo_example import KOMO_BODY, SUMMER_HUB
from tests.proxy import TcpProxy
from tests.waiting import eventually

TOKEN = "log-test-token"
MAPPING = """
hubs:
  "*":
    identify: {by: external_id, field: customer_id}
    attributes: {first_name: first_name, score: {to: komo_last_score, type: number}}
    event: {name: komo_form_submitted, properties: [submission_id]}
"""
#: events about one submission, and so carrying ``submission_id`` and ``hub_id``
PER_SUBMISSION = {"submission_accepted", "submission_refused", "publish_failed", "dead_lettered", "field_rejected"}
JSON_TYPES = {str: "string", int: "number", float: "number", bool: "boolean", list: "array", dict: "object"}


def _lines(component: Component) -> list[bytes]:
    return component.log_path.read_bytes().splitlines()


def _events(component: Component) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in _lines(component)]


def _named(component: Component, name: str) -> list[dict[str, Any]]:
    return [e for e in _events(component) if e["event"] == name]


def types_by_field(events: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Every field name and the JSON types its values had (null aside: a value not known then)."""
    seen: dict[str, set[str]] = defaultdict(set)
    for event in events:
        for name, value in event.items():
            if value is not None:
                seen[name].add(JSON_TYPES[type(value)])
    return seen


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> int:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    async with session.post(f"{url}/v1/submissions", data=body, headers=headers) as response:
        return response.status


async def test_a_run_with_a_broker_cut_logs_only_json_events_with_ids_and_one_type_per_field(
    broker: BrokerKit, tmp_path: Path
) -> None:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING)
    good = {**KOMO_BODY, "submission_id": "good-1", "customer_id": "user-1", "score": "many"}
    unidentified = {**KOMO_BODY, "submission_id": "no-user-1"}  # no customer_id: dead-lettered
    async with running_sim() as sim, TcpProxy.for_url(broker.amqp_url) as proxy:
        common = {"amqp_url": proxy.url_for(broker.amqp_url), "prefix": broker.prefix, "log_level": "debug"}
        common["reconnect_interval_s"] = "0.2"
        producer = await start_component(
            "producer",
            ["producer"],
            component_env(**common, producer_bind="127.0.0.1:0", webhook_token=TOKEN),
            tmp_path,
        )
        worker_env = component_env(
            **common,
            mapping=str(mapping),
            braze_url=sim.url,
            braze_api_key="test-key",
            worker_metrics_bind="127.0.0.1:0",
            batch_linger_ms="20",
        )
        worker = await start_component("worker", ["worker"], worker_env, tmp_path)
        try:
            async with aiohttp.ClientSession() as session:
                assert await _post(session, producer.url, orjson.dumps(good)) == 202
                assert await _post(session, producer.url, orjson.dumps(unidentified)) == 202
                no_hub = {"submission_id": "no-hub-1", "email": "someone@example.com"}
                assert await _post(session, producer.url, orjson.dumps(no_hub)) == 400
                assert await _post(session, producer.url, b"{not json") == 400
                await eventually(lambda: bool(_named(worker, "dead_lettered")), timeout_s=20)
                await eventually(lambda: bool(_named(worker, "field_rejected")), timeout_s=20)

                proxy.cut()
                await eventually(lambda: bool(_named(producer, "broker_connection_lost")), timeout_s=20)
                assert await _post(session, producer.url, orjson.dumps({**good, "submission_id": "cut-1"})) == 503
                proxy.restore()
                await eventually(lambda: bool(_named(producer, "broker_connection_restored")), timeout_s=30)
                await eventually(lambda: bool(_named(worker, "broker_connection_restored")), timeout_s=30)
        finally:
            assert await producer.stop() == 0
            assert await worker.stop() == 0

    events = _events(producer) + _events(worker)  # fails on any line that is not JSON
    loggers = {e.get("logger", "") for e in events}
    assert any(name.startswith(("aio_pika", "aiormq")) for name in loggers), "library lines are JSON too"
    assert [e["connection"] for e in _named(producer, "broker_connection_lost")] == ["producer"]

    refused = [(e["status"], e["submission_id"], e["hub_id"]) for e in _named(producer, "submission_refused")]
    assert refused == [(400, "no-hub-1", None), (400, None, None)]
    [failed] = _named(producer, "publish_failed")
    assert (failed["submission_id"], failed["hub_id"]) == ("cut-1", SUMMER_HUB)
    # a message in flight when the path was cut is delivered again: compare sets
    dead = {(e["submission_id"], e["hub_id"], e["kind"]) for e in _named(worker, "dead_lettered")}
    assert dead == {("no-user-1", SUMMER_HUB, "no_identifier")}
    rejected = {(e["submission_id"], e["hub_id"], e["attribute"]) for e in _named(worker, "field_rejected")}
    assert rejected == {("good-1", SUMMER_HUB, "komo_last_score")}
    for event in events:
        if event["event"] in PER_SUBMISSION:
            assert {"submission_id", "hub_id"} <= event.keys(), event
    mixed = {name: types for name, types in types_by_field(events).items() if len(types) > 1}
    assert mixed == {}
    assert "number" in types_by_field(events)["status"]


SCRIPT = """
import logging
from komo_braze import logs
from komo_braze.settings import LogFormat
logs.configure("info", LogFormat.JSON)
try:
    raise ValueError("inside a library")
except ValueError:
    logging.getLogger("aiohttp.server").exception("Error handling request")
raise RuntimeError("a bug nobody caught")
"""


def test_library_tracebacks_and_an_uncaught_exception_are_json_lines() -> None:
    finished = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, timeout=30, check=False)
    assert finished.returncode == 1
    library, uncaught = (orjson.loads(line) for line in finished.stderr.splitlines())
    assert (library["logger"], library["level"], library["event"]) == (
        "aiohttp.server",
        "error",
        "Error handling request",
    )
    assert library["exception"].startswith("Traceback (most recent call last):")
    assert library["exception"].endswith("ValueError: inside a library")
    assert (uncaught["event"], uncaught["level"]) == ("uncaught_exception", "critical")
    assert uncaught["exception"].endswith("RuntimeError: a bug nobody caught")


def test_types_by_field_sees_a_field_given_two_types() -> None:
    events: list[dict[str, Any]] = [{"event": "a", "status": 201}, {"event": "b", "status": "201", "hub_id": None}]
    assert types_by_field(events) == {"event": {"string"}, "status": {"number", "string"}}


CONSOLE_SCRIPT = """
import logging
from komo_braze import logs
from komo_braze.settings import LogFormat
logs.configure("info", LogFormat.CONSOLE)
def handle(email):
    raise ValueError("no such user")
try:
    handle("joe@example.com")
except ValueError:
    logging.getLogger("aiohttp.server").exception("Error handling request")
    logs.get_logger("worker").exception("mapping_crashed")
"""


def test_a_console_traceback_never_shows_local_variables() -> None:
    finished = subprocess.run([sys.executable, "-c", CONSOLE_SCRIPT], capture_output=True, timeout=30, check=False)
    assert finished.returncode == 0
    stderr = re.sub(r"\x1b\[[0-9;]*m", "", finished.stderr.decode())  # without colours
    assert stderr.count("ValueError: no such user") == 2
    assert "joe@example.com" not in stderr


def test_error_fields_record_the_type_and_the_text_of_an_exception() -> None:
    assert logs.error_fields(ConnectionResetError("Connection reset by peer")) == {
        "error": "ConnectionResetError",
        "detail": "Connection reset by peer",
    }


def test_error_fields_blank_the_credentials_of_a_url_and_cut_long_texts() -> None:
    fields = logs.error_fields(OSError("cannot reach amqp://guest:s3cret@broker:5672/ " + "x" * 400))
    assert fields["detail"].startswith("cannot reach amqp://***@broker:5672/ xxx")
    assert "s3cret" not in fields["detail"]
    assert len(fields["detail"]) == logs.MAX_DETAIL_CHARS


def test_error_fields_blank_the_passwords_of_the_urls_given_wherever_they_stand() -> None:
    fields = logs.error_fields(OSError("login refused for password s3cret"), ["amqp://komo:s3cret@broker:5672/"])
    assert fields["detail"] == "login refused for password ***"
