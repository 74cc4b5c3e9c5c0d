"""Helpers of the whole test suite: run the CLI, build workspaces and look inside them.

Imported by name (``from helpers import ...``) from any test module, whatever subset of
folders pytest collects: tests/conftest.py, which pytest loads before any test module under
tests/, puts this folder on ``sys.path``. Fixtures live in the conftest files; this module
holds plain functions and the data of the workspaces it builds.

The builders:

* ``catalogue_workspace``: a tiny workspace — soekpi.yaml, the catalogue files under metrics/
  and, if asked, CSV files loaded through ``soekpi load``. Each suite passes its own
  catalogue and data (kept in its test module or its folder's ``*_data.py``).
* ``demo_workspace``: ``soekpi init DIR --demo`` with a fixed ``SOEKPI_TODAY``.
* ``hostile_workspace``: the small loaded workspace the reliability tests feed hostile
  input to (its catalogue and data are below).
* ``fill_warehouse``: the contract tables of a catalogue filled with rows, without a load.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from soekpi.catalogue.model import Catalogue
from soekpi.cli import app
from soekpi.workspace import Workspace

#: soekpi.yaml of a workspace whose fiscal year is the calendar year (FY2026-Q1 = Jan–Mar 2026).
CALENDAR_YEAR = "fiscal_year: {start_month: 1, label: end}\n"

#: The day the demo is built on: the quarter before is 2026-Q3, so its data run 2023-10..2026-09.
DEMO_TODAY = "2026-11-29"

#: The CLI bound to one workspace, as the ``soekpi`` fixture gives it: ``soekpi("check")``.
Invoke = Callable[..., Result]

# ------------------------------------------------------------------------- running the CLI


def invoke(workspace: Path, *args: str | Path, env: Mapping[str, str] | None = None) -> Result:
    """Run the CLI in-process against ``workspace``: ``soekpi -w WORKSPACE ARGS...``."""
    return CliRunner().invoke(app, ["-w", str(workspace), *(str(a) for a in args)], env=env)


def run(
    workspace: Path, *args: str | Path, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """``invoke`` as (exit code, stdout, stderr)."""
    result = invoke(workspace, *args, env=env)
    return result.exit_code, result.stdout, result.stderr


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


# ------------------------------------------------------------------------ building workspaces


def write(path: Path, text: str) -> Path:
    """Write a text file (UTF-8), its folder too, and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def catalogue_workspace(
    root: Path,
    catalogue: str | Mapping[str, str],
    *,
    settings: str = CALENDAR_YEAR,
    loads: Sequence[tuple[str, str, str]] = (),
    inputs: Path | None = None,
) -> Path:
    """A workspace at ``root`` (which may exist already): ``settings`` as soekpi.yaml, the
    catalogue as metrics/catalogue.yaml (or ``{file name: text}`` under metrics/), then each
    ``(source, file name, CSV text)`` of ``loads`` written to ``inputs`` (default ``root``)
    and loaded with ``soekpi load``, in order; every load must succeed."""
    write(root / "soekpi.yaml", settings)
    (root / "metrics").mkdir(parents=True, exist_ok=True)
    files = {"catalogue.yaml": catalogue} if isinstance(catalogue, str) else catalogue
    for name, text in files.items():
        write(root / "metrics" / name, text)
    return load_csvs(root, loads, inputs)


def load_csvs(
    root: Path, loads: Sequence[tuple[str, str, str]], inputs: Path | None = None
) -> Path:
    """Write each ``(source, file name, CSV text)`` to ``inputs`` (default ``root``) and load it
    into the workspace at ``root`` with ``soekpi load``, in order; every load must succeed."""
    for source, name, text in loads:
        result = invoke(root, "load", source, write((inputs or root) / name, text))
        assert result.exit_code == 0, result.output
    return root


def demo_workspace(root: Path, *, scale: str | None = None, today: str | None = DEMO_TODAY) -> Path:
    """``soekpi init ROOT --demo [--scale SCALE]`` with ``SOEKPI_TODAY=today`` (None: the real
    today, for a test that resolves ``previous`` against the real today too)."""
    args = ["init", str(root), "--demo", *(["--scale", scale] if scale else [])]
    result = CliRunner().invoke(app, args, env={"SOEKPI_TODAY": today} if today else None)
    assert result.exit_code == 0, result.output
    return root


def fill_warehouse(
    ws: Workspace, catalogue: Catalogue, tables: Mapping[str, Sequence[Sequence[Any]]]
) -> None:
    """Create the contract tables of ``catalogue`` in the warehouse of ``ws`` and insert
    ``tables`` (table → rows in contract column order), bypassing ``load``."""
    from soekpi.warehouse.connection import open_warehouse
    from soekpi.warehouse.schema import ensure_schema

    with open_warehouse(ws, write=True) as con:
        ensure_schema(con, catalogue)
        for table, rows in tables.items():
            for row in rows:
                marks = ", ".join("?" for _ in row)
                con.execute(f'insert into "{table}" values ({marks})', list(row))


# ------------------------------------------------- the workspace the reliability tests break

#: The ``sources:`` header and the entity hierarchy's contract, the start of most test
#: catalogues: ``CATALOGUE = ENTITIES_SOURCE + """  ledger: ..."""``.
ENTITIES_SOURCE = """\
sources:
  entities:
    primary_key: [entity_id]
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true, unique: true}
      name:      {type: varchar, required: true}
      parent_id: {type: varchar, references: entities.entity_id}
"""

#: Sources ``entities`` (G ← A, B), ``ledger`` (monthly: revenue and cost per entity, decimal
#: amounts), ``projects`` (no time: a non-negative budget and a double ``ratio``). One KPI,
#: ``margin`` = cost / revenue × 100. Fiscal year = calendar year.
HOSTILE_CATALOGUE = (
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
)

HOSTILE_ENTITIES = "entity_id,name,parent_id\nG,Group,\nA,Unit A,G\nB,Unit B,G\n"
LEDGER_HEADER = "entity_id,period,account,amount\n"


def hostile_ledger() -> str:
    """Three months of revenue and cost for A and B (A: 100 / 70, B: 200 / 180 a month)."""
    rows = []
    for month in ("2025-01-01", "2025-02-01", "2025-03-01"):
        rows += [f"A,{month},revenue,100", f"A,{month},cost,70"]
        rows += [f"B,{month},revenue,200", f"B,{month},cost,180"]
    return LEDGER_HEADER + "\n".join(rows) + "\n"


def hostile_workspace(root: Path) -> Path:
    """The reliability tests' workspace: HOSTILE_CATALOGUE with entities and the ledger of
    2025-01..2025-03 loaded, and nothing else in it (no input files, nothing in ``out/``)."""
    inputs = root / "in"
    loads = [
        ("entities", "entities.csv", HOSTILE_ENTITIES),
        ("ledger", "ledger.csv", hostile_ledger()),
    ]
    catalogue_workspace(root, HOSTILE_CATALOGUE, loads=loads, inputs=inputs)
    shutil.rmtree(inputs)
    return root


# ------------------------------------------------------------------ looking inside a workspace


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

    path = warehouse(workspace)
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
