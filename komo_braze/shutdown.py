"""Shutdown by signal, owned in one place: the shutdown trigger every long-running command passes down.

Serving code takes an :class:`asyncio.Event` as its shutdown trigger (hypercorn's ``shutdown_trigger``)
and never touches signals; a command wraps its run in :func:`signal_shutdown`, which sets that event on
the first SIGTERM or SIGINT and handles a second one as the command says, in one word:

``"ignore"``
    the shutdown already under way goes on (the producer and braze-sim: their stop is short and bounded);
``"exit"``
    exit at once with status 128 + the signal's number, as a shell reports it, without any clean-up: the
    broker hands back whatever was unacked (the worker, the dlq commands).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

from komo_braze.logs import get_logger

log = get_logger(__name__)

SecondSignal = Literal["ignore", "exit"]

#: the signals that ask for a shutdown: ``kill``/an orchestrator, and Ctrl-C
SHUTDOWN_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: how long a loop that waits (for work, a channel, a breaker) sleeps at most before it looks again,
#: and so how late it may notice a shutdown
TICK_S = 0.5


def exit_status(signum: int) -> int:
    """The status of a process ended by ``signum``, as a shell reports it (SIGTERM: 143, SIGINT: 130)."""
    return 128 + signum


@contextmanager
def signal_shutdown(*, second_signal: SecondSignal, notice: str | None = None) -> Iterator[asyncio.Event]:
    """Within the running event loop: the first SIGTERM or SIGINT sets the event yielded; a second one is
    handled as ``second_signal`` says (see the module's docstring). ``notice``, when given, is written to
    stderr on the first signal for the person at the terminal. The handlers are removed on leaving."""
    shutdown = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: signal.Signals) -> None:
        if not shutdown.is_set():
            log.info("signal_received", signal=signum.name, second_signal=second_signal)
            if notice is not None:
                print(notice, file=sys.stderr, flush=True)
            shutdown.set()
        elif second_signal == "ignore":
            log.info("signal_ignored", signal=signum.name, reason="already_stopping")
        else:
            log.warning("forced_exit", signal=signum.name)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(exit_status(signum))  # no clean-up on purpose: the broker requeues what is unacked

    for signum in SHUTDOWN_SIGNALS:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        yield shutdown
    finally:
        for signum in SHUTDOWN_SIGNALS:
            loop.remove_signal_handler(signum)
