"""KPI types, targets and status (SPEC §3.3–§3.5) on the golden data
(tests/golden_workspace.py)."""

from __future__ import annotations

import polars as pl
import pytest
from golden_workspace import row, value

from soekpi.engine import KpiResult
from soekpi.engine.kpis import score_expr, status_expr

Q4_25, Q1, Q2, Q4 = "FY2025-Q4", "FY2026-Q1", "FY2026-Q2", "FY2026-Q4"
G_Q1_REVENUE = (100 + 120 + 80) + (40 + 30 + 30) + (7 + 3) + (60 + 60 + 60)
G_Q1_COST = 30 + 30 + 50 + 20 + 45 + 9


def test_ratio_is_a_ratio_of_subtree_sums(result: KpiResult) -> None:
    assert value(result, "cost_ratio", "G", Q1) == pytest.approx(G_Q1_COST / G_Q1_REVENUE * 100)
    s1_cost, s1_revenue = 30 + 30 + 50 + 20, 300 + 100 + 10
    assert value(result, "cost_ratio", "S1", Q1) == pytest.approx(s1_cost / s1_revenue * 100)
    staff_avg = (10 + 12 + 11) / 3 + (5 + 6) / 2 + (8 + 9) / 2
    assert value(result, "revenue_per_head", "G", Q1) == pytest.approx(G_Q1_REVENUE / staff_avg)


def test_ratio_with_zero_or_null_denominator_is_null_and_no_data(result: KpiResult) -> None:
    # Q2 staff: only U12, with headcount 0 → S1 and G divide by 0, U21 by null.
    for entity in ("S1", "G", "U12", "U21"):
        got = row(result, "revenue_per_head_end", entity, Q2)
        assert got["value"] is None
        assert got["status"] == "no_data"


def test_derived_evaluates_the_formula_with_scale(result: KpiResult) -> None:
    cost, staff_closing = G_Q1_COST, 11 + 6 + 9
    expected = (
        (G_Q1_REVENUE - cost) / G_Q1_REVENUE * 2
        + abs(-1)
        - min(cost, 50)
        + max(cost, 50)
        + staff_closing
    ) * 10
    assert value(result, "margin_like", "G", Q1) == pytest.approx(expected)
    # In Q2 cost is null: + - * / and min/max propagate null (coalesce alone would not).
    assert value(result, "margin_like", "G", Q2) is None


def test_derived_division_by_zero_is_null(result: KpiResult) -> None:
    # revenue_per_ticket = revenue / ticket_count; U11 has no ticket in Q2
    assert value(result, "revenue_per_ticket", "U11", Q2) is None
    assert value(result, "revenue_per_ticket", "G", Q1) == pytest.approx(G_Q1_REVENUE / 4)


def test_growth_previous_cycle(result: KpiResult) -> None:
    g_q4_25 = 30 + 15 + 60
    assert value(result, "revenue_qoq", "G", Q1) == pytest.approx(
        (G_Q1_REVENUE - g_q4_25) / abs(g_q4_25) * 100
    )
    # FY2025-Q4's previous cycle FY2025-Q3 has no revenue: null
    assert value(result, "revenue_qoq", "G", Q4_25) is None
    # S1 had no own rows before May; its subtree (U11, U12) had revenue in FY2025-Q4
    s1_q4_25, s1_q1 = (10 + 10 + 10) + (5 + 5 + 5), 300 + 100 + 10
    assert value(result, "revenue_qoq", "S1", Q1) == pytest.approx(
        (s1_q1 - s1_q4_25) / abs(s1_q4_25) * 100
    )


def test_growth_same_cycle_last_year_and_zero_base(result: KpiResult) -> None:
    # tickets: FY2026-Q1 G 4, FY2025-Q1 (Apr–Jun 2024) G 3
    assert value(result, "tickets_yoy", "G", Q1) == pytest.approx((4 - 3) / 3 * 100)
    assert value(result, "tickets_yoy", "S2", Q1) == pytest.approx((1 - 2) / abs(2) * 100)
    # U12 had 0 tickets a year before: v_prev = 0 → null
    assert value(result, "tickets_yoy", "U12", Q1) is None


def test_composite_scores_contributions_and_index(result: KpiResult) -> None:
    parts = result.components.filter((pl.col("entity") == "G") & (pl.col("cycle") == Q1))
    by = {r["component"]: r for r in parts.to_dicts()}
    assert sorted(by) == ["cost_ratio", "revenue"]
    ratio = G_Q1_COST / G_Q1_REVENUE * 100
    revenue_score = min(100, max(0, 100 * G_Q1_REVENUE / 400))  # FY2026 target green 400
    ratio_score = min(100, 100 * 25 / ratio)  # lower is better, green 25
    assert by["revenue"]["score"] == pytest.approx(revenue_score)
    assert by["revenue"]["green"] == 400
    assert by["cost_ratio"]["score"] == pytest.approx(ratio_score)
    assert by["cost_ratio"]["contribution"] == pytest.approx(0.6 * ratio_score / (0.4 + 0.6))
    assert by["revenue"]["weight"] == 0.4
    assert value(result, "health", "G", Q1) == pytest.approx(
        (0.4 * revenue_score + 0.6 * ratio_score) / (0.4 + 0.6)
    )
    # The component's green is the one that applies to the entity: U21's own target 180.
    assert value(result, "health", "U21", Q1) == pytest.approx(
        (0.4 * min(100, 100 * 180 / 180) + 0.6 * min(100, 100 * 25 / (54 / 180 * 100))) / 1.0
    )


