"""A tiny hand-built warehouse for the engine's golden tests (tests/engine), which the Spark
tests (tests/spark) run again on Spark: so it lives here, importable from both folders.

Hierarchy: G → S1, S2; S1 → U11, U12; S2 → U21. Fiscal year starts in April (label end):
FY2025-Q4 = Jan–Mar 2025, FY2026-Q1 = Apr–Jun 2025, FY2026-Q2 = Jul–Sep 2025.

Every number the tests expect is worked out by hand from the rows below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import catalogue_workspace, fill_warehouse

from soekpi.catalogue import load_catalogue
from soekpi.catalogue.model import Catalogue
from soekpi.engine import KpiResult
from soekpi.workspace import Workspace, read_workspace

WORKSPACE = """\
fiscal_year: {start_month: 4}
"""

#: The cycles the ``result`` fixture of tests/engine computes (and tests/spark recomputes).
GOLDEN_CYCLES = ("FY2025-Q4", "FY2026-Q1", "FY2026-Q2", "FY2026-Q4")

SOURCES = """\
sources:
  entities:
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true, unique: true}
      name:      {type: varchar, required: true}
      name_zh:   {type: varchar}
      parent_id: {type: varchar, references: entities.entity_id}
  ledger:
    time_column: period
    cadence: monthly
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true}
      period:    {type: date, required: true}
      account:   {type: varchar, required: true}
      amount:    {type: "decimal(18,2)", required: true}
  staff:
    time_column: period
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true}
      period:    {type: date, required: true}
      headcount: {type: integer, required: true}
  tickets:
    time_column: opened_at
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true}
      opened_at: {type: timestamp, required: true}
      customer:  {type: varchar, required: true}
      hours:     {type: double, required: true}
  assets:
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true}
      asset_id:  {type: varchar, required: true}
      value:     {type: "decimal(18,2)", required: true}
  rates:
    time_column: period
    columns:
      period: {type: date, required: true}
      rate:   {type: double, required: true}
  long_tickets:
    sql: "select entity_id, opened_at, customer, hours from tickets where hours > 2"
    time_column: opened_at
    entity_column: entity_id
"""

MEASURES = """\
measures:
  revenue:         {source: ledger, agg: sum, expr: amount, filter: "account = 'revenue'"}
  revenue_rows:    {source: ledger, agg: count, filter: "account = 'revenue'"}
  all_revenue:
    {source: ledger, agg: sum, expr: amount, filter: "account = 'revenue'", time: none}
  cost:            {source: ledger, agg: sum, expr: amount, filter: "account = 'cost'"}
  cost_rows:       {source: ledger, agg: count, filter: "account = 'cost'"}
  cost_mean:       {source: ledger, agg: mean, expr: amount, filter: "account = 'cost'"}
  cost_min:        {source: ledger, agg: min, expr: amount, filter: "account = 'cost'"}
  cost_max:        {source: ledger, agg: max, expr: amount, filter: "account = 'cost'"}
  staff_closing:   {source: staff, agg: closing, expr: headcount}
  staff_average:   {source: staff, agg: average, expr: headcount}
  ticket_count:    {source: tickets, agg: count}
  customers:       {source: tickets, agg: count_distinct, expr: customer}
  ticket_hours:    {source: tickets, agg: mean, expr: hours}
  long_hours:      {source: long_tickets, agg: sum, expr: hours}
  asset_value:     {source: assets, agg: sum, expr: value}
  group_rate:      {source: rates, agg: mean, expr: rate}
  group_rate_end:  {source: rates, agg: closing, expr: rate}
