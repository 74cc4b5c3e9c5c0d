"""The default catalogue (metrics/): it loads, every KPI is documented, the views are right."""

from __future__ import annotations

import math
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from soekpi.catalogue.model import Catalogue
from soekpi.catalogue.validate import load_catalogue_files

METRICS = Path(__file__).resolve().parents[2] / "metrics"
HAN = re.compile(r"[\u4e00-\u9fff]")

# DEFAULT_CATALOGUE.md: id → (category, direction)
EXPECTED = {
    "revenue_per_employee": ("productivity", "higher_is_better"),
    "cost_income_ratio": ("productivity", "lower_is_better"),
    "digital_revenue_share": ("productivity", "higher_is_better"),
    "revenue_growth_yoy": ("productivity", "higher_is_better"),
    "productivity_growth_yoy": ("productivity", "higher_is_better"),
    "digital_investment_intensity": ("investment", "higher_is_better"),
    "rd_intensity": ("investment", "higher_is_better"),
    "scaled_investment_share": ("investment", "higher_is_better"),
    "cloud_adoption_rate": ("integration", "higher_is_better"),
    "system_integration_rate": ("integration", "higher_is_better"),
    "data_sharing_interfaces": ("integration", "higher_is_better"),
    "predictive_maintenance_coverage": ("operations", "higher_is_better"),
    "unplanned_downtime_rate": ("operations", "lower_is_better"),
    "digital_talent_share": ("talent", "higher_is_better"),
    "training_hours_per_employee": ("talent", "higher_is_better"),
    "digital_hires": ("talent", "higher_is_better"),
    "cost_performance_index": ("delivery", "higher_is_better"),
    "schedule_performance_index": ("delivery", "higher_is_better"),
    "budget_execution_rate": ("delivery", "higher_is_better"),
    "on_time_delivery_rate": ("delivery", "higher_is_better"),
    "projects_over_budget_share": ("delivery", "lower_is_better"),
    "critical_security_incidents": ("risk", "lower_is_better"),
    "mean_time_to_resolve_hours": ("risk", "lower_is_better"),
    "open_critical_incidents": ("risk", "lower_is_better"),
    "digital_transformation_index": ("index", "higher_is_better"),
}
# Deliberately without thresholds: a good value depends on the entity's size.
UNTRACKED = {"revenue", "data_sharing_interfaces", "digital_hires"}


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    files = sorted(METRICS.glob("*.yaml"))
    return load_catalogue_files(files, lambda p: f"metrics/{p.name}")


def test_the_default_catalogue_loads_cleanly(catalogue: Catalogue) -> None:
    assert sorted(Path(f).name for f in catalogue.files) == sorted(
        p.name for p in METRICS.glob("*.yaml")
    )
    assert len(catalogue.kpis) == len(EXPECTED) + 1  # + the helper KPI 'revenue'


def test_every_kpi_of_the_default_catalogue_exists(catalogue: Catalogue) -> None:
    found = {k: (catalogue.kpis[k].category, catalogue.kpis[k].direction) for k in EXPECTED}
    assert found == EXPECTED


@pytest.mark.parametrize("kpi_id", sorted([*EXPECTED, "revenue"]))
def test_every_kpi_is_documented(catalogue: Catalogue, kpi_id: str) -> None:
    kpi = catalogue.kpis[kpi_id]
    assert set(kpi.name) == {"en", "zh-CN"}
    assert kpi.name["en"].strip() and kpi.name["en"] != kpi_id
    assert HAN.search(kpi.name["zh-CN"]), f"{kpi_id}: zh-CN name has no Chinese characters"
    assert len(kpi.description.split()) >= 25, f"{kpi_id}: the description is too short"
    assert kpi.unit
    assert kpi.direction in ("higher_is_better", "lower_is_better")
    assert kpi.decimals >= 0


def test_thresholds_everywhere_except_the_deliberately_untracked(catalogue: Catalogue) -> None:
    untracked = {k for k, kpi in catalogue.kpis.items() if kpi.thresholds is None}
    assert untracked == UNTRACKED
    for kpi_id in UNTRACKED:
        assert "threshold" in catalogue.kpis[kpi_id].description


