"""Closed means frozen (issue 17, story 2): ``close C`` pins the cycle's definitions and data.

The workspace: G (group) ← A, B; a monthly ledger with revenue, cost and grant rows; two
KPIs, ``total_revenue`` (the revenue measure) and ``cost_ratio`` (cost / revenue × 100, with a
2026 target). Fiscal year = calendar year: FY2026-Q2 is April–June 2026. Every number below
is worked out by hand from the ledgers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import ENTITIES_SOURCE, Invoke, load_csvs, write

from soekpi.audit.closing import audit_log
from soekpi.warehouse.connection import open_warehouse
from soekpi.warehouse.pins import Pin, read_pins
from soekpi.workspace import read_workspace

CATALOGUE = (
    ENTITIES_SOURCE
    + """\
  financials:
    time_column: period
    cadence: monthly
    entity_column: entity_id
    primary_key: [entity_id, period, account]
    columns:
      entity_id: {type: varchar, required: true, references: entities.entity_id}
      period:    {type: date, required: true}
      account:   {type: varchar, required: true, allowed: [revenue, cost, grant]}
      amount:    {type: "decimal(18,2)", required: true}

measures:
  revenue: {source: financials, agg: sum, expr: amount, filter: "account = 'revenue'"}
  cost:    {source: financials, agg: sum, expr: amount, filter: "account = 'cost'"}

kpis:
  total_revenue:
    name: Revenue
    description: Revenue of the cycle.
    unit: CNY
    type: simple
    measure: revenue
    direction: higher_is_better
    thresholds: {green: 1000, amber: 500}
  cost_ratio:
    name: Cost-income ratio
    description: Cost over revenue.
    unit: "%"
    type: ratio
    numerator: cost
    denominator: revenue
    scale: 100
    direction: lower_is_better
    thresholds: {green: 60, amber: 80}

targets:
  - {kpi: cost_ratio, fiscal_year: 2026, green: 50, amber: 70}
"""
)

# After the close: grants count as revenue, and the 2026 target of cost_ratio is tightened.
EDITED = CATALOGUE.replace(
    "filter: \"account = 'revenue'\"", "filter: \"account in ('revenue', 'grant')\""
).replace("fiscal_year: 2026, green: 50, amber: 70", "fiscal_year: 2026, green: 40, amber: 45")

ENTITIES = "entity_id,name,parent_id\nG,Group,\nA,Unit A,G\nB,Unit B,G\n"


def ledger(months: range, per_month: dict[str, dict[str, int]]) -> str:
    """A ledger of 2026's ``months``: ``{entity: {account: amount a month}}``."""
    rows = [
        f"{entity},2026-{m:02d}-01,{account},{amount}.00"
        for m in months
        for entity, accounts in per_month.items()
        for account, amount in accounts.items()
    ]
    return "entity_id,period,account,amount\n" + "\n".join(rows) + "\n"


# Q1: Jan–Mar. Q2: Apr–Jun (the cycle closed). Q3: Jul–Sep, no grants.
Q1 = ledger(
    range(1, 4),
    {
        "A": {"revenue": 100, "cost": 50, "grant": 10},
        "B": {"revenue": 200, "cost": 150, "grant": 20},
    },
)
Q2 = ledger(
    range(4, 7),
    {
        "A": {"revenue": 120, "cost": 72, "grant": 30},
        "B": {"revenue": 240, "cost": 108, "grant": 60},
    },
)
C_NOTHING = {"C": {"revenue": 0, "cost": 0}}
Q3 = ledger(range(7, 10), {"A": {"revenue": 150, "cost": 75}, "B": {"revenue": 300, "cost": 150}})


@pytest.fixture
def workspace_catalogue() -> str:
    return CATALOGUE


def _pins(root: Path) -> list[Pin]:
    with open_warehouse(read_workspace(root), write=False) as con:
        return read_pins(con)


def _log(root: Path) -> list[tuple[str, str | None]]:
    with open_warehouse(read_workspace(root), write=False) as con:
        return [(e.action, e.reason) for e in audit_log(con)]


