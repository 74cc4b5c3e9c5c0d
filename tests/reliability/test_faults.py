"""Fault injection: kill -9, concurrent commands, a full disk and a read-only workspace leave
the warehouse and the output folder as they were, with a clear message and the documented
exit code (SPEC §5, §6.1, §7). Kill -9 during load and report are in tests/warehouse and
tests/report; these are the rest of the fault list.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers import (
    LEDGER_HEADER,
    hostile_workspace,
    invoke,
    run_soekpi,
    tree_digest,
    warehouse_content,
)

pytestmark = pytest.mark.reliability

CYCLE = "FY2025-Q1"
EPOCH = {"SOURCE_DATE_EPOCH": "1767225600"}


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("SOEKPI_WORKSPACE", raising=False)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH["SOURCE_DATE_EPOCH"])
    return hostile_workspace(tmp_path / "ws")


def _popen(*args: str | Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "soekpi", *(str(a) for a in args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _wait_for(condition: object, proc: subprocess.Popen[str], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():  # type: ignore[operator]
        assert proc.poll() is None, f"exited before {what}: {proc.communicate()}"
        assert time.monotonic() < deadline, f"never {what}"
        time.sleep(0.02)


def _slow_templates(ws: Path) -> None:
    """Make this workspace's Markdown report take seconds to render (after it computed)."""
    (ws / "slow").mkdir()
    (ws / "slow" / "_grid.md.j2").write_text(
        "{% for i in range(1000) %}{% for j in range(10 ** 5) %}{% endfor %}{% endfor %}\n"
    )  # some seconds (the sandbox caps one range() at 100,000 items)
    with (ws / "soekpi.yaml").open("a") as handle:
        handle.write("templates: slow\n")


# ------------------------------------------------------------------------------ kill -9


def test_init_demo_killed_leaves_no_workspace_and_the_next_init_succeeds(tmp_path: Path) -> None:
    target = tmp_path / "acme"
    proc = _popen("init", target, "--demo", "--scale", "40")
    building = tmp_path.glob(f".acme.init-{proc.pid}-*")

    def demo_started() -> bool:
        return any((b / "data" / "warehouse.duckdb").exists() for b in tmp_path.glob(".acme.*"))

    _wait_for(demo_started, proc, "started building the demo")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()
    assert len(list(building)) == 1  # the dead build folder, hidden beside the target

    done = run_soekpi("init", target)
    assert done.returncode == 0, done.stderr
    assert done.stderr == f"workspace ready: {target}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acme"]  # the dead build is gone
    assert invoke(target, "check").exit_code == 0


def _publish_script(out: Path, content: str, kill_at: str) -> str:
    """A process that publishes a run with --force and is killed at ``kill_at``."""
    return textwrap.dedent(
        f"""
        import os, signal
        from pathlib import Path
        import soekpi.report.run as run

        def die():
            os.kill(os.getpid(), signal.SIGKILL)

        real_exchange = run._exchange
        def exchange(a, b):
            if {kill_at!r} == "before-exchange":
                die()
            swapped = real_exchange(a, b)
            die()
        run._exchange = exchange
        real_copy = run._copy_synced
        def copy(a, b):
            real_copy(a, b)
            if {kill_at!r} == "after-copy":
                die()
        run._copy_synced = copy
        run.publish_run(Path({str(out)!r}), "FY2025-Q1",
                        [("a.txt", lambda: {content!r}.encode())], {{}}, force=True)
        """
    )


@pytest.mark.parametrize("kill_at", ["after-copy", "before-exchange", "after-exchange"])
def test_a_forced_publish_killed_midway_never_loses_the_old_run(
    tmp_path: Path, kill_at: str
) -> None:
    from soekpi.report.run import publish_run

    out = tmp_path / "out"
    publish_run(out, "FY2025-Q1", [("a.txt", lambda: b"old")], {})
    proc = subprocess.run([sys.executable, "-c", _publish_script(out, "new", kill_at)])
    assert proc.returncode == -signal.SIGKILL

    def runs() -> dict[str, str]:
        return {
            p.name: (p / "a.txt").read_text() for p in out.iterdir() if not p.name.startswith(".")
        }

    # the cycle folder is always there, whole; the old run is there or kept as .prev
    expected_target = "new" if kill_at == "after-exchange" else "old"
    assert runs()["FY2025-Q1"] == expected_target
    assert "old" in runs().values()
    # the next run's clean-up removes the dead temp folders and keeps the old run
    publish_run(out, "FY2025-Q2", [("a.txt", lambda: b"other")], {})
    assert "old" in runs().values()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


# ------------------------------------------------------------------- concurrent commands