def test_thresholds_are_ordered_by_direction(catalogue: Catalogue) -> None:
    for kpi in catalogue.kpis.values():
        if kpi.thresholds is None:
            continue
        if kpi.direction == "higher_is_better":
            assert kpi.thresholds.green >= kpi.thresholds.amber, kpi.id
        else:
            assert kpi.thresholds.green <= kpi.thresholds.amber, kpi.id


def test_percentages_are_scaled_by_100(catalogue: Catalogue) -> None:
    for kpi in catalogue.kpis.values():
        if kpi.unit == "%" and kpi.type in ("ratio", "simple"):
            assert kpi.scale == 100, kpi.id
        if kpi.type == "growth":
            assert kpi.scale == 1 and kpi.unit == "%", kpi.id


def test_the_composite_has_ten_components_whose_weights_sum_to_one(
    catalogue: Catalogue,
) -> None:
    index = catalogue.kpis["digital_transformation_index"]
    assert index.type == "composite"
    assert index.components is not None
    assert len(index.components) == 10
    assert math.isclose(sum(index.components.values()), 1.0, abs_tol=1e-9)
    for component in index.components:
        # a component scores only against a green threshold
        assert catalogue.kpis[component].thresholds is not None, component


def test_windows_follow_the_definitions(catalogue: Catalogue) -> None:
    kpis = catalogue.kpis
    assert kpis["cost_performance_index"].window == "to_date"
    assert kpis["schedule_performance_index"].window == "to_date"
    assert kpis["budget_execution_rate"].window == "ytd"
    assert catalogue.measures[kpis["budget_execution_rate"].denominator or ""].time == "none"
    assert kpis["revenue_growth_yoy"].compare == "same_cycle_last_year"


def test_stocks_take_the_closing_value(catalogue: Catalogue) -> None:
    stocks = {
        "systems_total",
        "systems_on_cloud",
        "systems_integrated",
        "data_sharing_interfaces",
        "critical_assets",
        "assets_predictive",
    }
    for measure in catalogue.measures.values():
        if measure.source == "indicators":
            indicator = re.fullmatch(r"indicator = '(\w+)'", measure.filter or "")
            assert indicator is not None, measure.id
            expected = "closing" if indicator.group(1) in stocks else "sum"
            assert measure.agg == expected, measure.id
    assert catalogue.measures["headcount_avg"].agg == "average"
    assert catalogue.measures["headcount_end"].agg == "closing"


def test_every_measure_is_used(catalogue: Catalogue) -> None:
    used = {m for kpi in catalogue.kpis.values() for m in kpi.measure_inputs}
    assert sorted(set(catalogue.measures) - used) == []


def test_targets_name_existing_kpis_with_thresholds(catalogue: Catalogue) -> None:
    assert catalogue.targets
    for target in catalogue.targets:
        kpi = catalogue.kpis[target.kpi]
        assert kpi.thresholds is not None, target.kpi
        if kpi.direction == "higher_is_better":
            assert target.green >= target.amber
        else:
            assert target.green <= target.amber


# --- the two views, run on small hand-made data ----------------------------------------


def _warehouse(catalogue: Catalogue, rows: dict[str, list[tuple[Any, ...]]]) -> Any:
    """An in-memory DuckDB with every table of the contract, the given rows and the views."""
    import duckdb

    con = duckdb.connect()
    for source in catalogue.sources.values():
        if source.is_view:
            continue
        columns = ", ".join(f"{c.name} {c.type}" for c in source.columns.values())
        con.execute(f"create table {source.id} ({columns})")
        for row in rows.get(source.id, []):
            names = ", ".join(list(source.columns)[: len(row)])  # trailing columns stay null
            marks = ", ".join("?" for _ in row)
            con.execute(f"insert into {source.id} ({names}) values ({marks})", list(row))
    for source in catalogue.sources.values():
        if source.is_view:
            con.execute(f"create view {source.id} as {source.sql}")
    return con


def _closing(con: Any, view: str, column: str, entity: str, start: date, end: date) -> Any:
    """SPEC §3.2 closing for one entity: its latest month in [start, end] that has rows."""
    sql = (
        f"select sum({column}) from {view} where entity_id = ? and month = "
        f"(select max(month) from {view} where entity_id = ? and month between ? and ?)"
    )
    return con.execute(sql, [entity, entity, start, end]).fetchall()[0][0]