"""


def _simple(kpi_id: str, measure: str, extra: str = "") -> str:
    return (
        f"  {kpi_id}:\n    name: {kpi_id}\n    unit: u\n    type: simple\n"
        f"    measure: {measure}\n{extra}"
    )


KPIS = (
    "kpis:\n"
    + _simple(
        "revenue",
        "revenue",
        "    unit: CNY\n    thresholds: {green: 500, amber: 300}\n",
    ).replace("    unit: u\n", "")
    + _simple("revenue_ytd", "revenue", "    window: ytd\n")
    + _simple("revenue_to_date", "revenue", "    window: to_date\n")
    + _simple("all_revenue", "all_revenue")
    + _simple("revenue_rows", "revenue_rows")
    + _simple(
        "cost",
        "cost",
        "    direction: lower_is_better\n    thresholds: {green: 100, amber: 200}\n",
    )
    + _simple("cost_rows", "cost_rows")
    + _simple("cost_mean", "cost_mean")
    + _simple("cost_min", "cost_min")
    + _simple("cost_max", "cost_max")
    + _simple("staff_closing", "staff_closing")
    + _simple("staff_average", "staff_average")
    + _simple("ticket_count", "ticket_count")
    + _simple("customers", "customers")
    + _simple("ticket_hours", "ticket_hours")
    + _simple("long_hours", "long_hours")
    + _simple("asset_value", "asset_value", "    scale: 0.001\n")
    + _simple("group_rate", "group_rate")
    + _simple("group_rate_end", "group_rate_end")
    + """\
  cost_ratio:
    name: Cost ratio
    unit: "%"
    type: ratio
    numerator: cost
    denominator: revenue
    scale: 100
    direction: lower_is_better
    thresholds: {green: 25, amber: 30}
  revenue_per_head:
    name: Revenue per head
    unit: CNY/person
    type: ratio
    numerator: revenue
    denominator: staff_average
  revenue_per_head_end:
    name: Revenue per head at the end
    unit: CNY/person
    type: ratio
    numerator: revenue
    denominator: staff_closing
    thresholds: {green: 10, amber: 5}
  revenue_per_ticket:
    name: Revenue per ticket
    unit: CNY
    type: derived
    expr: "revenue / ticket_count"
  margin_like:
    name: A derived formula with every operator
    unit: "%"
    type: derived
    expr: >-
      (revenue - cost) / revenue * 2 + abs(-1) - min(cost, 50) + max(cost, 50)
      + coalesce(staff_closing, 7)
    scale: 10
  revenue_qoq:
    name: Revenue growth on the previous quarter
    unit: "%"
    type: growth
    of: revenue
    compare: previous_cycle
    thresholds: {green: 0, amber: -10}
  tickets_yoy:
    name: Ticket growth on the same quarter last year
    unit: "%"
    type: growth
    of: ticket_count
    compare: same_cycle_last_year
  health:
    name: Health index
    unit: index
    type: composite
    components: {revenue: 0.4, cost_ratio: 0.6}
    thresholds: {green: 75, amber: 50}
"""
)

TARGETS = """\
targets:
  - {kpi: revenue, fiscal_year: 2026, green: 400, amber: 200}
  - {kpi: revenue, entity: S2, green: 150, amber: 100}
  - {kpi: revenue, entity: S2, fiscal_year: 2026, green: 200, amber: 180}
  - {kpi: revenue, entity: U21, green: 180, amber: 100}
  - {kpi: cost, entity: U12, green: 20, amber: 30}
  - {kpi: cost, entity: U21, green: 40, amber: 54}
