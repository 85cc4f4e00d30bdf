"""How `hub batch` shows a job's progress: a bar on a terminal, plain lines otherwise (logs, CI, pipes)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

# Plain lines at most this often, so a long job in a log file says it is alive without flooding it.
LINE_SECONDS = 5.0


class TerminalProgress:
    """A `hub.services.batch.Progress` on standard error; use as a context manager."""

    def __init__(self, job: str, stream: TextIO | None = None) -> None:
        self.job = job
        self.stream = stream or sys.stderr
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._last_line = 0.0
        self._last: tuple[int, int | None] = (0, None)

    def __enter__(self) -> TerminalProgress:
        if self.stream.isatty():
            from rich.console import Console

            self._bar = Progress(
                TextColumn(f"{self.job}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=Console(file=self.stream),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task(self.job, total=None)
        return self

    def update(self, done: int, total: int | None = None) -> None:
        self._last = (done, total)
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, completed=done, total=total)
            return
        now = time.monotonic()
        if now - self._last_line >= LINE_SECONDS:
            self._last_line = now
            self._line()

    def _line(self) -> None:
        done, total = self._last
        of = f"/{total}" if total is not None else ""
        print(f"{self.job}: {done}{of}", file=self.stream, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
        else:
            self._line()  # the final figure, always