def test_open_critical_incidents_view_counts_what_is_open_at_each_month_end(
    catalogue: Catalogue,
) -> None:
    fin = [("E1", date(2025, m, 1), "revenue", 1) for m in range(1, 7)]  # data to June 2025
    incidents = [
        # severity 4, occurred in January, resolved on 10 March: open at the end of Jan, Feb
        ("I1", "E1", "2025-01-20 08:00:00", "cyber", 4, "2025-03-10 09:00:00"),
        # severity 3, never resolved: open from the end of February on
        ("I2", "E1", "2025-02-05 12:00:00", "outage", 3, None),
        # severity 2: never counts
        ("I3", "E1", "2025-02-06 12:00:00", "data", 2, None),
        # resolved at midnight starting 1 May (resolved in May): open at the end of April
        ("I4", "E2", "2025-04-30 23:00:00", "data", 3, "2025-05-01 00:00:00"),
        # resolved in the last second of April: not open at the end of April
        ("I5", "E2", "2025-04-02 10:00:00", "safety", 4, "2025-04-30 23:59:59"),
    ]
    con = _warehouse(catalogue, {"financials": fin, "incidents": incidents})
    rows = con.execute(
        "select entity_id, month, open_critical from open_incidents_by_month order by all"
    ).fetchall()
    e1 = {month.month: count for entity, month, count in rows if entity == "E1"}
    # Jan: I1 = 1; Feb: I1 + I2 = 2; Mar..Jun: I2 = 1 (I1 resolved on 10 March)
    assert e1 == {1: 1, 2: 2, 3: 1, 4: 1, 5: 1, 6: 1}
    e2 = {month.month: count for entity, month, count in rows if entity == "E2"}
    # E2's rows start with its first incident (April) and run to the last month of data;
    # only I4 is open at the end of April
    assert e2 == {4: 1, 5: 0, 6: 0}
    # Q2 2025 (April–June): E1's closing value is June's count, 1; E2 has 0 open in June
    assert (
        _closing(
            con,
            "open_incidents_by_month",
            "open_critical",
            "E1",
            date(2025, 4, 1),
            date(2025, 6, 30),
        )
        == 1
    )
    assert (
        _closing(
            con,
            "open_incidents_by_month",
            "open_critical",
            "E2",
            date(2025, 4, 1),
            date(2025, 6, 30),
        )
        == 0
    )


def test_project_month_status_view_flags_active_and_over_budget_projects(
    catalogue: Catalogue,
) -> None:
    fin = [("E1", date(2025, m, 1), "revenue", 1) for m in range(1, 7)]  # data to June 2025
    projects = [
        # active, budget 100: cost 40 (Jan) + 70 (Mar) = 110 > 100 from March on
        (
            "P1",
            "E1",
            "ERP",
            "cloud",
            "pilot",
            "active",
            date(2025, 1, 10),
            date(2025, 12, 31),
            None,
            100,
        ),
        # completed on 15 March: active at the end of Feb, not at the end of March
        (
            "P2",
            "E1",
            "CRM",
            "data_platform",
            "scaling",
            "completed",
            date(2025, 2, 1),
            date(2025, 3, 31),
            date(2025, 3, 15),
            50,
        ),
        # cancelled: never counted
        (
            "P3",
            "E1",
            "BI",
            "ai_analytics",
            "pilot",
            "cancelled",
            date(2025, 1, 1),
            date(2025, 6, 30),
            None,
            10,
        ),
        # starts on 1 June: active at the end of June only
        (
            "P4",
            "E1",
            "IoT",
            "automation",
            "pilot",
            "active",
            date(2025, 6, 1),
            date(2026, 6, 30),
            None,
            500,
        ),
    ]
    progress = [
        ("P1", "E1", date(2025, 1, 1), 10, 10, 40),
        ("P1", "E1", date(2025, 3, 1), 10, 10, 70),
        ("P2", "E1", date(2025, 2, 1), 20, 20, 60),  # 60 > 50: over budget in February
        ("P3", "E1", date(2025, 1, 1), 5, 5, 99),
    ]
    con = _warehouse(
        catalogue, {"financials": fin, "projects": projects, "project_progress": progress}
    )
    rows = con.execute(
        "select month, active_projects, over_budget_projects "
        "from project_month_status where entity_id = 'E1' order by month"
    ).fetchall()
    by_month = {month.month: (active, over) for month, active, over in rows}
    assert by_month == {
        1: (1, 0),  # P1 active, cost 40 ≤ 100
        2: (2, 1),  # P1 (40) and P2 (60 > 50) active
        3: (1, 1),  # P2 completed; P1 at 40 + 70 = 110 > 100
        4: (1, 1),
        5: (1, 1),
        6: (2, 1),  # P4 started in June, cost 0
    }
    # Q1 2025 closing: March has 1 active and 1 over budget → share 1 / 1 × 100 = 100 %
    # Q2 2025 closing: June has 2 active, 1 over budget → share 1 / 2 × 100 = 50 %
    q1 = (date(2025, 1, 1), date(2025, 3, 31))
    active = _closing(con, "project_month_status", "active_projects", "E1", *q1)
    over = _closing(con, "project_month_status", "over_budget_projects", "E1", *q1)
    assert (active, over) == (1, 1)
    q2 = (date(2025, 4, 1), date(2025, 6, 30))
    active = _closing(con, "project_month_status", "active_projects", "E1", *q2)
    over = _closing(con, "project_month_status", "over_budget_projects", "E1", *q2)
    assert (active, over) == (2, 1)


