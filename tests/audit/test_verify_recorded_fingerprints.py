"""``report`` states the source fingerprints recorded at load time; ``verify`` recomputes them
from the rows, so it catches a change made to the warehouse outside soekpi."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from audit_data import LATE_COST
from helpers import Invoke, write

from soekpi.catalogue import load_catalogue
from soekpi.warehouse.connection import open_warehouse
from soekpi.warehouse.hashing import source_fingerprints
from soekpi.workspace import read_workspace


def _fresh(root: Path) -> dict[str, dict[str, Any]]:
    ws = read_workspace(root)
    with open_warehouse(ws, write=False) as con:
        return source_fingerprints(con, load_catalogue(ws))


def _manifest(run: Path) -> dict[str, Any]:
    return json.loads((run / "manifest.json").read_text())


def _sql(root: Path, *statements: str) -> None:
    import duckdb

    con = duckdb.connect(str(root / "data" / "warehouse.duckdb"))
    for statement in statements:
        con.execute(statement)
    con.close()


def _revenue(run: Path, entity: str) -> float:
    records = json.loads((run / "kpis.json").read_text())
    return next(
        r["value"] for r in records if r["entity"] == entity and r["kpi"] == "total_revenue"
    )


def test_an_edit_outside_soekpi_keeps_the_recorded_hash_and_verify_catches_it(
    published: Path, workspace: Path, soekpi: Invoke
) -> None:
    loaded = _manifest(published)["sources"]
    assert {s: v["sha256"] for s, v in _fresh(workspace).items()} == {
        s: v["sha256"] for s, v in loaded.items()
    }
    # B's January revenue 200 → 400, the row count stays 11 (12 ledger rows less the late one)
    _sql(
        workspace,
        "update financials set amount = 400 "
        "where entity_id = 'B' and period = '2026-01-01' and account = 'revenue'",
    )
    result = soekpi("report", "--cycle", "FY2026-Q1", "--force")
    assert result.exit_code == 0, result.output
    # the numbers come from the rows: B's revenue 400 + 200 + 200 = 800, G's 300 + 800
    assert (_revenue(published, "B"), _revenue(published, "G")) == (800, 1100)
    # ... the manifest states the fingerprints recorded by the last load
    assert _manifest(published)["sources"] == loaded
    fresh = _fresh(workspace)["financials"]
    assert fresh["rows"] == 11 and fresh["sha256"] != loaded["financials"]["sha256"]

    result = soekpi("verify", published, "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["reproducible"] is False and doc["files"] == []
    assert doc["diff"]["rows"] == []  # the numbers agree: both read the edited rows
    assert doc["diff"]["sources"] == [
        {
            "source": "financials",
            "change": "changed",
            "old_rows": 11,
            "new_rows": 11,
            "old_sha256": loaded["financials"]["sha256"],
            "new_sha256": fresh["sha256"],
        }
    ]
    result = soekpi("verify", published)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[0] == (
        f"verify {published} (FY2026-Q1) against a recomputation from the current warehouse "
        "and catalogue: NOT reproducible"
    )

    # the next load records the table as it is: report and verify agree again
    result = soekpi("load", "financials", write(workspace.parent / "late.csv", LATE_COST))
    assert result.exit_code == 0, result.output
    result = soekpi("report", "--cycle", "FY2026-Q1", "--force")
    assert result.exit_code == 0, result.output
    assert _manifest(published)["sources"]["financials"] == _fresh(workspace)["financials"]
    assert _manifest(published)["sources"]["financials"]["rows"] == 12
    assert soekpi("verify", published).exit_code == 0


def test_a_changed_row_count_is_recomputed(
    published: Path, workspace: Path, soekpi: Invoke
) -> None:
    # A's January cost deleted outside soekpi: 10 rows, the entry says 11
    _sql(
        workspace,
        "delete from financials "
        "where entity_id = 'A' and period = '2026-01-01' and account = 'cost'",
    )
    result = soekpi("report", "--cycle", "FY2026-Q1", "--force")
    assert result.exit_code == 0, result.output
    assert _manifest(published)["sources"] == _fresh(workspace)
    assert _manifest(published)["sources"]["financials"]["rows"] == 10
    assert soekpi("verify", published).exit_code == 0


def test_a_warehouse_from_before_the_recorded_fingerprints_still_reports(
    published: Path, workspace: Path, soekpi: Invoke
) -> None:
    # no _fingerprints table (a warehouse written before it existed), and an edited amount
    # that a stale hash would hide: the report computes every hash from the rows
    _sql(
        workspace,
        "drop table _fingerprints",
        "update financials set amount = 60 where entity_id = 'A' and account = 'cost'",
    )
    before = _manifest(published)["sources"]
    result = soekpi("report", "--cycle", "FY2026-Q1", "--force")
    assert result.exit_code == 0, result.output
    sources = _manifest(published)["sources"]
    assert sources == _fresh(workspace)
    assert sources["financials"]["sha256"] != before["financials"]["sha256"]
    assert sources["entities"] == before["entities"]
    result = soekpi("verify", published)
    assert result.exit_code == 0, result.output
