"""The ``komo-braze`` command line: one console script, one subcommand per tool.

Subcommands live with the package that owns them and are imported only when called, so
``komo_braze`` itself never imports ``producer`` or ``worker`` (docs/architecture.md, "Packages").
"""

from __future__ import annotations

import importlib
from typing import Any

import click

from komo_braze import __version__
from komo_braze.failures import exit_on_failure
from komo_braze.settings import Settings, SettingsError, load_settings, settings_markdown, settings_table

#: subcommand name -> "module:attribute" of its click command
LAZY_COMMANDS = {
    "producer": "producer.cli:producer_command",
    "publish": "producer.cli:publish_command",
    "worker": "worker.cli:worker_command",
    "mapping": "worker.mapping.cli:mapping_group",
    "dlq": "worker.dlq.cli:dlq_group",
    "braze-sim": "braze_sim.cli:braze_sim_command",
    "demo": "devtools.demo:demo_command",
    "metrics": "komo_braze.metrics_cli:metrics_command",
    "topology": "worker.topology_command:topology_command",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command


def settings_from(**overrides: Any) -> Settings:
    """Settings from the environment with flag overrides; a bad value becomes a usage error."""
    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="komo-braze")
def cli() -> None:
    """Carry Komo engagement-hub submissions into Braze, through RabbitMQ.

    Settings come from KOMO_BRAZE_* environment variables (`komo-braze settings` lists them).
    """


@cli.command("settings")
@click.option("--markdown", is_flag=True, help="print the markdown table README carries")
def settings_command(markdown: bool) -> None:
    """List every KOMO_BRAZE_* setting with its meaning and default."""
    if markdown:
        click.echo(settings_markdown(), nl=False)
        return
    for name, meaning, default in settings_table():
        click.echo(f"{name:<36} {default:<38} {meaning}")


def main() -> None:
    """The console script: every command's failures end the same way (:mod:`komo_braze.failures`)."""
    with exit_on_failure():
        cli(prog_name="komo-braze")


if __name__ == "__main__":
    main()
