"""The audit tests' workspace data: three entities, a monthly ledger, two KPIs (the
fixtures that build it are in conftest.py).

Hierarchy: G (group) ← A, B. Fiscal year = calendar year (start_month 1), so FY2026-Q1 is
January–March 2026. Values the tests assert are worked out by hand in each test.
"""

from __future__ import annotations

CATALOGUE = """\
sources:
  entities:
    description: The group and its units.
    primary_key: [entity_id]
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true, unique: true}
      name:      {type: varchar, required: true}
      parent_id: {type: varchar, references: entities.entity_id}
  financials:
    description: Monthly ledger.
    time_column: period
    cadence: monthly
    entity_column: entity_id
    primary_key: [entity_id, period, account]
    columns:
      entity_id: {type: varchar, required: true, references: entities.entity_id}
      period:    {type: date, required: true}
      account:   {type: varchar, required: true, allowed: [revenue, cost]}
      amount:    {type: "decimal(18,2)", required: true}

measures:
  revenue: {source: financials, agg: sum, expr: amount, filter: "account = 'revenue'"}
  cost:    {source: financials, agg: sum, expr: amount, filter: "account = 'cost'"}

kpis:
  total_revenue:
    name: Revenue
    description: Revenue of the cycle.
    category: productivity
    unit: CNY
    type: simple
    measure: revenue
    direction: higher_is_better
    thresholds: {green: 1000, amber: 500}
  cost_ratio:
    name: Cost-income ratio
    description: Cost over revenue.
    category: productivity
    unit: "%"
    type: ratio
    numerator: cost
    denominator: revenue
    scale: 100
    direction: lower_is_better
    thresholds: {green: 60, amber: 80}
"""

ENTITIES = "entity_id,name,parent_id\nG,Group,\nA,Unit A,G\nB,Unit B,G\n"

# FY2026-Q1 ledger: A and B file revenue and cost each month.
#   A revenue 100/month, cost 50/month; B revenue 200/month, cost 150/month.
Q1_LEDGER = "entity_id,period,account,amount\n" + "".join(
    f"{e},2026-{m:02d}-01,{acct},{amt}\n"
    for m in (1, 2, 3)
    for e, acct, amt in (
        ("A", "revenue", "100.00"),
        ("A", "cost", "50.00"),
        ("B", "revenue", "200.00"),
        ("B", "cost", "150.00"),
    )
)

# The same ledger without B's March cost: it arrives late (LATE_COST), a restatement of Q1.
#   Before: A revenue 300, cost 150; B revenue 600, cost 300; G (A + B) revenue 900, cost 450.
#   After:  B cost 300 + 150 = 450; G cost 450 + 150 = 600.
LATE_COST = "entity_id,period,account,amount\nB,2026-03-01,cost,150.00\n"
LEDGER_WITHOUT_LATE_COST = Q1_LEDGER.replace("B,2026-03-01,cost,150.00\n", "")
