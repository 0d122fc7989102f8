"""``komo-braze mapping check FILE [--sample BODY.json ...]``: check a mapping before it touches Braze.

Prints what the file maps, and for each sample body the ``/users/track`` objects it would produce and
the fields it would reject. Exit status: 0 all well, 1 a sample failed to map or had a field rejected,
2 the mapping file itself is wrong.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import orjson

from komo_braze.envelope import Envelope, EnvelopeError
from worker.mapping.config import MappingConfig, load_mapping
from worker.mapping.model import MappingFailure
from worker.mapping.source import MappingFileError

EXIT_SAMPLE_PROBLEM = 1
EXIT_BAD_MAPPING = 2


@click.group("mapping")
def mapping_group() -> None:
    """Check a mapping file and preview what it sends to Braze."""


@mapping_group.command("check")
@click.argument("mapping_file", metavar="FILE", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--sample",
    "samples",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="a Komo webhook body (JSON object, JSON list of objects, or NDJSON); repeatable",
)
def check_command(mapping_file: Path, samples: tuple[Path, ...]) -> None:
    """Validate FILE and show the /users/track objects each --sample body would produce.

    Exit status: 0 all well; 1 a sample could not be mapped or had a field rejected; 2 FILE is wrong.
    """
    try:
        mapping = load_mapping(mapping_file)
    except MappingFileError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(EXIT_BAD_MAPPING) from None
    _describe(mapping)
    problems = 0
    received_at = datetime.now(UTC)
    for sample in samples:
        try:
            bodies = read_bodies(sample)
        except ValueError as exc:
            click.echo(f"\n{sample}: error: {exc}", err=True)
            problems += 1
            continue
        for number, body in enumerate(bodies, start=1):
            label = f"{sample}" if len(bodies) == 1 else f"{sample} #{number}"
            problems += _preview(mapping, label, body, received_at)
    if samples:
        click.echo(f"\n{len(samples)} sample file(s), {problems} problem(s)")
    if problems:
        raise SystemExit(EXIT_SAMPLE_PROBLEM)


def read_bodies(path: Path) -> list[Any]:
    """The bodies in a sample file: one JSON object, a JSON list of them, or one per line (NDJSON)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"cannot read: {exc.strerror}") from exc
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        lines = [line for line in data.splitlines() if line.strip()]
        try:
            return [orjson.loads(line) for line in lines]
        except orjson.JSONDecodeError as exc:
            raise ValueError("not JSON, a JSON list or NDJSON") from exc
    return parsed if isinstance(parsed, list) else [parsed]


def _describe(mapping: MappingConfig) -> None:
    click.echo(f"{mapping.source}: ok")
    for name, workspace in mapping.workspaces.items():
        where = "KOMO_BRAZE_BRAZE_URL, key in KOMO_BRAZE_BRAZE_API_KEY"
        if workspace.url is not None:
            where = f"{workspace.url}, key in ${workspace.api_key_env}"
        click.echo(f"  workspace {name}: {where}")
    for hub_id in mapping.hub_ids:
        click.echo(f"  hub {hub_id} -> workspace {mapping.workspace_of(hub_id)}")
    if mapping.any_hub_workspace is not None:
        click.echo(f'  hub "*" (any other) -> workspace {mapping.any_hub_workspace}')
    else:
        click.echo('  no "*" entry: submissions of other hubs are dead-lettered (unmapped_hub)')


def _preview(mapping: MappingConfig, label: str, body: Any, received_at: datetime) -> int:
    """Print one sample's outcome; returns the number of problems it shows (0 or 1)."""
    click.echo(f"\n== {label}")
    try:
        envelope = Envelope.from_komo(body, received_at=received_at)
    except EnvelopeError as exc:
        click.echo(f"error: not a Komo submission the producer would accept: {exc.reason}", err=True)
        return 1
    result = mapping.map(envelope)
    if isinstance(result, MappingFailure):
        click.echo(f"error: {result.kind.value}: {result.detail} (the worker would dead-letter it)", err=True)
        return 1
    click.echo(f"hub {envelope.hub_id} -> workspace {result.workspace}, user {result.user.kind.value}")
    request: dict[str, Any] = {"attributes": [result.attributes]}
    if result.event is not None:
        request["events"] = [result.event]
    click.echo("POST /users/track")
    click.echo(orjson.dumps(request, option=orjson.OPT_INDENT_2).decode())
    for rejected in result.rejected:
        click.echo(f"rejected: {rejected.attribute}: {rejected.reason}", err=True)
    return 1 if result.rejected else 0
