"""docker-compose.yml, proven without a Docker engine: Compose validates it, and its services run.

Every service built from this repository runs as a local process with the command, environment, mounted
files and ports the file gives it (read through ``docker-compose config``; see ``tests.deploy.compose``),
against the test's broker and Redis. Submissions posted to the intake must then arrive in braze-sim, each in
the workspace the stack's mapping names, and the workers must have shared the stack's state store.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from bench.bench_state import clear_store
from braze_sim.client import SimClient
from devtools.components import Component, spawn
from komo_braze.settings import load_settings
from producer.auth import Authenticator, check_bind
from tests.broker import BrokerKit
from tests.deploy.compose import (
    COMPOSE_FILE,
    LocalStack,
    application_services,
    compose_config,
    container_ports,
    dockerfile_env,
)
from tests.komo_example import KOMO_BODY, SUMMER_HUB
from tests.waiting import eventually
from worker.state.redis import RedisStore

#: the order `depends_on` gives them: braze-sim before the workers, the intake last
START_ORDER = ("braze-sim", "worker-default", "worker-client-b", "producer")
START_TIMEOUT_S = 30.0


async def healthy(stack: LocalStack, name: str, env: dict[str, str]) -> bool:
    """The service's health check, run in its environment as Docker runs it in its container."""
    command = stack.healthcheck(name)
    if command[0] == "python":
        command[0] = sys.executable  # the image's `python` is the one komo-braze is installed in
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), timeout=10) == 0


async def ready(session: aiohttp.ClientSession, stack: LocalStack, name: str) -> bool:
    """``/readyz`` answers 200 on one of the ports the file gives the service."""
    for port in container_ports(stack.config["services"][name]):
        try:
            async with session.get(f"http://127.0.0.1:{stack.port(name, port)}/readyz") as response:
                if response.status == 200:
                    return True
        except aiohttp.ClientError:
            continue
    return False


async def start_service(stack: LocalStack, name: str, prefix: str, log_dir: Path) -> Component:
    env = stack.environment(name, os.environ, KOMO_BRAZE_PREFIX=prefix)
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = await spawn(*stack.command(name), env=env, stdout=log_file, stderr=log_file)
    component = Component(name, process, log_path)
    try:
        async with asyncio.timeout(START_TIMEOUT_S), aiohttp.ClientSession() as session:
            while not (await ready(session, stack, name) and await healthy(stack, name, env)):
                assert process.returncode is None, f"{name} exited ({process.returncode})"
                await asyncio.sleep(0.2)
    except (TimeoutError, AssertionError):
        await component.stop(timeout_s=5)
        pytest.fail(f"{name} of {COMPOSE_FILE.name} did not become healthy and ready:\n{component.log_tail()}")
    return component


def submission(site_id: str, n: int, **fields: str) -> dict[str, Any]:
    sid = str(uuid.uuid4())
    return {**KOMO_BODY, "id": sid, "submission_id": sid, "site_id": site_id, "email": f"fan{n}@example.com", **fields}


def test_docker_compose_config_accepts_the_file_and_refuses_a_broken_copy(tmp_path: Path) -> None:
    config = compose_config()
    assert sorted(config["services"]) == sorted(["rabbitmq", *START_ORDER, "redis", "prometheus", "grafana"]), (
        "the whole stack"
    )
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    environment:\n", "    enviroment:\n", 1))
    with pytest.raises(AssertionError, match="enviroment"):
        compose_config(broken)


def test_the_producer_as_the_file_configures_it_would_start_on_all_interfaces(monkeypatch: pytest.MonkeyPatch) -> None:
    # the local run binds loopback, where an open intake is allowed: check the container's own binds here
    environment = {**dockerfile_env(), **compose_config()["services"]["producer"]["environment"]}
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))
    settings = load_settings()
    assert not settings.producer_bind.is_loopback
    check_bind(settings, Authenticator.from_settings(settings))  # raises UnsafeBind on an open intake
    assert settings.producer_admin_bind is not None


@pytest.mark.timeout(150)
async def test_the_application_services_run_as_the_file_gives_them_and_deliver_to_braze_sim(
    broker: BrokerKit, redis_url: str, tmp_path: Path
) -> None:
    config = compose_config()
    assert sorted(application_services(config)) == sorted(START_ORDER)
    broker.workspaces.add("client_b")
    stack = LocalStack(config, broker.amqp_url, redis_url, tmp_path)
    token = config["services"]["producer"]["environment"]["KOMO_BRAZE_WEBHOOK_TOKEN"]
    intake = f"http://127.0.0.1:{stack.port('producer', 8080)}"
    started: list[Component] = []
    try:
        for name in START_ORDER:
            started.append(await start_service(stack, name, broker.prefix, tmp_path))
        anywhere = [submission(f"hub-{n % 3}", n, customer_id=f"customer-{n}") for n in range(6)]
        summer = [submission(SUMMER_HUB, n) for n in range(10, 14)]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as session:
            for body in anywhere + summer:
                async with session.post(f"{intake}/v1/submissions", data=orjson.dumps(body), headers=headers) as answer:
                    assert answer.status == 202, await answer.text()
            async with session.get(f"{intake}/metrics", headers=headers) as answer:
                assert answer.status == 404  # on the admin bind only
            admin = f"http://127.0.0.1:{stack.port('producer', 9180)}"
            async with session.get(f"{admin}/metrics") as answer:
                assert answer.status == 200
        async with SimClient(f"http://127.0.0.1:{stack.port('braze-sim', 9911)}") as sim:
            events: dict[str, list[Any]] = {}

            async def all_arrived() -> bool:
                for workspace in ("default", "client_b"):
                    events[workspace] = await sim.events(workspace=workspace)
                return sum(map(len, events.values())) >= len(anywhere) + len(summer)

            await eventually(all_arrived, timeout_s=30, what="every submission in braze-sim")
            assert sorted(e["properties"]["submission_id"] for e in events["default"]) == sorted(
                b["submission_id"] for b in anywhere
            )
            assert {e["name"] for e in events["default"]} == {"komo_form_submitted"}
            assert sorted(e["properties"]["submission_id"] for e in events["client_b"]) == sorted(
                b["submission_id"] for b in summer
            )
            assert {e["name"] for e in events["client_b"]} == {"komo_quiz_completed"}
        # both workers recorded what Braze accepted in the stack's Redis: another replica's look-up finds it
        defaults = load_settings()
        replica = RedisStore(
            redis_url,
            broker.prefix,
            accepted_retention_s=defaults.state_accepted_retention_s,
            user_retention_s=defaults.state_user_retention_s,
            claim_ttl_s=defaults.state_claim_ttl_s,
        )
        ids = [b["submission_id"] for b in anywhere + summer]
        try:

            async def all_recorded() -> bool:
                return (await replica.claim([], ids)).accepted_ids == set(ids)

            await eventually(all_recorded, timeout_s=10, what="every accepted submission id in Redis")
        finally:
            await replica.close()
    finally:
        statuses = {component.name: await component.stop() for component in reversed(started)}
        await clear_store(redis_url, broker.prefix)
    assert statuses == dict.fromkeys(START_ORDER, 0), "every service stops cleanly on SIGTERM"
