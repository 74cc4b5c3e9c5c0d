"""Aggregations and windows of measures (SPEC §3.2), through simple KPIs of the golden data.

Every expected number is worked out from the rows in tests/golden_workspace.py.
"""

from __future__ import annotations

import pytest
from golden_workspace import value

from soekpi.engine import KpiResult

Q4_25, Q1, Q2, Q4 = "FY2025-Q4", "FY2026-Q1", "FY2026-Q2", "FY2026-Q4"


def test_sum_rolls_up_every_subtree_with_own_rows_and_ignores_unknown_entities(
    result: KpiResult,
) -> None:
    u11, u12, u21 = 100 + 120 + 80, 40 + 30 + 30, 60 + 60 + 60
    s1_own = 7 + 3
    assert value(result, "revenue", "U11", Q1) == u11
    assert value(result, "revenue", "U12", Q1) == u12
    assert value(result, "revenue", "U21", Q1) == u21
    assert value(result, "revenue", "S1", Q1) == u11 + u12 + s1_own
    assert value(result, "revenue", "S2", Q1) == u21
    # X9 (1000 in April) is not an entity and counts nowhere.
    assert value(result, "revenue", "G", Q1) == u11 + u12 + s1_own + u21


def test_sum_windows_cycle_ytd_and_to_date(result: KpiResult) -> None:
    g_q4_25 = (10 + 10 + 10) + (5 + 5 + 5) + (20 + 20 + 20)
    g_q1 = (100 + 120 + 80) + (40 + 30 + 30) + (7 + 3) + (60 + 60 + 60)
    g_q2 = (90 + 90 + 90) + (50 + 50 + 50) + (1 + 1 + 1) + (70 + 70)
    assert value(result, "revenue", "G", Q4_25) == g_q4_25
    assert value(result, "revenue", "G", Q2) == g_q2
    # ytd: from the fiscal year's first month (April) to the cycle's end.
    assert value(result, "revenue_ytd", "G", Q1) == g_q1
    assert value(result, "revenue_ytd", "G", Q2) == g_q1 + g_q2
    assert value(result, "revenue_ytd", "G", Q4_25) == g_q4_25  # FY2025 = Apr 2024..Mar 2025
    # to_date: everything up to the cycle's end.
    assert value(result, "revenue_to_date", "G", Q1) == g_q4_25 + g_q1
    assert value(result, "revenue_to_date", "U11", Q2) == 10 * 3 + 300 + 90 * 3
    # A cycle without rows: sum over no rows is null.
    assert value(result, "revenue", "G", Q4) is None
    assert value(result, "revenue_to_date", "G", Q4) == g_q4_25 + g_q1 + g_q2


def test_time_none_ignores_the_window(result: KpiResult) -> None:
    g_all = (30 + 15 + 60) + (300 + 100 + 10 + 180) + (270 + 150 + 3 + 140)
    for cycle in (Q4_25, Q1, Q2, Q4):
        assert value(result, "all_revenue", "G", cycle) == g_all
    # assets have no time column at all; scale 0.001
    assert value(result, "asset_value", "G", Q1) == pytest.approx(
        (100.50 + 200.25 + 50.00 + 10.00) * 0.001
    )
    assert value(result, "asset_value", "S2", Q4) == pytest.approx((50.00 + 10.00) * 0.001)


def test_count_and_count_over_no_rows_is_zero(result: KpiResult) -> None:
    assert value(result, "revenue_rows", "G", Q1) == 3 + 3 + 2 + 3
    assert value(result, "cost_rows", "U11", Q1) == 3  # two postings in April, one in May
    assert value(result, "cost_rows", "G", Q1) == 6
    assert value(result, "cost_rows", "G", Q2) == 0
    assert value(result, "ticket_count", "S1", Q2) == 0


def test_min_max_and_row_level_mean(result: KpiResult) -> None:
    assert value(result, "cost_min", "G", Q1) == 9
    assert value(result, "cost_max", "G", Q1) == 50
    assert value(result, "cost_min", "S1", Q1) == 20
    # mean is the row-level mean of the subtree, not the mean of children's means
    assert value(result, "cost_mean", "G", Q1) == pytest.approx((30 + 30 + 50 + 20 + 45 + 9) / 6)
    assert value(result, "cost_mean", "S1", Q1) == pytest.approx((30 + 30 + 50 + 20) / 4)
    for kpi in ("cost_min", "cost_max", "cost_mean"):
        assert value(result, kpi, "G", Q2) is None


def test_mean_of_doubles_on_a_timestamp_column(result: KpiResult) -> None:
    assert value(result, "ticket_hours", "G", Q1) == pytest.approx((2.5 + 4.0 + 1.5 + 8.0) / 4)
    assert value(result, "ticket_hours", "S1", Q1) == pytest.approx((2.5 + 4.0 + 1.5) / 3)
    # 2025-07-01 00:00:00 belongs to Q2, 2025-06-30 23:59:59 to Q1
    assert value(result, "ticket_hours", "G", Q2) == pytest.approx(3.0)


def test_count_distinct_is_distinct_across_the_subtree(result: KpiResult) -> None:
    assert value(result, "customers", "U11", Q1) == 2  # acme, beta
    assert value(result, "customers", "U12", Q1) == 1  # acme
    assert value(result, "customers", "S1", Q1) == 2  # acme is shared: not 2 + 1
    assert value(result, "customers", "G", Q1) == 3  # acme, beta, gamma
    assert value(result, "customers", "U12", Q2) == 0


def test_closing_takes_each_entitys_latest_month_with_rows(result: KpiResult) -> None:
    u11, u12, u21 = 11, 6, 9  # U12's latest month with rows is May; U21's is June
    assert value(result, "staff_closing", "U11", Q1) == u11
    assert value(result, "staff_closing", "U12", Q1) == u12
    assert value(result, "staff_closing", "U21", Q1) == u21
    assert value(result, "staff_closing", "S1", Q1) == u11 + u12
    assert value(result, "staff_closing", "G", Q1) == u11 + u12 + u21
    assert value(result, "staff_closing", "U11", Q2) is None
    assert value(result, "staff_closing", "S1", Q2) == 0  # U12 files 0 in July


def test_average_is_the_mean_of_months_with_rows(result: KpiResult) -> None:
    u11 = (10 + 12 + 11) / 3
    u12 = (5 + 6) / 2  # no June row: June does not count
    u21 = ((5 + 3) + 9) / 2  # no April row; May's two rows make one month total
    assert value(result, "staff_average", "U12", Q1) == pytest.approx(u12)
    assert value(result, "staff_average", "U21", Q1) == pytest.approx(u21)
    assert value(result, "staff_average", "G", Q1) == pytest.approx(u11 + u12 + u21)
    assert value(result, "staff_average", "G", Q4_25) is None


def test_group_wide_source_gives_every_entity_the_same_value(result: KpiResult) -> None:
    for entity in ("G", "S1", "S2", "U11", "U12", "U21"):
        assert value(result, "group_rate", entity, Q1) == pytest.approx((1.5 + 2.5 + 3.5) / 3)
        assert value(result, "group_rate_end", entity, Q1) == 3.5
        assert value(result, "group_rate", entity, Q2) is None


def test_view_source_is_inlined(result: KpiResult) -> None:
    # long_tickets: tickets with hours > 2
    assert value(result, "long_hours", "G", Q1) == pytest.approx(2.5 + 4.0 + 8.0)
    assert value(result, "long_hours", "U12", Q1) is None  # its only ticket is 1.5 hours
    assert value(result, "long_hours", "S2", Q2) == pytest.approx(3.0)
