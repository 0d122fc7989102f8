"""The compose file as Docker Compose reads it, and its services turned into local processes.

``compose_config()`` is ``docker-compose config``: the file validated, anchors merged, variables
interpolated. :class:`LocalStack` gives every port a service listens on (its ``ports`` and ``expose``)
a free local port and rewrites what the file gives a service, its command, environment and the files it
mounts, so that ``<service>:<port>`` becomes ``127.0.0.1:<that port>`` (the broker and Redis: the test's),
a bind or loopback address of its own becomes loopback on its own port (a port the file neither
publishes nor exposes gets one that no other service is told), and a mounted path its local copy.
Nothing else is changed: a wrong variable name, port or path in the file stays wrong.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from tests.own_broker import free_port

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
BROKER_SERVICE = "rabbitmq"
REDIS_SERVICE = "redis"
#: how a service names itself: all interfaces when it binds, loopback when it asks itself
OWN_HOSTS = (r"0\.0\.0\.0", r"127\.0\.0\.1", "localhost")


def compose_config(path: Path = COMPOSE_FILE) -> dict[str, Any]:
    """``docker-compose config`` of ``path``; fails the test with compose's own message if it is invalid.
    Compose runs once per file and test run (it takes half a second); each caller gets its own copy."""
    return copy.deepcopy(_compose_config(path))


@functools.cache
def _compose_config(path: Path) -> dict[str, Any]:
    assert shutil.which("docker-compose"), (
        "docker-compose is missing: `make test` installs it (scripts/ensure-compose.sh)"
    )
    result = subprocess.run(
        ["docker-compose", "-f", str(path), "config"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, f"docker-compose config refused {path.name}:\n{result.stderr}"
    config: dict[str, Any] = yaml.safe_load(result.stdout)
    return config


def application_services(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The services built from this repository (``build:``): the ones a test can run as local processes."""
    return {name: service for name, service in config["services"].items() if "build" in service}


def container_ports(service: Mapping[str, Any]) -> list[int]:
    """The ports a service listens on inside its container: the target of ``ports`` and every ``expose``."""
    ports: set[int] = set()
    for entry in service.get("ports", []):
        if isinstance(entry, Mapping):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    ports.update(int(str(entry).split("/")[0]) for entry in service.get("expose", []))
    return sorted(ports)


def mounted(service: Mapping[str, Any]) -> dict[str, Path]:
    """Container path -> repository path of each bind mount of the service."""
    mounts = {}
    for entry in service.get("volumes", []):
        source, target = (entry["source"], entry["target"]) if isinstance(entry, Mapping) else entry.split(":")[:2]
        mounts[target] = Path(source)
    return mounts


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """``(INSTRUCTION, arguments)`` of each line of the Dockerfile, continuations joined, comments left out."""
    lines = [line for line in path.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = (line.strip().partition(" ") for line in joined.splitlines() if line.strip())
    return [(instruction.upper(), arguments.strip()) for instruction, _, arguments in pairs]


def dockerfile_env(path: Path = DOCKERFILE) -> dict[str, str]:
    """The ``KEY=value`` pairs of the final stage's ``ENV`` instructions (what every container starts with)."""
    env: dict[str, str] = {}
    for instruction, arguments in dockerfile_instructions(path):
        if instruction == "FROM":
            env.clear()  # a new stage starts from its base image's environment
        elif instruction == "ENV":
            env.update(pair.partition("=")[::2] for pair in shlex.split(arguments))
    return env


def dockerfile_healthcheck(path: Path = DOCKERFILE) -> list[str]:
    """The exec form of the image's ``HEALTHCHECK ... CMD [...]``."""
    arguments = next(args for instruction, args in dockerfile_instructions(path) if instruction == "HEALTHCHECK")
    command: list[str] = json.loads(arguments.split(" CMD ", 1)[1])
    return command


@dataclass
class LocalStack:
    """Where each service's ports are on this machine, and the file's values rewritten to match."""

    config: Mapping[str, Any]
    broker_url: str
    redis_url: str
    workdir: Path
    ports: dict[tuple[str, int], int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, service in application_services(self.config).items():
            for port in container_ports(service):
                self.ports[(name, port)] = free_port()
        hosts = [*map(re.escape, sorted(self.config["services"], key=len, reverse=True)), *OWN_HOSTS]
        self._address = re.compile(r"(?<![\w.-])(" + "|".join(hosts) + r"):(\d+)")

    def port(self, service: str, container_port: int) -> int:
        return self.ports[(service, container_port)]

    def rewrite(self, service: str, value: str) -> str:
        """``value`` as the service would see it on this machine."""

        def local(match: re.Match[str]) -> str:
            name, port = match.group(1), int(match.group(2))
            if name == BROKER_SERVICE and port == 5672:
                broker = urlsplit(self.broker_url)
                return f"{broker.hostname}:{broker.port or 5672}"
            if name == REDIS_SERVICE and port == 6379:
                redis = urlsplit(self.redis_url)
                return f"{redis.hostname}:{redis.port or 6379}"
            if name in self.config["services"]:
                return f"127.0.0.1:{self.ports.get((name, port), port)}"
            # an address of its own: a port the file neither publishes nor exposes gets one nobody is told
            return f"127.0.0.1:{self.ports.setdefault((service, port), free_port())}"

        return self._address.sub(local, value)

    def mounts(self, service: str) -> dict[str, Path]:
        """Each file the service mounts, by its path in the container: a rewritten local copy."""
        copies: dict[str, Path] = {}
        for target, local in mounted(self.config["services"][service]).items():
            assert local.is_file(), f"{service} mounts {local}, which is not a file of the repository"
            copy = self.workdir / service / local.name
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(self.rewrite(service, local.read_text()))
            copies[target] = copy
        return copies

    def command(self, service: str) -> list[str]:
        command = self.config["services"][service]["command"]
        args = shlex.split(command) if isinstance(command, str) else list(command)
        return [self.rewrite(service, arg) for arg in args]

    def environment(self, service: str, base: Mapping[str, str], **extra: str) -> dict[str, str]:
        """``base`` without its ``KOMO_BRAZE_*``, then the image's, then the service's, rewritten."""
        given = {key: value for key, value in dockerfile_env().items() if key.startswith("KOMO_BRAZE_")}
        given.update(
            {key: str(value) for key, value in self.config["services"][service].get("environment", {}).items()}
        )
        mounts = self.mounts(service)
        env = {key: value for key, value in base.items() if not key.startswith("KOMO_BRAZE_")}
        env.update({key: self.rewrite(service, str(mounts.get(value, value))) for key, value in given.items()})
        env.update(extra)
        return env

    def healthcheck(self, service: str) -> list[str]:
        """The service's health check command: its own in the file, else the image's ``HEALTHCHECK``."""
        test = self.config["services"][service].get("healthcheck", {}).get("test")
        if test is None:
            test = ["CMD", *dockerfile_healthcheck()]
        assert test[0] == "CMD", f"{service}: health check {test} is not an exec form"
        return [self.rewrite(service, arg) for arg in test[1:]]
