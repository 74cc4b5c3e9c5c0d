"""The catalogue of a small, valid workspace that each catalogue test breaks in one way (the
``build_workspace`` fixture in conftest.py writes it)."""

from __future__ import annotations

from collections.abc import Callable

from soekpi.workspace import Workspace

SOURCES = """\
sources:
  entities:
    primary_key: [entity_id]
    columns:
      entity_id: {type: varchar, required: true, unique: true}
      name:      {type: varchar, required: true}
      parent_id: {type: varchar, references: entities.entity_id}
  financials:
    time_column: period
    cadence: monthly
    entity_column: entity_id
    primary_key: [entity_id, period, account]
    columns:
      entity_id: {type: varchar, required: true, references: entities.entity_id}
      period:    {type: date, required: true}
      account:   {type: varchar, required: true, allowed: [revenue, cost]}
      amount:    {type: "decimal(18,2)", required: true}
  workforce:
    time_column: period
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true}
      period:    {type: date, required: true}
      headcount: {type: integer, min: 0}
  monthly_totals:
    sql: "select entity_id, period, sum(amount) as total from financials group by all"
    time_column: period
    entity_column: entity_id
"""

MEASURES = """\
measures:
  revenue:       {source: financials, agg: sum, expr: amount, filter: "account = 'revenue'"}
  cost:          {source: financials, agg: sum, expr: amount, filter: "account = 'cost'"}
  headcount_avg: {source: workforce, agg: average, expr: headcount}
  total:         {source: monthly_totals, agg: sum, expr: total}
"""

KPIS = """\
kpis:
  revenue_per_employee:
    name: {en: Labour productivity, zh-CN: 全员劳动生产率}
    category: productivity
    unit: CNY/person
    decimals: 0
    type: ratio
    numerator: revenue
    denominator: headcount_avg
    thresholds: {green: 1200, amber: 1000}
  cost_income_ratio:
    name: Cost-to-income ratio
    type: ratio
    numerator: cost
    denominator: revenue
    scale: 100
    direction: lower_is_better
    thresholds: {green: 85, amber: 92}
  margin:
    name: Margin
    type: derived
    expr: 100 - cost_income_ratio
  revenue_growth:
    name: Revenue growth
    type: growth
    of: revenue_per_employee
    compare: same_cycle_last_year
  index:
    name: Index
    type: composite
    components: {revenue_per_employee: 0.25, cost_income_ratio: 0.75}
"""

TARGETS = """\
targets:
  - {kpi: cost_income_ratio, fiscal_year: 2026, green: 80, amber: 90}
"""

BASE = {
    "sources.yaml": SOURCES,
    "measures.yaml": MEASURES,
    "kpis.yaml": KPIS,
    "targets.yaml": TARGETS,
}

#: The ``build_workspace`` fixture: ``build_workspace(files, base=True)``.
BuildWorkspace = Callable[..., Workspace]
