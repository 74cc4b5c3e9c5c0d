"""Atomic publishing of a run folder: temp folder, fsync, rename; --force keeps .prev."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from soekpi.base.errors import UsageError
from soekpi.output import manifest_text
from soekpi.report.run import clean_stale, publish_run


def _files(text: str) -> list[tuple[str, Callable[[], bytes]]]:
    return [("a.txt", lambda: text.encode()), ("b.txt", lambda: (text * 2).encode())]


def _publish(out: Path, text: str, force: bool = False) -> Path:
    return publish_run(out, "FY2026-Q3", _files(text), {"cycle": "FY2026-Q3"}, force)


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_publish_writes_files_and_manifest_with_hashes(tmp_path: Path) -> None:
    run = _publish(tmp_path, "one")
    assert run == tmp_path / "FY2026-Q3"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FY2026-Q3"]
    assert (run / "a.txt").read_text() == "one"
    manifest = (run / "manifest.json").read_text()
    assert manifest == (
        "{\n"
        '  "cycle": "FY2026-Q3",\n'
        '  "files": {\n'
        f'    "a.txt": "{hashlib.sha256(b"one").hexdigest()}",\n'
        f'    "b.txt": "{hashlib.sha256(b"oneone").hexdigest()}"\n'
        "  }\n"
        "}\n"
    )
    assert json.loads(manifest) == json.loads(manifest_text(json.loads(manifest)))


def test_existing_run_is_refused_without_force(tmp_path: Path) -> None:
    _publish(tmp_path, "one")
    with pytest.raises(UsageError) as info:
        publish_run(tmp_path, "FY2026-Q3", _files("two"), {}, False, lambda p: "out/" + p.name)
    assert str(info.value) == (
        "out/FY2026-Q3 already exists; pass --force to replace it (the old run is kept as "
        "FY2026-Q3.prev)"
    )
    assert (tmp_path / "FY2026-Q3" / "a.txt").read_text() == "one"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FY2026-Q3"]


def test_force_keeps_the_old_run_as_prev(tmp_path: Path) -> None:
    _publish(tmp_path, "one")
    _publish(tmp_path, "two", force=True)
    assert (tmp_path / "FY2026-Q3" / "a.txt").read_text() == "two"
    assert (tmp_path / "FY2026-Q3.prev" / "a.txt").read_text() == "one"
    _publish(tmp_path, "three", force=True)
    assert (tmp_path / "FY2026-Q3" / "a.txt").read_text() == "three"
    assert (tmp_path / "FY2026-Q3.prev" / "a.txt").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FY2026-Q3", "FY2026-Q3.prev"]


def test_a_failing_run_leaves_the_previous_one_and_no_temp_folder(tmp_path: Path) -> None:
    _publish(tmp_path, "one")

    def boom() -> bytes:
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        publish_run(tmp_path, "FY2026-Q3", [("a.txt", lambda: b"x"), ("b.txt", boom)], {}, True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FY2026-Q3"]
    assert (tmp_path / "FY2026-Q3" / "a.txt").read_text() == "one"


def test_stale_temp_folders_of_dead_runs_are_cleaned(tmp_path: Path) -> None:
    dead = tmp_path / f".FY2026-Q3.tmp-{_dead_pid()}"
    dead.mkdir()
    (dead / "a.txt").write_text("partial")
    live = tmp_path / ".FY2026-Q2.tmp-1"  # pid 1 is alive: a run still writing
    live.mkdir()
    other = tmp_path / ".notes"
    other.mkdir()
    assert clean_stale(tmp_path) == [dead]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".FY2026-Q2.tmp-1", ".notes"]


def test_a_file_written_in_pieces_is_hashed_as_written(tmp_path: Path) -> None:
    def pieces() -> Iterator[bytes]:
        yield b"[\n"
        yield b"  1,\n  2"
        yield b"\n]\n"

    run = publish_run(tmp_path, "FY2026-Q3", [("k.json", pieces)], {"cycle": "FY2026-Q3"})
    assert (run / "k.json").read_bytes() == b"[\n  1,\n  2\n]\n"
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["files"] == {"k.json": hashlib.sha256(b"[\n  1,\n  2\n]\n").hexdigest()}


def test_a_producer_failing_halfway_leaves_the_previous_run(tmp_path: Path) -> None:
    _publish(tmp_path, "one")

    def halfway() -> Iterator[bytes]:
        yield b"[\n"
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        publish_run(tmp_path, "FY2026-Q3", [("k.json", halfway)], {}, True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["FY2026-Q3"]
    assert (tmp_path / "FY2026-Q3" / "a.txt").read_text() == "one"