HOLD = """\
import sys, time
from pathlib import Path
from soekpi.workspace import read_workspace
from soekpi.warehouse.{module} import {opener}
with {opener}(read_workspace(Path(sys.argv[1])){args}):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _hold(ws: Path, seconds: float, *, writer: bool) -> subprocess.Popen[str]:
    """A process holding the warehouse: as a report reads it (the sandbox) or as a load
    writes it (the writer lock)."""
    script = HOLD.format(
        module="connection" if writer else "sandbox",
        opener="open_warehouse" if writer else "sandbox",
        args=', write=True, purpose="soekpi load"' if writer else "",
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(ws), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "holding\n"
    return holder


def test_load_during_report_is_refused_naming_the_reader_then_succeeds(
    ws: Path, tmp_path: Path
) -> None:
    extract = tmp_path / "april.csv"
    extract.write_text(LEDGER_HEADER + "A,2025-04-01,revenue,100\n")
    before = warehouse_content(ws)
    reader = _hold(ws, 30, writer=False)
    try:
        refused = run_soekpi("-w", ws, "load", "ledger", extract)
    finally:
        reader.kill()
        reader.wait()
    assert refused.returncode == 3
    assert refused.stderr == (
        f"error: warehouse data/warehouse.duckdb is being read by pid {reader.pid} (e.g. soekpi "
        "report or compute); try again later or pass --wait SECONDS\n"
    )
    assert warehouse_content(ws) == before
    loaded = run_soekpi("-w", ws, "load", "ledger", extract)
    assert loaded.returncode == 0, loaded.stderr
    assert warehouse_content(ws)["ledger"] == sorted(
        # the last column is the load id: entities 1, the ledger 2, this load 3
        [*before["ledger"], ("A", _date("2025-04-01"), "revenue", _dec("100.00"), None, 3)]
    )


def test_report_during_load_is_refused_and_writes_nothing(ws: Path) -> None:
    writer = _hold(ws, 30, writer=True)
    try:
        refused = run_soekpi("-w", ws, "report", "--cycle", CYCLE)
    finally:
        writer.kill()
        writer.wait()
    assert refused.returncode == 3
    assert refused.stderr.startswith(
        f"error: warehouse data/warehouse.duckdb is locked by pid {writer.pid} (soekpi load, "
    )
    assert not (ws / "out").exists()


def test_two_reports_of_one_cycle_have_one_clear_winner(ws: Path, tmp_path: Path) -> None:
    # A renders slowly (a copy of the workspace with a slow template) into the same folder
    slow = tmp_path / "slow-ws"
    shutil.copytree(ws, slow)
    _slow_templates(slow)
    out = tmp_path / "shared-out"
    first = _popen("-w", slow, "report", "--cycle", CYCLE, "--out", out)
    _wait_for(lambda: (out / f".{CYCLE}.tmp-{first.pid}" / "kpis.json").exists(), first,
              "started writing")  # fmt: skip
    os.kill(first.pid, signal.SIGSTOP)  # B runs from start to end while A is half-way
    try:
        second = run_soekpi("-w", ws, "report", "--cycle", CYCLE, "--out", out)
    finally:
        os.kill(first.pid, signal.SIGCONT)
    assert second.returncode == 0, second.stderr
    published = tree_digest(out / CYCLE)
    _, err = first.communicate(timeout=120)
    assert first.returncode == 3
    assert err == (
        f"error: {out / CYCLE} was published by another run while this one was being written; "
        "nothing was written (pass --force to replace it)\n"
    )
    assert tree_digest(out / CYCLE) == published
    assert sorted(p.name for p in out.iterdir()) == [CYCLE]
    verified = run_soekpi("-w", ws, "verify", out / CYCLE)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_two_reports_started_together_one_wins_the_other_is_refused(
    ws: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    procs = [_popen("-w", ws, "report", "--cycle", CYCLE, "--out", out) for _ in range(2)]
    results = [(p.wait(), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    loser = next(err for code, _, err in results if code != 0)
    assert codes in ([0, 2], [0, 3]), results
    assert "Traceback" not in loser
    assert loser in (
        f"error: {out / CYCLE} already exists; pass --force to replace it (the old run is kept "
        f"as {CYCLE}.prev)\n",
        f"error: {out / CYCLE} was published by another run while this one was being written; "
        "nothing was written (pass --force to replace it)\n",
    )
    assert sorted(p.name for p in out.iterdir()) == [CYCLE]
    verified = run_soekpi("-w", ws, "verify", out / CYCLE)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_run_published_meanwhile_is_a_runtime_failure(tmp_path: Path) -> None:
    from soekpi.base.errors import RuntimeFailure
    from soekpi.report.run import publish_run

    out = tmp_path / "out"

    def someone_else_publishes() -> bytes:  # another process renames its run into place
        (out / "FY2025-Q1").mkdir()
        (out / "FY2025-Q1" / "a.txt").write_text("theirs")
        return b"mine"

    with pytest.raises(RuntimeFailure) as raised:
        publish_run(out, "FY2025-Q1", [("a.txt", someone_else_publishes)], {})
    assert str(raised.value) == (
        f"{out / 'FY2025-Q1'} was published by another run while this one was being written; "
        "nothing was written (pass --force to replace it)"
    )
    assert sorted(p.name for p in out.iterdir()) == ["FY2025-Q1"]
    assert (out / "FY2025-Q1" / "a.txt").read_text() == "theirs"


# ------------------------------------------------------------------ full disk, read-only


def test_a_full_disk_during_report_exits_3_and_writes_nothing(
    ws: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import soekpi.report.run as run

    assert invoke(ws, "report", "--cycle", CYCLE, "--format", "md").exit_code == 0
    before = tree_digest(ws / "out")
    real = run._write_synced
    written: list[str] = []

    def fill_up(path: Path, data: bytes) -> None:
        if written:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(path.name)
        real(path, data)

    monkeypatch.setattr(run, "_write_synced", fill_up)
    result = invoke(ws, "report", "--cycle", CYCLE, "--force")
    assert result.exit_code == 3
    assert result.stderr == (f"error: disk full while writing out/{CYCLE}; nothing was written\n")
    assert tree_digest(ws / "out") == before  # no temp folder, no .prev, the old run as is


def _in_namespace(script: str) -> subprocess.CompletedProcess[str]:
    """Run a shell script in a private mount namespace (unshare), or skip the test."""
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("needs 'unshare -rm' (user and mount namespaces) to mount a tmpfs")
    return subprocess.run(
        ["unshare", "-rm", "sh", "-euc", script],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
    )


def test_a_really_full_disk_refuses_load_and_report_cleanly(ws: Path, tmp_path: Path) -> None:
    """A 5 MB tmpfs holds the workspace (4.4 MB); a big load does not fit, and once a filler
    has taken the rest, neither does a report."""
    big = tmp_path / "big.csv"
    with big.open("w") as handle:
        handle.write(LEDGER_HEADER.strip() + ",note\n")
        for i in range(60_000):
            handle.write(f"A,{2030 + i // 12_000}-{i % 12 + 1:02d}-{i // 12 % 28 + 1:02d},")
            handle.write(f"{'revenue' if i % 2 else 'cost'},{i},{'n' * 40}\n")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    soekpi = f"{sys.executable} -m soekpi -w {mnt}/ws"
    done = _in_namespace(
        f"""
        mount -t tmpfs -o size=5m tmpfs {mnt}
        cp -r {ws} {mnt}/ws
        {soekpi} load ledger {big} 2>{tmp_path}/load.err && exit 90 || echo "load $?"
        dd if=/dev/zero of={mnt}/filler bs=64k 2>/dev/null || true
        {soekpi} report --cycle {CYCLE} 2>{tmp_path}/report.err && exit 91 || echo "report $?"
        cat {tmp_path}/load.err {tmp_path}/report.err
        echo "out holds $(find {mnt}/ws/out -mindepth 1 | wc -l) entries"
        {soekpi} check >/dev/null && echo "check 0"
        """
    )
    assert done.stdout.splitlines() == [
        "load 3",
        "report 3",
        "error: disk full while writing the warehouse data/warehouse.duckdb; nothing was "
        "written (free some space and run the command again)",
        f"error: disk full while writing out/{CYCLE}; nothing was written",
        "out holds 0 entries",  # no temp folder left; at most an empty out/
        "check 0",
    ], done.stdout + done.stderr


def test_a_read_only_workspace_can_be_read_but_not_written(ws: Path, tmp_path: Path) -> None:
    """chmod 0555 does not stop root, so the workspace is bind-mounted read-only instead."""
    extract = tmp_path / "april.csv"
    extract.write_text(LEDGER_HEADER + "A,2025-04-01,revenue,100\n")
    soekpi = f"{sys.executable} -m soekpi -w {ws}"
    before = tree_digest(ws)
    done = _in_namespace(
        f"""
        mount --bind {ws} {ws}
        mount -o remount,bind,ro {ws}
        {soekpi} compute --cycle {CYCLE} --entity G --format csv
        {soekpi} load ledger {extract} 2>&1 && exit 90 || echo "load $?"
        {soekpi} report --cycle {CYCLE} 2>&1 && exit 91 || echo "report $?"
        """
    )
    cost, revenue = 3 * (70 + 180), 3 * (100 + 200)  # G's subtree over the quarter
    assert done.stdout.splitlines() == [
        "kpi,entity,cycle,value,status,green,amber,unit",
        f"margin,G,{CYCLE},{round(cost / revenue * 100, 10)},amber,80.0,90.0,%",  # 80 < v ≤ 90
        f"error: {ws}/data/warehouse.duckdb.lock: Read-only file system",
        "load 3",
        f"error: {ws}/out: Read-only file system",
        "report 3",
    ], done.stdout + done.stderr
    assert tree_digest(ws) == before


def _date(text: str) -> object:
    from datetime import date

    return date.fromisoformat(text)


def _dec(text: str) -> object:
    from decimal import Decimal

    return Decimal(text)
