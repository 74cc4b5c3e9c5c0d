"""All terminal output: tables, progress and the error line. Nothing else prints.

Data goes to stdout, messages and progress to stderr. ``NO_COLOR`` and non-TTY output
turn colour and progress bars off.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence informational messages and progress (errors still show)."""
    global _quiet
    _quiet = quiet


def _colour_allowed(stream: Any) -> bool:
    return "NO_COLOR" not in os.environ and bool(getattr(stream, "isatty", lambda: False)())


def out_console() -> Console:
    """The stdout console, for data."""
    from rich.console import Console

    tty = _colour_allowed(sys.stdout)
    return Console(
        file=sys.stdout,
        no_color=not tty,
        force_terminal=tty,
        highlight=False,
        soft_wrap=not tty,
        width=None if tty else 200,
    )


def err_console() -> Console:
    """The stderr console, for messages and progress."""
    from rich.console import Console

    tty = _colour_allowed(sys.stderr)
    return Console(
        file=sys.stderr, no_color=not tty, force_terminal=tty, highlight=False, soft_wrap=True
    )


def write(text: str) -> None:
    """Write data (JSON, CSV …) to stdout as-is."""
    sys.stdout.write(text)
    if not text.endswith("\n"):
        sys.stdout.write("\n")
    sys.stdout.flush()


def write_chunks(chunks: Iterable[bytes]) -> None:
    """Write data that arrives in pieces (``compute --format json`` of a large group) to
    stdout as-is, each piece as soon as it is made."""
    sys.stdout.flush()
    out = sys.stdout.buffer
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def info(message: str) -> None:
    """A message for the user on stderr (suppressed by --quiet)."""
    if not _quiet:
        err_console().print(message, markup=False, highlight=False)


def warn(message: str) -> None:
    """A warning on stderr (suppressed by --quiet)."""
    if not _quiet:
        sys.stderr.write(f"warning: {message}\n")


def error(message: str) -> None:
    """One error line (or a few) on stderr: ``error: <where>: <what>``."""
    for line in message.splitlines() or [""]:
        sys.stderr.write(f"error: {line}\n")
    sys.stderr.flush()


def print_table(table: Any) -> None:
    """Print a rich Table (or any renderable) to stdout."""
    out_console().print(table)


class Progress:
    """A progress callback: ``progress(done, total, label)``; a no-op off a terminal."""

    def __init__(self, bar: Any = None, task: Any = None) -> None:
        self._bar = bar
        self._task = task

    def __call__(self, done: float, total: float | None = None, label: str | None = None) -> None:
        if self._bar is None:
            return
        kwargs: dict[str, Any] = {"completed": done}
        if total is not None:
            kwargs["total"] = total
        if label is not None:
            kwargs["description"] = label
        self._bar.update(self._task, **kwargs)


@contextmanager
def progress(label: str, total: float | None = None) -> Iterator[Progress]:
    """A progress bar on stderr when it is a terminal (and not --quiet); else silent."""
    if _quiet or not _colour_allowed(sys.stderr):
        yield Progress()
        return
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err_console(),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield Progress(bar, task)
