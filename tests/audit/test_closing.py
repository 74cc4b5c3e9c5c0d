"""`soekpi close`: closing, refusing loads into a closed cycle, reopening with a reason."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path
from typing import Any

from helpers import Invoke, write

from soekpi.audit.closing import audit_log, closed_cycles
from soekpi.warehouse.connection import current_user, open_warehouse
from soekpi.workspace import read_workspace

APRIL = "entity_id,period,account,amount\nA,2026-04-01,revenue,100.00\nA,2026-04-01,cost,50.00\n"


def _query(root: Path, sql: str) -> list[tuple[Any, ...]]:
    with open_warehouse(read_workspace(root), write=False) as con:
        rows: list[tuple[Any, ...]] = con.execute(sql).fetchall()
        return rows


def _state(root: Path) -> tuple[list[Any], list[Any]]:
    with open_warehouse(read_workspace(root), write=False) as con:
        return closed_cycles(con), audit_log(con)


def test_close_records_the_cycle_and_an_audit_entry(loaded: Path, soekpi: Invoke) -> None:
    result = soekpi("close", "FY2026-Q1")
    assert result.exit_code == 0, result.output
    closed, log = _state(loaded)
    (row,) = closed
    assert (row.cycle, row.start_date, row.end_date) == (
        "FY2026-Q1",
        date(2026, 1, 1),
        date(2026, 3, 31),
    )
    assert row.closed_by == current_user()
    assert row.manifest_sha256 is None  # no run of FY2026-Q1 was written
    assert result.stderr == f"closed FY2026-Q1 (2026-01-01..2026-03-31) by {row.closed_by}\n"
    assert [(e.id, e.action, e.cycle, e.who, e.reason) for e in log] == [
        (1, "close", "FY2026-Q1", row.closed_by, None)
    ]
    assert log[0].at == row.closed_at


def test_close_records_the_manifest_hash_of_the_run(loaded: Path, soekpi: Invoke) -> None:
    run = loaded / "out" / "FY2026-Q1"
    run.mkdir(parents=True)
    content = b'{"cycle": "FY2026-Q1"}\n'
    (run / "manifest.json").write_bytes(content)
    result = soekpi("close", "FY2026-Q1")
    assert result.exit_code == 0, result.output
    (row,) = _state(loaded)[0]
    assert row.manifest_sha256 == hashlib.sha256(content).hexdigest()
    assert f"; manifest sha256 {hashlib.sha256(content).hexdigest()}" in result.stderr


def test_closing_a_closed_cycle_is_a_usage_error(loaded: Path, soekpi: Invoke) -> None:
    assert soekpi("close", "FY2026-Q1").exit_code == 0
    (row,) = _state(loaded)[0]
    result = soekpi("close", "fy2026-q1")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: cycle FY2026-Q1 is already closed (by {row.closed_by} at "
        f"{row.closed_at:%Y-%m-%d %H:%M:%S} UTC); to change it, reopen it first with "
        "'soekpi close FY2026-Q1 --reopen --reason TEXT'\n"
    )
    assert len(_state(loaded)[1]) == 1  # nothing appended to the audit log


def test_a_malformed_cycle_is_a_usage_error(loaded: Path, soekpi: Invoke) -> None:
    result = soekpi("close", "2026Q1")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: '2026Q1' is not a fiscal cycle (accepted forms: FY2026, FY2026-H1, FY2026-Q3, "
        "FY2026-M07, latest or previous)\n"
    )


def test_reopen_needs_a_reason(loaded: Path, soekpi: Invoke) -> None:
    assert soekpi("close", "FY2026-Q1").exit_code == 0
    for args in (("--reopen",), ("--reopen", "--reason", "  ")):
        result = soekpi("close", "FY2026-Q1", *args)
        assert result.exit_code == 2
        assert result.stderr == (
            "error: --reopen needs --reason TEXT: why the cycle is reopened is kept in the "
            "audit log\n"
        )
    closed, log = _state(loaded)
    assert [c.cycle for c in closed] == ["FY2026-Q1"]
    assert [e.action for e in log] == ["close"]


def test_reopen_a_cycle_that_is_not_closed(loaded: Path, soekpi: Invoke) -> None:
    result = soekpi("close", "FY2026-Q2", "--reopen", "--reason", "typo")
    assert result.exit_code == 2
    assert result.stderr == "error: cycle FY2026-Q2 is not closed; there is nothing to reopen\n"


def test_load_into_a_closed_quarter_is_refused_then_allowed_after_reopen(
    loaded: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    before = _query(loaded, "select count(*), sum(amount) from financials")
    loads_before = _query(loaded, "select count(*) from _loads")
    # Q1 ledger: 3 months × 4 rows = 12 rows; amounts 3 × (100 + 50 + 200 + 150) = 1500
    assert before == [(12, 1500)]
    assert soekpi("close", "FY2026-Q1").exit_code == 0

    # a late March row touches the closed quarter: refused whole, April row included
    late = write(
        tmp_path / "late.csv",
        "entity_id,period,account,amount\n"
        "A,2026-04-01,revenue,100.00\n"
        "B,2026-03-01,revenue,7.00\n"
        "B,2026-02-01,cost,1.00\n",
    )
    result = soekpi("load", "financials", late)
    assert result.exit_code == 2, result.output
    # two of the three rows (B March revenue, B February cost) fall in FY2026-Q1
    assert result.stderr == (
        f"error: {late}: 2 row(s) dated 2026-02-01..2026-03-01 fall in closed cycle FY2026-Q1 "
        "(2026-01-01..2026-03-31); nothing was loaded. Leave those rows out, or reopen the cycle "
        "with 'soekpi close FY2026-Q1 --reopen --reason TEXT'\n"
    )
    assert _query(loaded, "select count(*), sum(amount) from financials") == before
    assert _query(loaded, "select count(*) from _loads") == loads_before

    # a load into the open next quarter goes through
    april = write(tmp_path / "april.csv", APRIL)
    result = soekpi("load", "financials", april)
    assert result.exit_code == 0, result.output
    # 12 + 2 rows; 1500 + 100 + 50 = 1650
    assert _query(loaded, "select count(*), sum(amount) from financials") == [(14, 1650)]

    reopened = soekpi("close", "FY2026-Q1", "--reopen", "--reason", "late ERP correction")
    assert reopened.exit_code == 0, reopened.output
    assert reopened.stderr == ("reopened FY2026-Q1 (2026-01-01..2026-03-31): late ERP correction\n")
    closed, log = _state(loaded)
    assert closed == []
    assert [(e.id, e.action, e.cycle, e.reason) for e in log] == [
        (1, "close", "FY2026-Q1", None),
        (2, "reopen", "FY2026-Q1", "late ERP correction"),
    ]

    late_only_q1 = write(
        tmp_path / "late_q1.csv",
        "entity_id,period,account,amount\nG,2026-03-01,revenue,7.00\n",
    )
    result = soekpi("load", "financials", late_only_q1)
    assert result.exit_code == 0, result.output
    # 14 + 1 rows; 1650 + 7 = 1657
    assert _query(loaded, "select count(*), sum(amount) from financials") == [(15, 1657)]


def test_closing_again_after_reopen_is_logged(loaded: Path, soekpi: Invoke) -> None:
    assert soekpi("close", "FY2026-Q1").exit_code == 0
    assert soekpi("close", "FY2026-Q1", "--reopen", "--reason", "fix").exit_code == 0
    assert soekpi("close", "FY2026-Q1", "--reason", "fixed").exit_code == 0
    closed, log = _state(loaded)
    assert [c.cycle for c in closed] == ["FY2026-Q1"]
    assert [(e.id, e.action, e.reason) for e in log] == [
        (1, "close", None),
        (2, "reopen", "fix"),
        (3, "close", "fixed"),
    ]
