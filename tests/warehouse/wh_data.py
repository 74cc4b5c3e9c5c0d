"""A small workspace for the warehouse tests, and helpers to run and inspect loads.

Sources: ``entities`` (G ← A, B, self-referencing parent_id), ``ledger`` (monthly, decimal
amounts, allowed accounts), ``staff`` (monthly, integer headcount ≥ 0, ratio ≤ 1),
``events`` (timestamped, severity 1..4, boolean), ``things`` (no time column, a unique
code) and ``ledger_view`` (a view). Fiscal year = calendar year.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from soekpi.cli import app

CATALOGUE = """\
sources:
  entities:
    primary_key: [entity_id]
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true, unique: true}
      name:      {type: varchar, required: true}
      parent_id: {type: varchar, references: entities.entity_id}
  ledger:
    time_column: period
    cadence: monthly
    entity_column: entity_id
    primary_key: [entity_id, period, account]
    columns:
      entity_id: {type: varchar, required: true, references: entities.entity_id}
      period:    {type: date, required: true}
      account:   {type: varchar, required: true, allowed: [revenue, cost]}
      amount:    {type: "decimal(18,2)", required: true}
      note:      {type: varchar}
  staff:
    time_column: period
    cadence: monthly
    entity_column: entity_id
    primary_key: [entity_id, period]
    columns:
      entity_id: {type: varchar, required: true, references: entities.entity_id}
      period:    {type: date, required: true}
      headcount: {type: integer, required: true, min: 0}
      ratio:     {type: double, max: 1}
  events:
    time_column: occurred_at
    entity_column: entity_id
    primary_key: [event_id]
    columns:
      event_id:    {type: varchar, required: true}
      entity_id:   {type: varchar, required: true, references: entities.entity_id}
      occurred_at: {type: timestamp, required: true}
      severity:    {type: integer, required: true, min: 1, max: 4}
      open:        {type: boolean}
  things:
    primary_key: [thing_id]
    columns:
      thing_id: {type: varchar, required: true}
      code:     {type: varchar, unique: true}
      weight:   {type: bigint}
  ledger_view:
    sql: "select entity_id, period, amount from ledger"
    time_column: period
    entity_column: entity_id
"""

ENTITIES = "entity_id,name,parent_id\nG,Group,\nA,Unit A,G\nB,Unit B,G\n"
HEADER = "entity_id,period,account,amount\n"

Invoke = Callable[..., Result]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """An empty workspace (catalogue only, no warehouse yet)."""
    root = tmp_path / "ws"
    (root / "metrics").mkdir(parents=True)
    (root / "soekpi.yaml").write_text("fiscal_year: {start_month: 1, label: end}\n")
    (root / "metrics" / "catalogue.yaml").write_text(CATALOGUE)
    return root


@pytest.fixture
def soekpi(workspace: Path) -> Invoke:
    """Run the CLI in the workspace: ``soekpi("load", "ledger", path)``."""
    runner = CliRunner()

    def invoke(*args: str | Path) -> Result:
        return runner.invoke(app, ["-w", str(workspace), *(str(a) for a in args)])

    return invoke


@pytest.fixture
def with_entities(workspace: Path, soekpi: Invoke, tmp_path: Path) -> Path:
    """The workspace with G, A, B loaded."""
    result = soekpi("load", "entities", write(tmp_path / "entities.csv", ENTITIES))
    assert result.exit_code == 0, result.output
    return workspace


def write(path: Path, text: str) -> Path:
    """Write a text file (UTF-8) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def warehouse(workspace: Path) -> Path:
    """The workspace's DuckDB file."""
    return workspace / "data" / "warehouse.duckdb"


def query(workspace: Path, sql: str) -> list[tuple[Any, ...]]:
    """Run a query on a read-only connection to the workspace's warehouse."""
    import duckdb

    con = duckdb.connect(str(warehouse(workspace)), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def rejected(workspace: Path) -> list[tuple[Any, ...]]:
    """(row_number, column_name, reason) of every rejected row, sorted."""
    return query(workspace, "select row_number, column_name, reason from _rejected order by all")
