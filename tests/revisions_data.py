"""A tiny workspace whose definitions change over time (issue 17, revisions), shared by the
engine, report and audit tests of revisions.

The group G has two units, A and B; the fiscal year is the calendar year (FY2026-Q1 is
January–March 2026). Every month from 2025-10 to 2026-09, each unit books the same amounts:

    unit  sales  services  employees  contractors
    A       900       100         10            5
    B       600       200          5            0

``labour_productivity`` = revenue / average headcount. Two revisions change it:

* from FY2026 the headcount includes contractors (the KPI's ``denominator``);
* from FY2026-Q3 revenue includes services (the ``revenue`` measure's ``filter``).

So, for a quarter of G (three months): revenue is 3 × (900 + 600) = 4500 before FY2026-Q3 and
3 × (900 + 100 + 600 + 200) = 5400 from it; the average headcount is 10 + 5 = 15 without
contractors and 15 + 5 = 20 with them (an ``average`` is taken per unit, then added up).
"""

from __future__ import annotations

from pathlib import Path

from helpers import CALENDAR_YEAR, catalogue_workspace

REASON_HEADCOUNT = "Headcount includes contractors from 2026 (board decision 2026-02-11)"
REASON_SERVICES = "Services count as revenue from FY2026-Q3"

CATALOGUE = f"""\
sources:
  entities:
    primary_key: [entity_id]
    columns:
      entity_id: {{type: varchar, required: true, unique: true}}
      name:      {{type: varchar, required: true}}
      parent_id: {{type: varchar, references: entities.entity_id}}
  ledger:
    time_column: period
    cadence: monthly
    entity_column: entity_id
    primary_key: [entity_id, period, account]
    columns:
      entity_id: {{type: varchar, required: true, references: entities.entity_id}}
      period:    {{type: date, required: true}}
      account:   {{type: varchar, required: true, allowed: [sales, services]}}
      amount:    {{type: "decimal(18,2)", required: true}}
  workforce:
    time_column: period
    entity_column: entity_id
    primary_key: [entity_id, period]
    columns:
      entity_id:   {{type: varchar, required: true, references: entities.entity_id}}
      period:      {{type: date, required: true}}
      employees:   {{type: integer, required: true}}
      contractors: {{type: integer, required: true}}
measures:
  revenue:
    source: ledger
    agg: sum
    expr: amount
    filter: "account = 'sales'"
    revisions:
      - effective_from: FY2026-Q3
        reason: "{REASON_SERVICES}"
        filter: "account in ('sales', 'services')"
  headcount_avg: {{source: workforce, agg: average, expr: employees}}
  headcount_incl_contractors_avg: {{source: workforce, agg: average, expr: employees + contractors}}
kpis:
  labour_productivity:
    name: {{en: Labour productivity, zh-CN: 全员劳动生产率}}
    unit: CNY/person
    decimals: 0
    type: ratio
    numerator: revenue
    denominator: headcount_avg
    thresholds: {{green: 250, amber: 200}}
    revisions:
      - effective_from: FY2026
        reason: "{REASON_HEADCOUNT}"
        denominator: headcount_incl_contractors_avg
  productivity_growth:
    name: Labour productivity growth
    unit: "%"
    type: growth
    of: labour_productivity
    compare: previous_cycle
"""

ENTITIES = "entity_id,name,parent_id\nG,Group,\nA,Unit A,G\nB,Unit B,G\n"
MONTHS = [f"2025-{m:02d}-01" for m in (10, 11, 12)] + [f"2026-{m:02d}-01" for m in range(1, 10)]


def ledger() -> str:
    rows = ["entity_id,period,account,amount"]
    for month in MONTHS:
        rows += [f"A,{month},sales,900", f"A,{month},services,100"]
        rows += [f"B,{month},sales,600", f"B,{month},services,200"]
    return "\n".join(rows) + "\n"


def workforce() -> str:
    rows = ["entity_id,period,employees,contractors"]
    for month in MONTHS:
        rows += [f"A,{month},10,5", f"B,{month},5,0"]
    return "\n".join(rows) + "\n"


def revisions_workspace(root: Path, catalogue: str = CATALOGUE) -> Path:
    """The workspace above, its three sources loaded."""
    loads = [
        ("entities", "entities.csv", ENTITIES),
        ("ledger", "ledger.csv", ledger()),
        ("workforce", "workforce.csv", workforce()),
    ]
    return catalogue_workspace(
        root, catalogue, settings=CALENDAR_YEAR, loads=loads, inputs=root / "in"
    )