def test_project_month_status_view_edge_cases(catalogue: Catalogue) -> None:
    fin = [("E1", date(2025, m, 1), "revenue", 1) for m in range(1, 7)]  # data to June 2025

    def project(pid: str, status: str, start: date, end: date | None, budget: int) -> tuple:
        return (pid, "E2", pid, "cloud", "pilot", status, start, date(2026, 6, 30), end, budget)

    projects = [
        # completed without an end date: never active, but its entity has rows from March
        project("Q1", "completed", date(2025, 3, 5), None, 10),
        # active, budget 100: cost 60 (Feb) + 40 (Mar) = 100 is not above the budget;
        # + 1 (May) = 101 is, from May on. The 500 booked in December 2024, before the
        # project's first month, is not part of its cost to date.
        project("Q2", "active", date(2025, 2, 20), None, 100),
        # over budget in February (90 > 80), completed in April (ends on 1 April, so
        # active at the end of February and March only): over budget in Feb and Mar
        project("Q3", "completed", date(2025, 2, 1), date(2025, 4, 1), 80),
        # 'active' but with an actual end in May: active at the end of April, not of May
        project("Q4", "active", date(2025, 4, 30), date(2025, 5, 31), 0),
    ]
    progress = [
        ("Q2", "E2", date(2024, 12, 1), 0, 0, 500),
        ("Q2", "E2", date(2025, 2, 1), 0, 0, 60),
        ("Q2", "E2", date(2025, 3, 1), 0, 0, 40),
        ("Q2", "E2", date(2025, 5, 1), 0, 0, 1),
        ("Q3", "E2", date(2025, 2, 1), 0, 0, 90),
        ("Q4", "E2", date(2025, 4, 1), 0, 0, 0),  # cost 0 is not above budget 0
    ]
    con = _warehouse(
        catalogue, {"financials": fin, "projects": projects, "project_progress": progress}
    )
    rows = con.execute(
        "select month, active_projects, over_budget_projects "
        "from project_month_status where entity_id = 'E2' order by month"
    ).fetchall()
    by_month = {month.month: (active, over) for month, active, over in rows}
    assert by_month == {
        2: (2, 1),  # Q2 (60 ≤ 100), Q3 (90 > 80)
        3: (2, 1),  # Q2 (100 ≤ 100), Q3
        4: (2, 0),  # Q2 (100), Q4 (0 ≤ 0); Q3 completed on 1 April
        5: (1, 1),  # Q2 (101 > 100); Q4 ended on 31 May
        6: (1, 1),  # Q2
    }
    # E2's rows start in February, its first project's first month (Q1, completed, also
    # gives rows from March but no counts)
    assert min(rows)[0] == date(2025, 2, 1)