def _values(stdout: str) -> dict[tuple[str, str], tuple[Any, ...]]:
    """(entity, kpi) → (value, status, green, amber) of ``compute --format json``."""
    return {
        (r["entity"], r["kpi"]): (r["value"], r["status"], r["green"], r["amber"])
        for r in json.loads(stdout)
    }


def _folder(path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


def _md_row(run: Path, name: str) -> list[str]:
    """The cells of the first row of report.md's KPI table of the root entity for ``name``."""
    for line in (run / "report.md").read_text(encoding="utf-8").splitlines():
        if line.startswith(f"| {name} |"):
            return [cell.strip() for cell in line.strip("|").split("|")]
    raise AssertionError(f"no row for {name} in {run / 'report.md'}")


# Pinned FY2026-Q2 (revenue = 'revenue' rows; cost_ratio target 2026: green 50, amber 70):
#   A: revenue 3 × 120 = 360 (< 500: red);  cost 3 × 72 = 216,  ratio 216 / 360 = 60 % (amber)
#   B: revenue 3 × 240 = 720 (≥ 500: amber); cost 3 × 108 = 324, ratio 324 / 720 = 45 % (green)
#   G: revenue 1080 (≥ 1000: green);         cost 540,           ratio 540 / 1080 = 50 % (green)
PINNED_Q2 = {
    ("A", "total_revenue"): (360.0, "red", 1000.0, 500.0),
    ("B", "total_revenue"): (720.0, "amber", 1000.0, 500.0),
    ("G", "total_revenue"): (1080.0, "green", 1000.0, 500.0),
    ("A", "cost_ratio"): (60.0, "amber", 50.0, 70.0),
    ("B", "cost_ratio"): (45.0, "green", 50.0, 70.0),
    ("G", "cost_ratio"): (50.0, "green", 50.0, 70.0),
}
# FY2026-Q2 under the edited catalogue (grants are revenue; target green 40, amber 45):
#   A: revenue 360 + 3 × 30 = 450 (red);   ratio 216 / 450 = 48 % (> 45: red)
#   B: revenue 720 + 3 × 60 = 900 (amber); ratio 324 / 900 = 36 % (green)
#   G: revenue 1350 (green);               ratio 540 / 1350 = 40 % (green)
EDITED_Q2 = {
    ("A", "total_revenue"): (450.0, "red", 1000.0, 500.0),
    ("B", "total_revenue"): (900.0, "amber", 1000.0, 500.0),
    ("G", "total_revenue"): (1350.0, "green", 1000.0, 500.0),
    ("A", "cost_ratio"): (48.0, "red", 40.0, 45.0),
    ("B", "cost_ratio"): (36.0, "green", 40.0, 45.0),
    ("G", "cost_ratio"): (40.0, "green", 40.0, 45.0),
}


def test_a_closed_cycle_stays_frozen_until_reopened(
    workspace: Path, soekpi: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1783000000")
    loads = [("entities", "e.csv", ENTITIES), ("financials", "q1.csv", Q1)]
    load_csvs(workspace, [*loads, ("financials", "q2.csv", Q2)], tmp_path)
    assert soekpi("report", "--cycle", "FY2026-Q2").exit_code == 0
    run = workspace / "out" / "FY2026-Q2"
    before = soekpi("compute", "--cycle", "FY2026-Q2", "--format", "json")
    assert _values(before.stdout) == PINNED_Q2

    closed = soekpi("close", "FY2026-Q2")
    assert closed.exit_code == 0, closed.output
    (pin,) = _pins(workspace)
    # loads: entities (1), Q1 (2), Q2 (3)
    assert (pin.cycle, pin.as_of_load, pin.reopened_at) == ("FY2026-Q2", 3, None)
    assert pin.manifest_sha256 is not None

    # The catalogue changes: compute of the closed cycle keeps the pinned numbers, and says so.
    write(workspace / "metrics" / "catalogue.yaml", EDITED)
    after = soekpi("compute", "--cycle", "FY2026-Q2", "--format", "json")
    assert after.exit_code == 0, after.output
    assert after.stdout == before.stdout
    assert after.stderr == (
        f"FY2026-Q2 is closed: computed with the definitions pinned on "
        f"{pin.pinned_at:%Y-%m-%d}; 2 KPIs differ from the catalogue\n"
    )
    # An open cycle is computed with the catalogue as it is now, without a notice:
    # FY2026-Q1 G revenue 3 × (100 + 10 + 200 + 20) = 990 with grants (not 900).
    q1 = soekpi("compute", "--cycle", "FY2026-Q1", "--format", "json", "--entity", "G")
    assert (q1.stderr, _values(q1.stdout)[("G", "total_revenue")][0]) == ("", 990.0)

    # The sealed run cannot be replaced: exit 2, nothing written, the folder as it was.
    sealed = _folder(run)
    forced = soekpi("report", "--cycle", "FY2026-Q2", "--force")
    assert forced.exit_code == 2, forced.output
    assert "soekpi close FY2026-Q2 --reopen --reason TEXT" in forced.stderr
    assert _folder(run) == sealed
    assert sorted(p.name for p in run.parent.iterdir()) == ["FY2026-Q2"]

    # A later quarter's report draws FY2026-Q2 from its pin: G's revenue went from the
    # pinned 1080 to 1350 in Q3 (3 × (150 + 300)), a change of +270 (under today's
    # catalogue Q2 would be 1350 too: no change at all).
    load_csvs(workspace, [("financials", "q3.csv", Q3)], tmp_path)
    q3 = soekpi("report", "--cycle", "FY2026-Q3")
    assert (q3.exit_code, q3.stderr) == (0, ""), q3.output
    row = _md_row(workspace / "out" / "FY2026-Q3", "Revenue")
    assert (row[1], row[4]) == ("1,350.00 CNY", "+270.00 CNY")

    # Data that arrive after the close do not reach the closed cycle: a new unit C under G
    # (entities have no periods: the load is accepted) is not in FY2026-Q2, which stands at
    # the pinned load 3.
    load_csvs(workspace, [("entities", "c.csv", "entity_id,name,parent_id\nC,Unit C,G\n")])
    assert soekpi("compute", "--cycle", "FY2026-Q2", "--format", "json").stdout == before.stdout

    # verify: the sealed run is as it was closed ...
    ok = soekpi("verify", str(run))
    assert ok.exit_code == 0, ok.output
    # ... until someone rewrites a file and its manifest entry: the manifest no longer has
    # the SHA-256 recorded at close.
    manifest = json.loads((run / "manifest.json").read_text(encoding="utf-8"))
    (run / "report.md").write_bytes(b"# all green\n")
    manifest["files"]["report.md"] = hashlib.sha256(b"# all green\n").hexdigest()
    (run / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    altered = soekpi("verify", str(run))
    assert altered.exit_code == 1, altered.output
    assert "manifest.json: altered since FY2026-Q2 was closed" in altered.stdout

    # Reopen with a reason (C's zero returns for Q2 can now be loaded), close again: a new
    # pin with today's catalogue and data.
    reason = "grants count as revenue (board decision)"
    assert soekpi("close", "FY2026-Q2", "--reopen", "--reason", reason).exit_code == 0
    load_csvs(workspace, [("financials", "c_q2.csv", ledger(range(4, 7), C_NOTHING))])
    assert soekpi("close", "FY2026-Q2").exit_code == 0
    repinned = soekpi("compute", "--cycle", "FY2026-Q2", "--format", "json")
    # C: revenue 0 (< 500: red); cost 0 / revenue 0 has no value (no_data); G as before
    with_c = {
        ("C", "total_revenue"): (0.0, "red", 1000.0, 500.0),
        ("C", "cost_ratio"): (None, "no_data", 40.0, 45.0),
    }
    assert (repinned.stderr, _values(repinned.stdout)) == ("", EDITED_Q2 | with_c)
    first, second = _pins(workspace)
    assert (first.reopen_reason, second.reopen_reason, second.reopened_at) == (reason, None, None)
    assert first.reopened_at is not None and first.definitions != second.definitions
    # loads: entities, Q1, Q2 (3) | Q3, entity C, C's Q2 returns (6)
    assert (first.as_of_load, second.as_of_load) == (3, 6)
    assert _log(workspace) == [("close", None), ("reopen", reason), ("close", None)]
