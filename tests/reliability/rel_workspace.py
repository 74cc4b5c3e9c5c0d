"""A small workspace for the reliability tests, and fingerprints of what a run may not touch.

Sources: ``entities`` (G ← A, B), ``ledger`` (monthly: revenue and cost per entity, decimal
amounts), ``projects`` (no time: a non-negative budget and a double ``ratio``). One KPI,
``margin`` = cost / revenue × 100. Fiscal year = calendar year; the warehouse holds
2025-01..2025-03 for A and B.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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
  projects:
    entity_column: entity_id
    primary_key: [project_id]
    columns:
      project_id: {type: varchar, required: true}
      entity_id:  {type: varchar, required: true, references: entities.entity_id}
      budget:     {type: "decimal(18,2)", required: true, min: 0}
      ratio:      {type: double}
measures:
  revenue: {source: ledger, agg: sum, expr: amount, filter: "account = 'revenue'"}
  cost:    {source: ledger, agg: sum, expr: amount, filter: "account = 'cost'"}
kpis:
  margin:
    name: Cost-income ratio
    description: Cost per unit of revenue.
    unit: "%"
    type: ratio
    numerator: cost
    denominator: revenue
    scale: 100
    direction: lower_is_better
    thresholds: {green: 80, amber: 90}
"""

ENTITIES = "entity_id,name,parent_id\nG,Group,\nA,Unit A,G\nB,Unit B,G\n"
LEDGER_HEADER = "entity_id,period,account,amount\n"


def ledger_rows() -> str:
    """Three months of revenue and cost for A and B (A: 100 / 70, B: 200 / 180 a month)."""
    rows = []
    for month in ("2025-01-01", "2025-02-01", "2025-03-01"):
        rows += [f"A,{month},revenue,100", f"A,{month},cost,70"]
        rows += [f"B,{month},revenue,200", f"B,{month},cost,180"]
    return LEDGER_HEADER + "\n".join(rows) + "\n"


def invoke(workspace: Path, *args: str | Path) -> Result:
    """Run the CLI in-process against ``workspace``."""
    return CliRunner().invoke(app, ["-w", str(workspace), *(str(a) for a in args)])


def run_soekpi(*args: str | Path, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a subprocess (stdout and stderr captured, no colour)."""
    return subprocess.run(
        [sys.executable, "-m", "soekpi", *(str(a) for a in args)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=120,
        **kwargs,
    )


def build_workspace(root: Path) -> Path:
    """The workspace with entities and ledger loaded and nothing in ``out/``."""
    (root / "metrics").mkdir(parents=True)
    (root / "soekpi.yaml").write_text("fiscal_year: {start_month: 1, label: end}\n")
    (root / "metrics" / "catalogue.yaml").write_text(CATALOGUE)
    inputs = root / "in"
    inputs.mkdir()
    (inputs / "entities.csv").write_text(ENTITIES)
    (inputs / "ledger.csv").write_text(ledger_rows())
    for source in ("entities", "ledger"):
        result = invoke(root, "load", source, inputs / f"{source}.csv")
        assert result.exit_code == 0, result.output
    shutil.rmtree(inputs)
    return root


def tree_digest(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (hidden ones too) → SHA-256 of its bytes."""
    if not folder.exists():
        return {}
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def warehouse_content(workspace: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the warehouse, rows sorted: what a failed command may not change."""
    import duckdb

    path = workspace / "data" / "warehouse.duckdb"
    if not path.exists():
        return {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = [r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()]
        return {
            t: con.execute(f'select * from "{t}" order by all').fetchall() for t in sorted(tables)
        }
    finally:
        con.close()
