"""``komo-braze topology``: the click layer of :mod:`komo_braze.topology_cli`, here because ``--mapping``
reads the mapping file, which is the worker's (docs/architecture.md, "Packages")."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from komo_braze import logs
from komo_braze.cli import settings_from
from komo_braze.failures import ConfigurationInvalid
from komo_braze.topology_cli import describe


@click.command("topology")
@click.option("--prefix", help="prefix of the broker objects (KOMO_BRAZE_PREFIX)")
@click.option(
    "--mapping",
    "mapping_path",
    type=click.Path(path_type=Path),
    help="mapping file whose workspaces and hub bindings to show (KOMO_BRAZE_MAPPING)",
)
@click.option("--apply", is_flag=True, help="declare the objects (and the mapping's bindings) first")
@click.option("--json", "as_json", is_flag=True, help="print JSON instead of a table")
def topology_command(prefix: str | None, mapping_path: Path | None, apply: bool, as_json: bool) -> None:
    """Show the broker objects of a prefix with their message and consumer counts; --apply declares them.

    Without --apply nothing is created: objects that do not exist are named and the exit status is 66.
    """
    settings = settings_from(prefix=prefix, mapping=mapping_path)
    logs.configure(settings.log_level, settings.log_format)
    workspace_hubs: dict[str, list[str]] = {}
    if settings.mapping is not None:
        from worker.mapping import MappingFileError, load_mapping

        try:
            workspace_hubs = load_mapping(settings.mapping).workspace_hubs()
        except MappingFileError as exc:
            raise ConfigurationInvalid(str(exc)) from None
    asyncio.run(describe(settings, workspace_hubs=workspace_hubs, apply=apply, as_json=as_json))