def test_project_month_status_view_over_budget_across_years_and_negative_costs(
    catalogue: Catalogue,
) -> None:
    """The month a project goes over budget when its cost to date crosses a year boundary,
    reaches the budget exactly, or (outside the contract) falls back after a negative cost:
    a project counts as over budget from the first month its cost to date exceeds the
    budget, and only if its whole cost from its first month on exceeds the budget."""
    fin = [("E1", date(2025, m, 1), "revenue", 1) for m in range(1, 7)]  # data to June 2025

    def project(pid: str, status: str, start: date, end: date | None, budget: int) -> tuple:
        return (pid, "E3", pid, "cloud", "pilot", status, start, date(2026, 6, 30), end, budget)

    def cost(pid: str, period: date, amount: int) -> tuple:
        return (pid, "E3", period, 0, 0, amount)

    projects = [
        # budget 100: 60 (Nov 2024) + 30 (Dec) = 90, + 5 (Jan 2025) = 95, + 10 (Mar) = 105
        # > 100 from March 2025; the 500 booked on 15 December is not on a month's first day
        project("R1", "active", date(2024, 11, 10), None, 100),
        # 100 in December 2024 equals the budget; + 1 in January 2025 = 101 > 100
        project("R2", "active", date(2024, 12, 1), None, 100),
        # 150 > 100 in November 2024, back to 50 after -100 in December (so 2024 ends
        # below the budget), 110 in January 2025: over budget from November 2024, its
        # first month above the budget; completed on 20 May 2025, so active at the end of
        # November to April
        project("R3", "completed", date(2024, 11, 1), date(2025, 5, 20), 100),
        # 120 > 100 in January 2025, then -20: its whole cost, 100, does not exceed the
        # budget, so it is never over budget
        project("R4", "active", date(2025, 1, 1), None, 100),
        # planned: never counted, whatever it costs
        project("R5", "planned", date(2025, 1, 1), None, 1),
        # -50 booked in January 2025, before its first month, is not part of its cost:
        # 120 > 100 from February 2025 (its whole cost, 70, is below the budget)
        project("R6", "active", date(2025, 2, 1), None, 100),
        # 50 (Nov 2024) + 60 (Dec) = 110 > 100 from December 2024, the year's last month
        project("R7", "active", date(2024, 11, 1), None, 100),
    ]
    progress = [
        cost("R1", date(2024, 11, 1), 60),
        cost("R1", date(2024, 12, 1), 30),
        cost("R1", date(2024, 12, 15), 500),
        cost("R1", date(2025, 1, 1), 5),
        cost("R1", date(2025, 3, 1), 10),
        cost("R2", date(2024, 12, 1), 100),
        cost("R2", date(2025, 1, 1), 1),
        cost("R3", date(2024, 11, 1), 150),
        cost("R3", date(2024, 12, 1), -100),
        cost("R3", date(2025, 1, 1), 60),
        cost("R4", date(2025, 1, 1), 120),
        cost("R4", date(2025, 2, 1), -20),
        cost("R5", date(2025, 1, 1), 50),
        cost("R6", date(2025, 1, 1), -50),
        cost("R6", date(2025, 2, 1), 120),
        cost("R7", date(2024, 11, 1), 50),
        cost("R7", date(2024, 12, 1), 60),
    ]
    con = _warehouse(
        catalogue, {"financials": fin, "projects": projects, "project_progress": progress}
    )
    rows = con.execute(
        "select month, active_projects, over_budget_projects "
        "from project_month_status where entity_id = 'E3' order by month"
    ).fetchall()
    assert rows == [
        (date(2024, 11, 1), 3, 1),  # R1 (60), R3 (150 > 100), R7 (50)
        (date(2024, 12, 1), 4, 2),  # + R2 (100); R3 (50, over since November), R7 (110)
        (date(2025, 1, 1), 5, 3),  # + R4 (never over); R2 (101) over
        (date(2025, 2, 1), 6, 4),  # + R6 (120 > 100)
        (date(2025, 3, 1), 6, 5),  # R1 (105) over
        (date(2025, 4, 1), 6, 5),
        (date(2025, 5, 1), 5, 4),  # R3 completed on 20 May
        (date(2025, 6, 1), 5, 4),
    ]
