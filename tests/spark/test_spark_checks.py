"""`soekpi check` (the data findings) and `soekpi cycles` give the same answers on Spark as
on DuckDB: the same SQL runs on both, transpiled for Spark by its reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import ENTITIES_SOURCE, catalogue_workspace, invoke
from spark_twins import copy_to_spark, spark_twin
from typer.testing import Result

pytestmark = pytest.mark.spark

CATALOGUE = (
    ENTITIES_SOURCE
    + """\
  ledger:
    time_column: period
    cadence: monthly
    entity_column: entity_id
    primary_key: [entity_id, period, account]
    columns:
      entity_id: {type: varchar, required: true, references: entities.entity_id}
      period:    {type: date, required: true}
      account:   {type: varchar, required: true, allowed: [revenue, cost]}
      amount:    {type: "decimal(18,2)", required: true, min: 0}
  staff:
    time_column: period
    cadence: monthly
    entity_column: entity_id
    primary_key: [entity_id, period]
    columns:
      entity_id: {type: varchar, required: true, references: entities.entity_id}
      period:    {type: date, required: true}
      headcount: {type: integer, required: true, min: 0}
"""
)

LEDGER = (
    "entity_id,period,account,amount\n"
    # A misses February; B files every month
    "A,2025-01-01,revenue,10\nA,2025-03-01,revenue,30\n"
    "B,2025-01-01,revenue,1\nB,2025-02-01,revenue,2\nB,2025-03-01,cost,3\n"
)
STAFF = "entity_id,period,headcount\n" + "".join(
    f"{e},2025-0{m}-01,5\n" for e in "AB" for m in (1, 2, 3)
)
#: Rows that break the contract, written behind load's back (load would reject them).
_INTO_LEDGER = "insert into ledger (entity_id, period, account, amount) values "
BAD_ROWS = [
    _INTO_LEDGER + "('C', '2025-01-01', 'revenue', 5)",  # C: not an entity
    _INTO_LEDGER + "('A', '2025-03-01', 'other', -1)",  # account and amount
    "update staff set headcount = -3 where entity_id = 'B' and period = '2025-02-01'",
]


@pytest.fixture(scope="module")
def twins(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The same small warehouse with a few contract violations, on DuckDB and on Spark."""
    import duckdb

    root = Path(tmp_path_factory.mktemp("spark_checks"))
    files = {
        "entities": "entity_id,name,parent_id\nG,Group,\nA,Alpha,G\nB,Beta,G\n",
        "ledger": LEDGER,
        "staff": STAFF,
    }
    duck = catalogue_workspace(
        root / "duck",
        CATALOGUE,
        settings="fiscal_year: {start_month: 1}\n",
        loads=[(source, f"{source}.csv", text) for source, text in files.items()],
        inputs=root,
    )
    con = duckdb.connect(str(duck / "data" / "warehouse.duckdb"))
    for statement in BAD_ROWS:
        con.execute(statement)
    con.close()
    copy_to_spark(spark, duck / "data" / "warehouse.duckdb", "checks", root / "parquet")
    return duck, spark_twin(duck, root / "spark", "checks")


def _findings(result: Result, prefix: str) -> list[str]:
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert all(line.startswith(prefix) for line in lines), lines
    return [line[len(prefix) :] for line in lines]


def test_check_finds_the_same_violations_on_both_engines(twins: tuple[Path, Path]) -> None:
    duck, spark_ws = twins
    expected = [
        # C's one row; 'other' and -1.00 on the same row; A has January and March only
        "source 'ledger': 1 orphan row(s): entity_id not in entities.entity_id (e.g. 'C')",
        "source 'ledger': 1 row(s) where account is not one of revenue, cost (e.g. 'other')",
        "source 'ledger': 1 row(s) where amount is below the minimum 0 (e.g. '-1.00')",
        "source 'ledger': entity 'A' has no rows for 1 month(s) between its first and last "
        "return: 2025-02",
        "source 'staff': 1 row(s) where headcount is below the minimum 0 (e.g. '-3')",
    ]
    assert _findings(invoke(duck, "check"), "data/warehouse.duckdb: ") == expected
    assert _findings(invoke(spark_ws, "check"), "spark database 'checks': ") == expected


def test_cycles_are_the_same_on_both_engines(twins: tuple[Path, Path]) -> None:
    duck, spark_ws = twins
    on_duck, on_spark = invoke(duck, "cycles"), invoke(spark_ws, "cycles")
    assert (on_duck.exit_code, on_spark.exit_code) == (0, 0)
    assert on_spark.stdout == on_duck.stdout
    row = next(line for line in on_spark.stdout.splitlines() if "FY2025-Q1" in line)
    # ledger: A, B and C expected from January; only B files every month (A misses
    # February, C files January only): 1 of 3 reporting; only January is complete: 1/3.
    # staff: A and B every month: 2/2, 3/3.
    assert "1/3 · 1/3 mo" in row and "2/2 · 3/3 mo" in row and "open" in row
    latest = [invoke(ws, "cycles", "--latest") for ws in (duck, spark_ws)]
    assert [(r.exit_code, r.stdout) for r in latest] == [(0, "FY2025-Q1\n")] * 2


def test_schema_drift_and_duplicate_keys_on_spark(
    spark: Any, twins: tuple[Path, Path], tmp_path: Path
) -> None:
    import duckdb

    duck, spark_ws = twins
    # A contract change the tables cannot take, on both engines: the same drift findings.
    drifted = CATALOGUE.replace("headcount: {type: integer,", "headcount: {type: double,")
    drifted = drifted.replace(
        "      headcount:", "      fte:       {type: double}\n      headcount:"
    )
    prefix = "source 'staff': table staff"
    drift = [  # in the contract's column order: fte, then headcount
        f"{prefix} has no column 'fte' (the contract declares it double)",
        f"{prefix}: column 'headcount' is INTEGER, the contract declares DOUBLE",
        f"{prefix} cannot take its contract as it stands; rebuild the table (export, drop, "
        "reload) or revert the contract change",
    ]
    for ws, where in ((duck, "data/warehouse.duckdb: "), (spark_ws, "spark database 'checks': ")):
        catalogue = ws / "metrics" / "catalogue.yaml"
        catalogue.write_text(drifted, encoding="utf-8")
        try:
            assert _findings(invoke(ws, "check"), where)[-3:] == drift
        finally:
            catalogue.write_text(CATALOGUE, encoding="utf-8")

    # Spark does not enforce primary keys: a second staff file repeating A's January row
    # is found by check (DuckDB refuses such a row on load).
    folder = spark_ws.parent / "parquet" / "staff"
    con = duckdb.connect()
    con.execute(
        "copy (select 'A' as entity_id, date '2025-01-01' as period, 7 as headcount) "
        f"to '{folder / 'again.parquet'}' (format parquet)"
    )
    con.close()
    spark.catalog.refreshTable("checks.staff")
    try:
        lines = _findings(invoke(spark_ws, "check"), "spark database 'checks': ")
    finally:
        (folder / "again.parquet").unlink()
        spark.catalog.refreshTable("checks.staff")
    assert lines[-2:] == [
        "source 'staff': 1 key(s) (entity_id, period) appear on more than one row "
        "(primary key) (e.g. 'A / 2025-01-01')",
        "source 'staff': 1 row(s) where headcount is below the minimum 0 (e.g. '-3')",
    ]
