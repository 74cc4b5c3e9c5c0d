"""``report`` states the source fingerprints recorded at load time where it hashes a whole
table (entities here); ``verify`` recomputes them from the rows, so it catches a change made
to the warehouse outside soekpi. A source read by months (the ledger) is hashed from the
rows of those months by both (issue 17)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from audit_data import ENTITIES
from helpers import Invoke, write

from soekpi.catalogue import load_catalogue
from soekpi.warehouse.connection import open_warehouse
from soekpi.warehouse.hashing import window_fingerprints
from soekpi.workspace import read_workspace

#: The months the FY2026-Q1 run reads of the ledger: its trend, FY2024-Q2..FY2026-Q1.
MONTHS_READ = {"financials": [(date(2024, 4, 1), date(2026, 4, 1))]}


def _fresh(root: Path) -> dict[str, dict[str, Any]]:
    ws = read_workspace(root)
    with open_warehouse(ws, write=False) as con:
        facts = window_fingerprints(con, load_catalogue(ws), MONTHS_READ)
    return {s: {"rows": rows, "sha256": sha} for s, (rows, sha) in facts.items()}


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
    assert _fresh(workspace) == loaded
    # B's name "Unit B" → "Unit Bee" outside soekpi; the row count stays 3
    _sql(workspace, "update entities set name = 'Unit Bee' where entity_id = 'B'")
    result = soekpi("report", "--cycle", "FY2026-Q1", "--force")
    assert result.exit_code == 0, result.output
    assert "Unit Bee" in (published / "report.md").read_text()  # the report reads the rows
    # ... the manifest states the fingerprint recorded by the last load of entities
    assert _manifest(published)["sources"] == loaded
    fresh = _fresh(workspace)["entities"]
    assert fresh["rows"] == 3 and fresh["sha256"] != loaded["entities"]["sha256"]

    result = soekpi("verify", published, "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["reproducible"] is False and doc["files"] == []
    assert doc["diff"]["rows"] == []  # the numbers agree: both read the edited rows
    assert doc["diff"]["sources"] == [
        {
            "source": "entities",
            "change": "changed",
            "old_rows": 3,
            "new_rows": 3,
            "old_sha256": loaded["entities"]["sha256"],
            "new_sha256": fresh["sha256"],
        }
    ]
    # the hash is shown in the manifest and the reports' provenance section
    assert [o["file"] for o in doc["outputs"]] == ["manifest.json", "report.html", "report.md"]
    result = soekpi("verify", published)
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[0] == (
        f"verify {published} (FY2026-Q1) rebuilt as of load 2 with its own definitions: "
        "NOT reproducible"
    )

    # the next load of entities records the table as it is: report and verify agree again
    more = write(workspace.parent / "c.csv", ENTITIES.split("\n")[0] + "\nC,Unit C,G\n")
    result = soekpi("load", "entities", more)
    assert result.exit_code == 0, result.output
    result = soekpi("report", "--cycle", "FY2026-Q1", "--force")
    assert result.exit_code == 0, result.output
    assert _manifest(published)["sources"]["entities"] == _fresh(workspace)["entities"]
    assert _manifest(published)["sources"]["entities"]["rows"] == 4
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