def test_composite_uses_only_components_with_a_score(result: KpiResult) -> None:
    # FY2025-Q4: no cost rows, so cost_ratio is null; revenue 105 against its own green 500.
    g_q4_25 = 30 + 15 + 60
    assert value(result, "health", "G", Q4_25) == pytest.approx(0.4 * (100 * g_q4_25 / 500) / 0.4)
    # FY2026-Q4 has no data at all: no component has a score → null
    got = row(result, "health", "G", Q4)
    assert (got["value"], got["status"]) == (None, "no_data")


def test_targets_most_specific_row_wins(result: KpiResult) -> None:
    def applied(entity: str, cycle: str) -> tuple[float, float]:
        got = row(result, "revenue", entity, cycle)
        return got["green"], got["amber"]

    assert applied("S2", Q1) == (200, 180)  # entity + fiscal year
    assert applied("S2", Q4_25) == (150, 100)  # entity (no FY2025 row for S2)
    assert applied("U21", Q1) == (180, 100)  # entity beats fiscal year
    assert applied("G", Q1) == (400, 200)  # fiscal year
    assert applied("U12", Q1) == (400, 200)  # S1 has no row; S2's rows are not U12's
    assert applied("G", Q4_25) == (500, 300)  # the KPI's own thresholds


def test_entity_target_does_not_apply_to_the_subtree(result: KpiResult) -> None:
    # U21 sits under S2, whose (S2, 2026) row is 200/180; U21 gets its own row instead, and
    # in FY2025 S2's entity row 150/100 does not reach U21 either.
    assert row(result, "revenue", "U21", Q4_25)["green"] == 180


def test_status_boundaries_higher_is_better(result: KpiResult) -> None:
    assert value(result, "revenue", "U21", Q1) == 60 + 60 + 60
    assert row(result, "revenue", "U21", Q1)["status"] == "green"  # exactly on green 180
    assert value(result, "revenue", "S2", Q1) == 180
    assert row(result, "revenue", "S2", Q1)["status"] == "amber"  # exactly on amber 180
    assert row(result, "revenue", "U12", Q1)["status"] == "red"  # 100 < 200
    assert row(result, "revenue", "U11", Q1)["status"] == "amber"  # 200 <= 300 < 400


def test_status_boundaries_lower_is_better(result: KpiResult) -> None:
    assert value(result, "cost", "U12", Q1) == 20
    assert row(result, "cost", "U12", Q1)["status"] == "green"  # exactly on green 20
    assert value(result, "cost", "U21", Q1) == 45 + 9
    assert row(result, "cost", "U21", Q1)["status"] == "amber"  # exactly on amber 54
    assert row(result, "cost", "U11", Q1)["status"] == "amber"  # 100 < 110 <= 200
    assert value(result, "cost_ratio", "S2", Q1) == 54 / 180 * 100
    assert row(result, "cost_ratio", "S2", Q1)["status"] == "amber"  # exactly 30
    assert row(result, "cost_ratio", "U11", Q1)["status"] == "red"  # 110 / 300 * 100 > 30


def test_untracked_without_thresholds(result: KpiResult) -> None:
    got = row(result, "customers", "G", Q1)
    assert (got["status"], got["green"], got["amber"]) == ("untracked", None, None)


def test_status_precedence_and_monotonic_colours() -> None:
    frame = pl.DataFrame(
        {
            "v": [None, 5.0, 5.0, 10.0, 7.0, 6.9],
            "i": [True, True, False, False, False, False],
            "g": [10.0, 10.0, None, 10.0, 10.0, 10.0],
            "a": [7.0, 7.0, None, 7.0, 7.0, 7.0],
        }
    )
    status = frame.select(
        status_expr(pl.col("v"), pl.col("i"), pl.col("g"), pl.col("a"), "higher_is_better")
    ).to_series()
    assert status.to_list() == ["no_data", "incomplete", "untracked", "green", "amber", "red"]


def test_lower_is_better_scores() -> None:
    frame = pl.DataFrame({"v": [-1.0, 0.0, 10.0, 40.0, None], "g": [20.0, 20.0, 20.0, 20.0, 20.0]})
    scores = frame.select(score_expr(pl.col("v"), pl.col("g"), "lower_is_better")).to_series()
    assert scores.to_list() == [100.0, 100.0, 100.0, 100 * 20 / 40, None]
    higher = pl.DataFrame({"v": [-5.0, 5.0, 30.0, 1.0], "g": [20.0, 20.0, 20.0, None]})
    scores = higher.select(score_expr(pl.col("v"), pl.col("g"), "higher_is_better")).to_series()
    assert scores.to_list() == [0.0, 100 * 5 / 20, 100.0, None]


def test_formula_functions_and_null_handling() -> None:
    from soekpi.catalogue.formula import parse_formula
    from soekpi.engine.kpis import formula_expr

    frame = pl.DataFrame({"v|a": [6.0, None, 6.0], "v|b": [3.0, 2.0, 0.0]})

    def run(text: str) -> list[float | None]:
        return frame.select(formula_expr(parse_formula(text))).to_series().to_list()

    assert run("coalesce(a, 10) + b") == [6.0 + 3.0, 10.0 + 2.0, 6.0 + 0.0]
    assert run("min(a, b)") == [3.0, None, 0.0]
    assert run("max(a, b, 4)") == [6.0, None, 6.0]
    assert run("abs(b - a)") == [abs(3.0 - 6.0), None, abs(0.0 - 6.0)]
    assert run("-(a - b) * 2") == [-(6.0 - 3.0) * 2, None, -(6.0 - 0.0) * 2]
    assert run("a / b") == [6.0 / 3.0, None, None]
