"""Opening the DuckDB warehouse: one writer at a time, readers never see half a write.

DuckDB itself never waits: a second process opening a file that another holds read-write
fails at once with "Could not set lock". Writers therefore first take an exclusive
``fcntl.flock`` on a sidecar file ``<warehouse>.lock`` (holding the writer's pid, user,
command and start time, so that whoever is refused can be told who holds it), polling up to
``wait`` seconds. The kernel releases a flock when its process dies, so a killed writer never
leaves a stale lock behind (its text stays, but nobody reads it unless the lock is held).
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soekpi.base.errors import InputError, RuntimeFailure, WarehouseLocked

if TYPE_CHECKING:
    import duckdb

    from soekpi.workspace import Workspace

#: Extensions outside DuckDB's built-ins would be downloaded at run time: never.
DUCKDB_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
NO_WAREHOUSE = (
    "no warehouse yet: load data with 'soekpi load' or create a demo with 'soekpi init DIR --demo'"
)
_POLL_SECONDS = 0.1
_HOLDER_READS = 5  # × _POLL_SECONDS: how long an empty lock record is re-read


def lock_path(warehouse: Path) -> Path:
    """The sidecar lock file of a warehouse: ``<warehouse>.lock``."""
    return warehouse.with_name(warehouse.name + ".lock")


def current_user() -> str:
    """The OS user running this process (recorded in the lock and the load ledger)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return str(os.getuid())


def _default_purpose() -> str:
    """``soekpi <command>`` from argv, skipping global options and their values."""
    words = [w for w in sys.argv[1:]]
    command = ""
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in ("-w", "--workspace"):
            skip = True
            continue
        if not word.startswith("-"):
            command = word
            break
    return f"soekpi {command}".strip()


def _holder_record(warehouse: Path) -> str | None:
    """Who holds the lock, from the sidecar file: ``pid 1234 (soekpi load, user root) since …``.

    A holder writes its record right after taking the lock and empties it before letting go,
    so an empty file is re-read for a moment before giving up (None)."""
    for _ in range(_HOLDER_READS):
        try:
            info: dict[str, Any] = json.loads(lock_path(warehouse).read_text(encoding="utf-8"))
            return (
                f"pid {info['pid']} ({info['command']}, user {info['user']}) since {info['since']}"
            )
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(_POLL_SECONDS)
    return None


def _holder_text(warehouse: Path, fallback_pid: str | None = None) -> str:
    """The holder as messages name it."""
    record = _holder_record(warehouse)
    if record is not None:
        return record
    return f"pid {fallback_pid}" if fallback_pid else "another process"


def _locked(shown: str, holder: str) -> WarehouseLocked:
    return WarehouseLocked(
        f"warehouse {shown} is locked by {holder}; try again later or pass --wait SECONDS"
    )


def _take_flock(warehouse: Path, shown: str, wait: float, purpose: str) -> int:
    """Take the exclusive writer lock (polling up to ``wait`` seconds); returns its fd."""
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path(warehouse), os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + max(wait, 0.0)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = _holder_record(warehouse)
                if holder is None and _try_flock(fd):
                    break  # the holder let go while we looked
                os.close(fd)
                raise _locked(shown, holder or "another process") from None
            time.sleep(_POLL_SECONDS)
    record = {
        "pid": os.getpid(),
        "user": current_user(),
        "command": purpose,
        "since": datetime.now().replace(microsecond=0).isoformat(),
    }
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(record).encode(), 0)
    return fd


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _release_flock(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)


def _config(memory_limit: str | None) -> dict[str, Any]:
    """DuckDB's settings; with a ``memory_limit`` (without one: DuckDB's default, 80 % of the
    machine's memory) what does not fit spills to a folder of this process under the
    system's temporary folder (not next to the warehouse, which may be read-only), removed
    when it closes."""
    config: dict[str, Any] = dict(DUCKDB_CONFIG)
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
        config["temp_directory"] = str(Path(tempfile.gettempdir()) / f"soekpi-{os.getpid()}")
    return config


def _connect(
    path: Path, shown: str, *, write: bool, deadline: float, memory_limit: str | None = None
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, retrying DuckDB's own file lock until ``deadline``."""
    import duckdb

    while True:
        try:
            return duckdb.connect(str(path), read_only=not write, config=_config(memory_limit))
        except duckdb.IOException as exc:
            text = str(exc)
            if "Could not set lock" not in text:
                raise InputError(
                    f"{shown}: cannot open the warehouse: {text.splitlines()[0]}"
                ) from None
            if time.monotonic() >= deadline:
                pid = re.search(r"PID (\d+)", text)
                if write:  # we hold the writer lock, so the sidecar names us: a reader has it
                    holder = f"pid {pid.group(1)}" if pid else "another process"
                    raise WarehouseLocked(
                        f"warehouse {shown} is being read by {holder} (e.g. soekpi report or "
                        "compute); try again later or pass --wait SECONDS"
                    ) from None
                raise _locked(shown, _holder_text(path, pid.group(1) if pid else None)) from None
            time.sleep(_POLL_SECONDS)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(f"{shown}: cannot open the warehouse: {first}") from None


@contextlib.contextmanager
def open_warehouse(
    ws: Workspace,
    *,
    write: bool,
    wait: float = 0,
    purpose: str | None = None,
    memory_limit: str | None = None,
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection to the workspace's warehouse, closed on exit.

    ``write=True`` takes the writer lock first (waiting up to ``wait`` seconds, then
    :class:`WarehouseLocked`, exit 3, naming the holder) and creates the file when missing.
    ``write=False`` opens read-only; a missing file is an :class:`InputError`, and a file
    held by a writer waits up to ``wait`` seconds, then raises :class:`WarehouseLocked`.
    ``purpose`` (e.g. ``"soekpi load"``) is what a refused process is told the holder runs.
    DuckDB's memory limit is soekpi.yaml's ``warehouse.memory_limit``, else ``memory_limit``
    (None: DuckDB's default).

    Example::

        with open_warehouse(ws, write=False) as con:
            con.sql("select count(*) from financials")
    """
    path = ws.warehouse_path
    shown = ws.shown(path)
    deadline = time.monotonic() + max(wait, 0.0)
    fd: int | None = None
    if write:
        fd = _take_flock(path, shown, wait, purpose or _default_purpose())
    elif not path.is_file():
        raise InputError(NO_WAREHOUSE)
    try:
        con = _connect(
            path,
            shown,
            write=write,
            deadline=deadline,
            memory_limit=ws.warehouse.memory_limit or memory_limit,
        )
        try:
            yield con
        except Exception as exc:
            if "No space left on device" in str(exc):  # DuckDB's IOException carries no errno
                raise RuntimeFailure(
                    f"disk full while writing the warehouse {shown}; nothing was written "
                    "(free some space and run the command again)"
                ) from None
            raise
        finally:
            con.close()
    finally:
        if fd is not None:
            _release_flock(fd)
