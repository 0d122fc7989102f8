"""Which workspaces one worker process serves, and where each one's Braze is.

``komo-braze worker --workspace NAME`` picks work queues (:func:`select_workspaces`); each workspace it
delivers to needs an endpoint and a key (:func:`resolve_targets`): ``default``'s from the settings, a named
workspace's from the mapping and the environment variable the mapping names.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Protocol

from pydantic import SecretStr

from komo_braze import topology
from komo_braze.failures import ConfigurationInvalid
from komo_braze.settings import Settings
from worker.router import Mapper


class WorkspaceSpecLike(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def api_key_env(self) -> str | None: ...


class WorkerMapping(Mapper, Protocol):
    """The mapping as the service sees it (``worker.mapping.MappingConfig``)."""

    @property
    def workspaces(self) -> Mapping[str, WorkspaceSpecLike]: ...

    def workspace_hubs(self) -> dict[str, list[str]]: ...

    @property
    def any_hub_workspace(self) -> str | None: ...

    @property
    def attribute_names(self) -> list[str]: ...


class ConfigurationError(ConfigurationInvalid):
    """The worker cannot start: a workspace lacks its endpoint or key, or ``--workspace`` names none."""


@dataclass(frozen=True, slots=True)
class Selection:
    """The work queues one process consumes (by workspace) and the workspaces it delivers to."""

    queues: tuple[str, ...]
    deliver_to: tuple[str, ...]


def select_workspaces(mapping: WorkerMapping, requested: Collection[str] = ()) -> Selection:
    """The queues of ``requested`` workspaces (none: every one) and where their messages can go.

    A named workspace's queue holds only the hubs bound to it. The ``default`` queue takes every other
    hub: those the mapping sends to ``default``, and those the ``"*"`` entry sends, maybe to a named
    workspace; so a process consuming it delivers to both.
    """
    known = sorted({topology.DEFAULT_WORKSPACE, *mapping.workspaces})
    unknown = sorted(set(requested) - set(known))
    if unknown:
        raise ConfigurationError(
            f"--workspace {', '.join(unknown)}: not in the mapping, whose workspaces are {', '.join(known)}"
        )
    queues = tuple(name for name in known if not requested or name in requested)
    deliver_to = set(queues)
    if topology.DEFAULT_WORKSPACE in queues:
        if topology.DEFAULT_WORKSPACE not in mapping.workspaces:
            deliver_to.discard(topology.DEFAULT_WORKSPACE)  # no hub goes there: it needs no endpoint
        if mapping.any_hub_workspace is not None:
            deliver_to.add(mapping.any_hub_workspace)
    return Selection(queues, tuple(sorted(deliver_to)))


@dataclass(frozen=True, slots=True)
class Target:
    workspace: str
    url: str
    api_key: SecretStr


def resolve_targets(
    settings: Settings, mapping: WorkerMapping, environ: Mapping[str, str], workspaces: Collection[str]
) -> list[Target]:
    """Endpoint and key of each of ``workspaces``: ``default`` from the settings, others from the mapping (or,
    with ``braze_single_endpoint``, the default's too: each workspace keeps its own pacer and breaker)."""
    targets = []
    if topology.DEFAULT_WORKSPACE in workspaces:
        if settings.braze_url is None or settings.braze_api_key is None:
            raise ConfigurationError(
                "KOMO_BRAZE_BRAZE_URL and KOMO_BRAZE_BRAZE_API_KEY are required by a worker of the default workspace"
            )
        targets.append(Target(topology.DEFAULT_WORKSPACE, str(settings.braze_url), settings.braze_api_key))
    for name, spec in mapping.workspaces.items():
        if name == topology.DEFAULT_WORKSPACE or name not in workspaces:
            continue
        if settings.braze_single_endpoint:
            if settings.braze_url is None or settings.braze_api_key is None:
                raise ConfigurationError(
                    "KOMO_BRAZE_BRAZE_SINGLE_ENDPOINT needs KOMO_BRAZE_BRAZE_URL and KOMO_BRAZE_BRAZE_API_KEY"
                )
            targets.append(Target(name, str(settings.braze_url), settings.braze_api_key))
            continue
        key = environ.get(spec.api_key_env or "")
        if not spec.url or not key:
            raise ConfigurationError(f"workspace {name!r} needs a url and its key in ${spec.api_key_env}")
        targets.append(Target(name, spec.url, SecretStr(key)))
    return targets
