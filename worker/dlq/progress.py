"""A rich progress bar on a terminal; nothing at all when output goes to a file or a pipe."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

#: redraw at most this often; updating rich on every one of a million letters would cost more than reading
REFRESH_S = 0.1


class ProgressView:
    """``with ProgressView("replaying", total) as view: view.update(done, moved=..)``."""

    def __init__(self, description: str, total: int, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self._enabled = self._console.is_terminal and total > 0
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._description = description
        self._total = total
        self._last = 0.0

    def __enter__(self) -> ProgressView:
        if self._enabled:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                console=self._console,
                transient=False,
            )
            self._progress.start()
            self._task = self._progress.add_task(self._description, total=self._total, status="")
        return self

    @property
    def enabled(self) -> bool:
        return self._enabled

    def update(self, done: int, status: str = "", *, force: bool = False) -> None:
        if self._progress is None or self._task is None:
            return
        now = time.monotonic()
        if force or now - self._last >= REFRESH_S:
            self._last = now
            self._progress.update(self._task, completed=done, status=status)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._progress is not None:
            self._progress.stop()
