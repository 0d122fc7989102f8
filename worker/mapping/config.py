"""The loaded mapping: read once at start, then asked to map every envelope.

``load_mapping(path)`` reads, checks and compiles the file, or raises :class:`MappingFileError` with the
file and line of the first thing wrong. ``MappingConfig.map(envelope)`` is the worker's first stage.
"""

from __future__ import annotations

from pathlib import Path

from komo_braze.envelope import Envelope
from komo_braze.topology import DEFAULT_WORKSPACE
from worker.mapping.hub import HubMapper
from worker.mapping.model import MappingErrorKind, MappingFailure, MapResult
from worker.mapping.schema import ANY_HUB, WorkspaceSpec, read_mapping
from worker.mapping.source import MappingFileError, Problem, read_yaml

__all__ = ["MappingConfig", "MappingFileError", "WorkspaceSpec", "load_mapping"]

_UNMAPPED = MappingFailure(MappingErrorKind.UNMAPPED_HUB, 'the mapping has no entry for this hub and no "*"')


class MappingConfig:
    """A checked, compiled mapping file."""

    def __init__(self, source: str, hubs: dict[str, HubMapper], workspaces: dict[str, WorkspaceSpec]) -> None:
        self.source = source
        self._hubs = {hub_id: hub for hub_id, hub in hubs.items() if hub_id != ANY_HUB}
        self._any_hub = hubs.get(ANY_HUB)
        used = {hub.workspace for hub in hubs.values()}
        default = {DEFAULT_WORKSPACE: WorkspaceSpec(DEFAULT_WORKSPACE, None, None)} if DEFAULT_WORKSPACE in used else {}
        #: the workspaces deliveries go to: every declared one, and ``default`` when a hub uses it
        self.workspaces: dict[str, WorkspaceSpec] = {**default, **workspaces}

    @classmethod
    def from_text(cls, text: str, source_name: str = "<mapping>") -> MappingConfig:
        """Check and compile a mapping given as YAML text; raises :class:`MappingFileError`."""
        try:
            root = read_yaml(text)
            if root is None:
                raise Problem(1, "the mapping is empty")
            spec = read_mapping(root)
        except Problem as problem:
            raise MappingFileError(source_name, problem.line, problem.problem) from problem
        hubs = {hub_id: HubMapper(hub) for hub_id, hub in spec.hubs.items()}
        return cls(source_name, hubs, spec.workspaces)

    def map(self, envelope: Envelope) -> MapResult:
        """The Braze objects for one submission, or why it can never become any."""
        hub = self._hubs.get(envelope.hub_id, self._any_hub)
        if hub is None:
            return _UNMAPPED
        return hub.map(envelope)

    def workspace_of(self, hub_id: str) -> str | None:
        """The workspace a hub's submissions go to; ``None`` when the hub is unmapped."""
        hub = self._hubs.get(hub_id, self._any_hub)
        return hub.workspace if hub else None

    @property
    def any_hub_workspace(self) -> str | None:
        """Where hubs without their own entry go (the ``"*"`` entry's workspace), if anywhere."""
        return self._any_hub.workspace if self._any_hub else None

    @property
    def hub_ids(self) -> list[str]:
        """The hubs named in the file (without ``"*"``)."""
        return sorted(self._hubs)

    @property
    def attribute_names(self) -> list[str]:
        """Every attribute a value can be rejected for, in any hub (bounded metric label values)."""
        hubs = [*self._hubs.values(), *([self._any_hub] if self._any_hub else [])]
        return sorted({name for hub in hubs for name in hub.attribute_names})

    def workspace_hubs(self) -> dict[str, list[str]]:
        """Each declared (non-default) workspace and the hub ids the file assigns to it, for queue bindings."""
        assigned: dict[str, list[str]] = {name: [] for name in self.workspaces if name != DEFAULT_WORKSPACE}
        for hub_id, hub in sorted(self._hubs.items()):
            if hub.workspace != DEFAULT_WORKSPACE:
                assigned[hub.workspace].append(hub_id)
        return assigned


def load_mapping(path: Path) -> MappingConfig:
    """Read, check and compile a mapping file; raises :class:`MappingFileError` naming file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise MappingFileError(str(path), None, f"cannot read the mapping file: {reason}") from exc
    return MappingConfig.from_text(text, str(path))
