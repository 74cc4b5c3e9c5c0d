"""The report's warehouse queries: rejected rows and projects over budget / behind schedule."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from soekpi.catalogue.model import Catalogue, Column, Source
from soekpi.warehouse.queries import project_risks, rejected_counts


def _source(name: str, columns: list[str], time_column: str | None = None) -> Source:
    return Source(
        id=name, time_column=time_column, columns={c: Column(c, "varchar") for c in columns}
    )


CATALOGUE = Catalogue(
    sources={
        "projects": _source("projects", ["project_id", "entity_id", "name", "budget"]),
        "project_progress": _source(
            "project_progress",
            ["project_id", "entity_id", "period", "planned_value", "earned_value", "actual_cost"],
            "period",
        ),
    },
    measures={},
    kpis={},
)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("""
        create table projects (project_id varchar, entity_id varchar, name varchar,
                               budget decimal(18,2));
        insert into projects values ('P1', 'E1', 'ERP | cloud', 1000),
                                    ('P2', 'E2', 'Data lake', 500), ('P3', 'E1', 'Old', 100),
                                    ('P4', 'E2', 'On track', 300);
        create table project_progress (project_id varchar, entity_id varchar, period date,
            planned_value decimal(18,2), earned_value decimal(18,2), actual_cost decimal(18,2));
        insert into project_progress values
          ('P1', 'E1', '2026-06-01', 100, 90, 120),
          ('P1', 'E1', '2026-07-01', 100, 80, 110),
          ('P1', 'E1', '2026-10-01', 500, 500, 900),   -- after the cycle: ignored
          ('P2', 'E2', '2026-08-01', 200, 150, 160),
          ('P3', 'E1', '2025-01-01', 100, 10, 500),    -- no progress in the cycle: left out
          ('P4', 'E2', '2026-09-01', 100, 100, 90);
        create table _rejected (load_id bigint, source varchar, file varchar, row_number bigint,
            column_name varchar, reason varchar, raw json, rejected_at timestamp);
        insert into _rejected values
          (1, 'financials', 'ledger.csv', 7, 'amount', 'amount: not a number', '{}', null),
          (1, 'financials', 'ledger.csv', 7, 'period', 'period: not a date', '{}', null),
          (1, 'financials', 'ledger.csv', 3, 'period', 'period: not a date', '{}', null),
          (2, 'workforce', 'hr.xlsx', 2, null, 'duplicate key', '{}', null);
    """)
    return con


def test_rejected_rows_are_counted_per_source_and_file(con: duckdb.DuckDBPyConnection) -> None:
    counts = rejected_counts(con)
    # ledger.csv: rows 3 and 7 (row 7 failed two checks) → 2 rows; first reason is row 3's
    assert [(r.source, r.file, r.rows, r.example_reason) for r in counts] == [
        ("financials", "ledger.csv", 2, "period: not a date"),
        ("workforce", "hr.xlsx", 1, "duplicate key"),
    ]


def test_no_rejected_table_means_none() -> None:
    assert rejected_counts(duckdb.connect()) == []


def test_projects_over_budget_and_behind_schedule(con: duckdb.DuckDBPyConnection) -> None:
    risks = project_risks(con, CATALOGUE, date(2026, 7, 1), date(2026, 9, 30))
    assert risks is not None
    # P1 to 2026-09-30: EV 90 + 80 = 170, AC 120 + 110 = 230, PV 200 → CV −60, SV −30
    # P2: EV 150, AC 160, PV 200 → CV −10, SV −50; P4: CV +10, SV 0 (neither list)
    assert [(p.project_id, p.cost_variance) for p in risks.over_budget] == [
        ("P1", 170.0 - 230.0),
        ("P2", 150.0 - 160.0),
    ]
    assert [(p.project_id, p.schedule_variance) for p in risks.behind_schedule] == [
        ("P2", 150.0 - 200.0),
        ("P1", 170.0 - 200.0),
    ]
    p1 = risks.over_budget[0]
    assert (p1.name, p1.entity_id, p1.budget) == ("ERP | cloud", "E1", 1000.0)
    assert p1.cpi == pytest.approx(170 / 230)
    assert p1.spi == pytest.approx(170 / 200)
    limited = project_risks(con, CATALOGUE, date(2026, 7, 1), date(2026, 9, 30), limit=1)
    assert limited is not None and [p.project_id for p in limited.over_budget] == ["P1"]


def test_project_risks_need_both_sources(con: duckdb.DuckDBPyConnection) -> None:
    only_projects = Catalogue(
        sources={"projects": CATALOGUE.sources["projects"]}, measures={}, kpis={}
    )
    assert project_risks(con, only_projects, date(2026, 7, 1), date(2026, 9, 30)) is None
