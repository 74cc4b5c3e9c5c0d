"""The sandbox connection (SPEC §7): catalogue SQL cannot write, read files or unlock it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from soekpi.base.errors import ExitCode, InputError, WarehouseLocked
from soekpi.catalogue.model import Catalogue
from soekpi.warehouse.sandbox import sandbox
from soekpi.workspace import Workspace


@pytest.mark.parametrize(
    "statement",
    [
        "insert into ledger values ('G', date '2025-04-01', 'revenue', 1)",
        "create table evil as select 1 as x",
        "create view evil as select 1 as x",
        "update ledger set amount = 0",
        "drop table ledger",
        "select * from read_csv('/etc/passwd')",
        "copy ledger to '/tmp/soekpi_sandbox_leak.csv'",
        "attach '/tmp/soekpi_sandbox_other.duckdb' as other",
        "set enable_external_access = true",
        "reset enable_external_access",
        "set lock_configuration = false",
        "install httpfs",
    ],
)
def test_hostile_statements_fail(golden: tuple[Workspace, Catalogue], statement: str) -> None:
    ws, _ = golden
    with sandbox(ws) as con, pytest.raises(duckdb.Error):
        con.execute(statement)
    assert not Path("/tmp/soekpi_sandbox_leak.csv").exists()
    assert not Path("/tmp/soekpi_sandbox_other.duckdb").exists()


def test_hostile_filter_inside_a_select_cannot_read_files(
    golden: tuple[Workspace, Catalogue],
) -> None:
    ws, _ = golden
    with sandbox(ws) as con:
        with pytest.raises(duckdb.PermissionException):
            con.sql(
                "select sum(amount) filter (where account in "
                "(select column0 from read_csv('/etc/passwd'))) from ledger"
            ).fetchall()
        # reading the warehouse's own tables still works
        assert con.sql("select count(*) from entities").fetchall() == [(6,)]
        assert con.sql("select current_setting('enable_external_access')").fetchall() == [(False,)]


def test_missing_warehouse_is_an_input_error(tmp_path: Path) -> None:
    from golden_workspace import write_workspace

    ws = write_workspace(tmp_path / "empty")
    with pytest.raises(InputError) as caught, sandbox(ws):
        pass
    assert caught.value.exit_code == ExitCode.USAGE
    assert str(caught.value) == (
        "no warehouse yet: load data with 'soekpi load' or create a demo with "
        "'soekpi init DIR --demo'"
    )


def test_a_writer_in_another_process_locks_the_sandbox_out(tmp_path: Path) -> None:
    from golden_workspace import write_workspace

    ws = write_workspace(tmp_path / "locked")
    path = ws.warehouse_path
    path.parent.mkdir(parents=True)
    duckdb.connect(str(path)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; con = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.read()",
            str(path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(WarehouseLocked) as caught, sandbox(ws):
            pass
        assert caught.value.exit_code == ExitCode.RUNTIME
        assert str(caught.value) == (
            f"warehouse data/warehouse.duckdb is locked by pid {holder.pid}; "
            "try again later or pass --wait SECONDS"
        )
    finally:
        holder.communicate("")
