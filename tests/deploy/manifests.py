"""Reading ``deploy/k8s/``: every document of every manifest, and what the code says they must name."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web

from komo_braze.http import add_health_routes
from komo_braze.settings import ENV_PREFIX, HostPort, Settings, load_settings
from producer.app import Producer
from tests.deploy.compose import ROOT

K8S_DIR = ROOT / "deploy" / "k8s"


def manifest_files() -> list[Path]:
    return sorted([*K8S_DIR.rglob("*.yaml"), *K8S_DIR.rglob("*.yml")])


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def all_documents() -> list[dict[str, Any]]:
    return [doc for path in manifest_files() for doc in documents(path)]


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    """Every document of ``kind``, by name."""
    return {doc["metadata"]["name"]: doc for doc in all_documents() if doc["kind"] == kind}


def containers(deployment: dict[str, Any]) -> list[dict[str, Any]]:
    containers: list[dict[str, Any]] = deployment["spec"]["template"]["spec"]["containers"]
    return containers


def plain_env(container: dict[str, Any]) -> dict[str, str]:
    """The container's ``env`` entries that carry a value (not a reference to a Secret)."""
    return {entry["name"]: str(entry["value"]) for entry in container.get("env", []) if "value" in entry}


def env_names(container: dict[str, Any]) -> list[str]:
    return [entry["name"] for entry in container.get("env", [])]


def secret_refs(container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Variable -> (Secret name, key) of each ``secretKeyRef``."""
    refs = {}
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        if ref is not None:
            refs[entry["name"]] = (ref["name"], ref["key"])
    return refs


def container_port(container: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's port (a number or a named container port) as a number."""
    if isinstance(port, int):
        return port
    numbers = [int(p["containerPort"]) for p in container.get("ports", []) if p.get("name") == port]
    assert numbers, f"container {container['name']} has no port named {port}"
    return numbers[0]


def settings_variables() -> set[str]:
    """Every ``KOMO_BRAZE_*`` variable the code declares."""
    return {ENV_PREFIX + name.upper() for name in Settings.model_fields}


def settings_of(env: dict[str, str]) -> Settings:
    """The settings a process would build from ``env`` (its ``KOMO_BRAZE_*`` variables)."""
    fields = {name[len(ENV_PREFIX) :].lower(): value for name, value in env.items() if name.startswith(ENV_PREFIX)}
    return load_settings(**fields)


def bind_of(env: dict[str, str], variable: str) -> HostPort:
    value = getattr(settings_of(env), variable[len(ENV_PREFIX) :].lower())
    assert isinstance(value, HostPort), f"{variable} is not a bind"
    return value


def _paths(app: web.Application) -> Iterator[tuple[str, str]]:
    for route in app.router.routes():
        yield route.method, route.resource.canonical if route.resource is not None else ""


def producer_routes() -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """(intake port, admin port) routes of a producer with an admin bind, as the code builds them."""
    producer = Producer(load_settings(producer_admin_bind="127.0.0.1:0"))
    assert producer.admin_app is not None
    return set(_paths(producer.app)), set(_paths(producer.admin_app))


def worker_routes() -> set[tuple[str, str]]:
    app = web.Application()
    add_health_routes(app, lambda: True)
    return set(_paths(app))