"""

ENTITIES = [
    ("G", "Group", "集团", None),
    ("S1", "Sub one", None, "G"),
    ("S2", "Sub two", None, "G"),
    ("U11", "Unit 11", None, "S1"),
    ("U12", "Unit 12", None, "S1"),
    ("U21", "Unit 21", None, "S2"),
]

# Monthly revenue per entity (first of the month → amount). U21 misses 2025-08; S1 files its
# own rows from 2025-05 only; X9 is not an entity and must be ignored.
REVENUE: dict[str, dict[str, int]] = {
    "U11": {"2025-01": 10, "2025-02": 10, "2025-03": 10,
            "2025-04": 100, "2025-05": 120, "2025-06": 80,
            "2025-07": 90, "2025-08": 90, "2025-09": 90},
    "U12": {"2025-01": 5, "2025-02": 5, "2025-03": 5,
            "2025-04": 40, "2025-05": 30, "2025-06": 30,
            "2025-07": 50, "2025-08": 50, "2025-09": 50},
    "U21": {"2025-01": 20, "2025-02": 20, "2025-03": 20,
            "2025-04": 60, "2025-05": 60, "2025-06": 60,
            "2025-07": 70, "2025-09": 70},
    "S1": {"2025-05": 7, "2025-06": 3, "2025-07": 1, "2025-08": 1, "2025-09": 1},
    "X9": {"2025-04": 1000},
}  # fmt: skip

COST = [
    ("U11", "2025-04", 30),
    ("U11", "2025-04", 30),
    ("U11", "2025-05", 50),
    ("U12", "2025-04", 20),
    ("U21", "2025-06", 45),
    ("U21", "2025-06", 9),
]

STAFF = [
    ("U11", "2025-04", 10),
    ("U11", "2025-05", 12),
    ("U11", "2025-06", 11),
    ("U12", "2025-04", 5),
    ("U12", "2025-05", 6),
    ("U21", "2025-05", 5),
    ("U21", "2025-05", 3),
    ("U21", "2025-06", 9),
    ("U12", "2025-07", 0),
]

TICKETS = [
    ("U11", "2025-04-03 10:00:00", "acme", 2.5),
    ("U11", "2025-05-10 09:00:00", "beta", 4.0),
    ("U12", "2025-06-30 23:59:59", "acme", 1.5),
    ("U21", "2025-04-15 08:00:00", "gamma", 8.0),
    ("U21", "2025-07-01 00:00:00", "acme", 3.0),
    ("U11", "2024-05-01 12:00:00", "acme", 1.0),
    ("U21", "2024-06-01 00:00:00", "delta", 2.0),
    ("U21", "2024-06-02 00:00:00", "delta", 2.0),
]

ASSETS = [("U11", "A1", "100.50"), ("U12", "A2", "200.25"), ("U21", "A3", "50.00"),
          ("S2", "A4", "10.00")]  # fmt: skip

RATES = [("2025-04", 1.5), ("2025-05", 2.5), ("2025-06", 3.5)]


def write_workspace(root: Path, catalogue: dict[str, str] | None = None) -> Workspace:
    """The workspace folder with its catalogue files (no warehouse yet)."""
    files = catalogue or {
        "sources.yaml": SOURCES,
        "measures.yaml": MEASURES,
        "kpis.yaml": KPIS,
        "targets.yaml": TARGETS,
    }
    return read_workspace(catalogue_workspace(root, files, settings=WORKSPACE))


def golden_rows() -> dict[str, list[Any]]:
    """Every table of the golden warehouse as rows in contract column order."""
    ledger = [
        (entity, f"{month}-01", "revenue", amount)
        for entity, months in REVENUE.items()
        for month, amount in months.items()
    ] + [(entity, f"{month}-01", "cost", amount) for entity, month, amount in COST]
    return {
        "entities": ENTITIES,
        "ledger": ledger,
        "staff": [(e, f"{m}-01", h) for e, m, h in STAFF],
        "tickets": TICKETS,
        "assets": ASSETS,
        "rates": [(f"{m}-01", r) for m, r in RATES],
    }


def build_golden(root: Path) -> tuple[Workspace, Catalogue]:
    """The golden workspace, its catalogue and its filled warehouse."""
    ws = write_workspace(root)
    catalogue = load_catalogue(ws)
    fill_warehouse(ws, catalogue, golden_rows())
    return ws, catalogue


def row(result: KpiResult, kpi: str, entity: str, cycle: str) -> dict[str, Any]:
    """The one row of (kpi, entity, cycle)."""
    import polars as pl

    rows = result.values.filter(
        (pl.col("kpi") == kpi) & (pl.col("entity") == entity) & (pl.col("cycle") == cycle)
    ).to_dicts()
    assert len(rows) == 1, (kpi, entity, cycle, rows)
    return rows[0]


def value(result: KpiResult, kpi: str, entity: str, cycle: str) -> Any:
    """The value of (kpi, entity, cycle)."""
    return row(result, kpi, entity, cycle)["value"]
