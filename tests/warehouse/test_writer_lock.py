"""One writer at a time, and a killed load leaves the warehouse (and its recorded
fingerprints) as it was."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import Invoke, query, warehouse, write
from wh_data import ENTITIES

from soekpi.catalogue import load_catalogue
from soekpi.warehouse.connection import current_user, open_warehouse
from soekpi.warehouse.hashing import source_fingerprints
from soekpi.workspace import read_workspace

HOLDER = """\
import sys, time
from pathlib import Path
from soekpi.workspace import read_workspace
from soekpi.warehouse.connection import open_warehouse
with open_warehouse(read_workspace(Path(sys.argv[1])), write=True, purpose="soekpi load"):
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1"}


def _hold(workspace: Path, seconds: float) -> subprocess.Popen[str]:
    """A process holding the writer lock for ``seconds``; returns once it holds it."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(workspace), str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "locked\n"
    return holder


def _soekpi(workspace: Path, *args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "soekpi", "-w", str(workspace), *(str(a) for a in args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )


def _locked_message(workspace: Path, pid: int) -> str:
    record = json.loads((warehouse(workspace).parent / "warehouse.duckdb.lock").read_text())
    assert record["pid"] == pid
    return (
        f"error: warehouse data/warehouse.duckdb is locked by pid {pid} (soekpi load, user "
        f"{current_user()}) since {record['since']}; try again later or pass --wait SECONDS\n"
    )


def test_a_second_writer_and_a_reader_are_told_who_holds_the_lock(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    ledger = write(tmp_path / "l.csv", "entity_id,period,account,amount\nA,2025-01-01,cost,1\n")
    holder = _hold(with_entities, 30)
    try:
        expected = _locked_message(with_entities, holder.pid)
        result = soekpi("load", "ledger", ledger)
        assert result.exit_code == 3
        assert result.stderr == expected
        # a reader meets DuckDB's own lock and gets the same message
        result = soekpi("cycles")
        assert result.exit_code == 3
        assert result.stderr == expected
    finally:
        holder.kill()
        holder.wait()
    assert soekpi("load", "ledger", ledger).exit_code == 0


def test_wait_lets_a_writer_queue_behind_another(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    ledger = write(tmp_path / "l.csv", "entity_id,period,account,amount\nA,2025-01-01,cost,1\n")
    holder = _hold(with_entities, 1)
    try:
        result = soekpi("load", "ledger", ledger, "--wait", "60")
        assert result.exit_code == 0, result.output
        assert holder.poll() is not None  # it could only write after the holder let go
    finally:
        holder.kill()
        holder.wait()
    assert query(with_entities, "select count(*) from ledger") == [(1,)]


def test_concurrent_loads_never_both_write(with_entities: Path, tmp_path: Path) -> None:
    header = "entity_id,period,account,amount\n"
    files = [
        write(tmp_path / f"m{m}.csv", header + f"A,2025-{m:02d}-01,revenue,{m}\n") for m in (1, 2)
    ]
    # without --wait: each either loads or exits 3 with the lock message
    runs = [_soekpi(with_entities, "load", "ledger", f) for f in files]
    outcomes = [(run.wait(), run.communicate()[1]) for run in runs]
    loaded = [m for m, (code, _) in zip((1, 2), outcomes, strict=True) if code == 0]
    for code, stderr in outcomes:
        assert code in (0, 3), stderr
        if code == 3:
            assert "is locked by pid" in stderr and "try again later or pass --wait" in stderr
    assert loaded
    assert query(with_entities, "select month(period) from ledger order by 1") == [
        (m,) for m in loaded
    ]
    # with --wait both go through, one after the other
    more = [
        write(tmp_path / f"n{m}.csv", header + f"B,2025-{m:02d}-01,revenue,{m}\n") for m in (1, 2)
    ]
    runs = [_soekpi(with_entities, "load", "ledger", f, "--wait", "120") for f in more]
    assert [run.wait() for run in runs] == [0, 0]
    assert query(with_entities, "select count(*) from ledger where entity_id = 'B'") == [(2,)]


def _fingerprint(workspace: Path) -> tuple[object, ...]:
    ws = read_workspace(workspace)
    catalogue = load_catalogue(ws)
    with open_warehouse(ws, write=False) as con:
        return (
            source_fingerprints(con, catalogue),
            source_fingerprints(con, catalogue, recorded=True),
            con.execute("select * from _fingerprints order by table_name").fetchall(),
            con.execute("select count(*) from _loads").fetchall(),
            con.execute("select count(*) from _rejected").fetchall(),
        )


@pytest.mark.reliability
@pytest.mark.slow
def test_a_load_killed_mid_write_leaves_the_warehouse_as_before(
    workspace: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    import duckdb

    assert soekpi("load", "entities", write(tmp_path / "e.csv", ENTITIES)).exit_code == 0
    assert soekpi("load", "things", write(tmp_path / "t.csv", "thing_id\nfirst\n")).exit_code == 0
    big = tmp_path / "big.csv"
    con = duckdb.connect()
    con.execute(
        "copy (select 't' || i as thing_id, 'c' || i as code, i as weight "
        f"from range(1500000) r(i)) to '{big}' (header)"
    )
    con.close()
    before = _fingerprint(workspace)
    # the recorded fingerprints (what report states) are those of the rows
    assert before[1] == before[0]
    assert [(r[0], r[2]) for r in before[2]] == [("entities", 3), ("things", 1)]
    db = warehouse(workspace)
    wal = Path(f"{db}.wal")
    size = db.stat().st_size
    run = _soekpi(workspace, "load", "things", big)
    # kill -9 once the insert is writing blocks into the file, before it commits (WAL)
    while run.poll() is None:
        if db.stat().st_size > size + (1 << 20) and not wal.exists():
            os.kill(run.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    assert run.wait() == -signal.SIGKILL, "the load finished before it could be killed"
    assert _fingerprint(workspace) == before
    assert query(workspace, "select thing_id from things") == [("first",)]
    # the next load succeeds (the dead writer's flock went with it)
    result = soekpi("load", "things", write(tmp_path / "t2.csv", "thing_id\nsecond\n"))
    assert result.exit_code == 0, result.output
    assert query(workspace, "select thing_id from things order by 1") == [("first",), ("second",)]
    after = _fingerprint(workspace)
    assert after[1] == after[0] != before[0]
    assert [(r[0], r[2]) for r in after[2]] == [("entities", 3), ("things", 2)]
