"""Shared fixtures. Tests talk to a real RabbitMQ: ``KOMO_BRAZE_AMQP_URL`` or localhost:5672.

When neither answers and a Docker engine runs, a RabbitMQ container is started with testcontainers.
When no broker can be had at all the run fails: a skipped broker test would hide a failure. The same
holds for Redis (``KOMO_BRAZE_TEST_REDIS_URL`` or localhost:6379, made sure of by ``make test``).
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit

import pytest

from tests.broker import DEFAULT_URL, BrokerKit, broker_answers, unique_prefix
from tests.own_redis import redis_answers

DEFAULT_REDIS_URL = "redis://localhost:6379/0"


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    url = os.environ.get("KOMO_BRAZE_AMQP_URL", DEFAULT_URL)
    if broker_answers(url):
        yield url
        return
    try:
        from testcontainers.rabbitmq import RabbitMqContainer
    except ImportError:  # pragma: no cover - dev extra always has it
        pytest.fail(f"no RabbitMQ answers at {url}; run `make broker` or set KOMO_BRAZE_AMQP_URL")
    try:
        container = RabbitMqContainer("rabbitmq:3.13")
        container.start()
    except Exception as exc:  # pragma: no cover - only on machines without broker and engine
        pytest.fail(f"no RabbitMQ answers at {url} and no container could be started: {exc}")
    try:
        host, port = container.get_container_host_ip(), container.get_exposed_port(5672)
        yield f"amqp://guest:guest@{host}:{port}/"
    finally:
        container.stop()


def _test_prefix(request: pytest.FixtureRequest) -> str:
    """A prefix of this test's own, naming the test."""
    return unique_prefix(re.sub(r"[^A-Za-z0-9_.-]", "-", request.node.name)[:24])


@pytest.fixture
async def broker(amqp_url: str, request: pytest.FixtureRequest) -> AsyncIterator[BrokerKit]:
    """A unique prefix for this test; every object it declared is deleted afterwards."""
    kit = BrokerKit(amqp_url=amqp_url, prefix=_test_prefix(request))
    try:
        yield kit
    finally:
        await kit.cleanup()


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The shared Redis of the tests; each test keeps to its own key prefix and deletes its keys."""
    url = os.environ.get("KOMO_BRAZE_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    parts = urlsplit(url)
    if not redis_answers(parts.hostname or "localhost", parts.port or 6379):
        pytest.fail(f"no Redis answers at {url}; run `make redis` or set KOMO_BRAZE_TEST_REDIS_URL")
    return url


@pytest.fixture
def key_prefix(request: pytest.FixtureRequest) -> str:
    """A Redis key prefix of this test's own (``redis_link`` deletes its keys afterwards)."""
    return _test_prefix(request)
