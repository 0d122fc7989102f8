"""Field mapping: Komo submissions become Braze objects, per hub, from a mapping file.

The worker calls :func:`load_mapping` once at start and :meth:`MappingConfig.map` per envelope.
"""

from __future__ import annotations

from worker.mapping.config import MappingConfig, load_mapping
from worker.mapping.model import (
    IdentifierKind,
    Mapped,
    MappingErrorKind,
    MappingFailure,
    MapResult,
    RejectedField,
    UserKey,
)
from worker.mapping.schema import WorkspaceSpec
from worker.mapping.source import MappingFileError

__all__ = [
    "IdentifierKind",
    "MapResult",
    "Mapped",
    "MappingConfig",
    "MappingErrorKind",
    "MappingFailure",
    "MappingFileError",
    "RejectedField",
    "UserKey",
    "WorkspaceSpec",
    "load_mapping",
]
