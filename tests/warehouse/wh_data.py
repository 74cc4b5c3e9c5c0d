"""The warehouse tests' workspace data (the fixtures that build it are in conftest.py; the
helpers that run and inspect loads in tests/helpers.py).

Sources: ``entities`` (G ← A, B, self-referencing parent_id), ``ledger`` (monthly, decimal
amounts, allowed accounts), ``staff`` (monthly, integer headcount ≥ 0, ratio ≤ 1),
``events`` (timestamped, severity 1..4, boolean), ``things`` (no time column, a unique
code) and ``ledger_view`` (a view). Fiscal year = calendar year.
"""

from __future__ import annotations

from helpers import ENTITIES_SOURCE

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
)

ENTITIES = "entity_id,name,parent_id\nG,Group,\nA,Unit A,G\nB,Unit B,G\n"
HEADER = "entity_id,period,account,amount\n"
