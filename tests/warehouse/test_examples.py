"""examples/: the README's walk-through, end to end, on the default catalogue."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from soekpi.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_the_example_walkthrough(tmp_path: Path) -> None:
    import duckdb

    runner = CliRunner()
    assert runner.invoke(app, ["init", str(tmp_path / "acme")]).exit_code == 0
    ws = tmp_path / "acme"

    def load(source: str, file: str) -> int:
        return runner.invoke(app, ["-w", str(ws), "load", source, str(EXAMPLES / file)]).exit_code

    assert load("entities", "entities.csv") == 0
    assert load("financials", "financials.csv") == 1
    assert load("workforce", "workforce.xlsx") == 1
    assert load("indicators", "indicators.csv") == 1
    assert load("projects", "projects.csv") == 0
    assert load("project_progress", "project_progress.csv") == 0
    assert load("incidents", "incidents.json") == 0

    con = duckdb.connect(str(ws / "data" / "warehouse.duckdb"), read_only=True)
    try:
        counts = dict(con.execute("select source, rows_loaded from _loads").fetchall())
        rejected = con.execute(
            "select source, row_number, reason from _rejected order by all"
        ).fetchall()
    finally:
        con.close()
    duplicate = (
        "primary key (entity_id, period, account) = (U02, 2025-12-01, revenue) appears on 2 "
        "rows of the file: 71, 76"
    )
    assert rejected == [
        ("financials", 71, duplicate),
        ("financials", 74, "period: '2025-09-31' is not a date"),
        (
            "financials",
            75,
            "account: 'marketing' is not one of revenue, digital_revenue, operating_cost, "
            "digital_capex, digital_opex, rd_expense",
        ),
        ("financials", 76, duplicate),
        ("indicators", 50, "entity_id: 'E99' is not in entities.entity_id"),
        ("workforce", 18, "headcount: -12 is below the minimum 0"),
    ]
    assert counts == {
        "entities": 5,
        "financials": 4 * 6 * 3 + 3 - 4,  # 4 entities × 6 months × 3 accounts, + 3 bad, − 4
        "workforce": 4 * 6 - 1,
        "indicators": 4 * 6 * 2,  # the orphan row is not loaded
        "projects": 4,
        "project_progress": 3 * 3 + 2,  # P002 completed in November: no December row
        "incidents": 3,
    }

    check = runner.invoke(app, ["-w", str(ws), "check"])
    assert check.exit_code == 1
    assert check.stdout == (
        "data/warehouse.duckdb: source 'workforce': entity 'U01' has no rows for 1 month(s) "
        "between its first and last return: 2025-11\n"
    )
    # Q4 is the latest complete quarter: its last month (December) has rows in every
    # monthly source; the correction fills U01's November and check is clean
    latest = runner.invoke(app, ["-w", str(ws), "cycles", "--latest"])
    assert (latest.exit_code, latest.stdout) == (0, "FY2025-Q4\n")
    assert load("workforce", "workforce_u01_2025-11.csv") == 0
    assert runner.invoke(app, ["-w", str(ws), "check"]).exit_code == 0
