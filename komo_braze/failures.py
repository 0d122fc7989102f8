"""Why a command cannot start or go on, and the exit status each reason gives.

Every ``komo-braze`` command runs inside :func:`exit_on_failure` (``komo_braze.cli.main``): a
:class:`CommandFailure` raised anywhere below becomes one line naming the problem and the exit status of
its kind. The statuses are the BSD ``sysexits`` ones, so that a supervisor can tell a broker that is
away (retry later) from a configuration that will never work. Anything else is a bug and keeps its
traceback (a JSON line in JSON log mode).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import ClassVar

import click

from komo_braze import logs

log = logs.get_logger(__name__)


class CommandFailure(Exception):
    """A command cannot do its work; the message is one line for the operator, safe to show."""

    exit_status: ClassVar[int] = 1
    #: a bounded word for the log event
    kind: ClassVar[str] = "failed"
    meaning: ClassVar[str] = "the command ran and something it did failed (details above)"


class TopologyMissing(CommandFailure):
    """A reading command found no broker objects to read: a mistyped prefix, or nothing declared yet."""

    exit_status = os.EX_NOINPUT
    kind = "topology_missing"
    meaning = "the broker objects of the prefix do not exist (a mistyped prefix?); nothing was created"


class BrokerUnreachable(CommandFailure):
    """The broker did not answer, or refused the connection (address, credentials, virtual host)."""

    exit_status = os.EX_UNAVAILABLE
    kind = "broker_unreachable"
    meaning = "the broker cannot be reached or refused the connection: retrying later may work"


class BindFailed(CommandFailure):
    """A server could not listen on its address (in use, not local, not permitted)."""

    exit_status = os.EX_OSERR
    kind = "bind_failed"
    meaning = "a port to listen on is in use or cannot be bound"


class ConfigurationInvalid(CommandFailure):
    """The configuration cannot work: the mapping file, a workspace's endpoint or key, an open intake."""

    exit_status = os.EX_CONFIG
    kind = "configuration_invalid"
    meaning = "the configuration cannot work (mapping file, a workspace's key, an unauthenticated public bind)"


#: every failure kind, in the order README's table lists them
FAILURES: tuple[type[CommandFailure], ...] = (
    CommandFailure,
    TopologyMissing,
    BrokerUnreachable,
    BindFailed,
    ConfigurationInvalid,
)


def exit_status_markdown() -> str:
    """The exit status table README carries (a test keeps the two equal)."""
    rows = [
        (0, "done"),
        (CommandFailure.exit_status, CommandFailure.meaning),
        (2, "a wrong flag or setting (the message names it)"),
        *((failure.exit_status, failure.meaning) for failure in FAILURES[1:]),
    ]
    lines = ["| status | meaning |", "| --- | --- |", *(f"| {status} | {meaning} |" for status, meaning in rows)]
    return "\n".join(lines) + "\n"


def report(failure: CommandFailure) -> None:
    """One line: a ``command_failed`` event in JSON log mode, else ``Error: ...`` as click writes it."""
    if logs.json_lines():
        log.error("command_failed", kind=failure.kind, problem=str(failure), exit_status=failure.exit_status)
    else:
        click.echo(f"Error: {failure}", err=True)


@contextmanager
def exit_on_failure() -> Iterator[None]:
    """Turn a :class:`CommandFailure` into its line and its exit status."""
    try:
        yield
    except CommandFailure as failure:
        report(failure)
        sys.exit(failure.exit_status)
