"""Data completeness of monthly returns (SPEC §3.4) on the golden data
(tests/golden_workspace.py).

The ledger is monthly. U21 misses 2025-08 (FY2026-Q2); S1 files its own rows from 2025-05
only; every other reporter files every month from 2025-01 to 2025-09.
"""

from __future__ import annotations

from datetime import date

from golden_workspace import row

from soekpi.engine import KpiResult

Q1, Q2 = "FY2026-Q1", "FY2026-Q2"


def test_missing_lists_the_months_reporters_did_not_file(result: KpiResult) -> None:
    august = date(2025, 8, 1)
    # FY2026-Q4's ytd and to_date windows (revenue_ytd, revenue_to_date) run from April and
    # from the beginning to March 2026; nobody filed from October 2025 on.
    late = [date(2025, m, 1) for m in (10, 11, 12)] + [date(2026, m, 1) for m in (1, 2, 3)]
    expected = [
        ("ledger", "U21", "FY2026-Q2", august),
        ("ledger", "U21", "FY2026-Q4", august),
        *(("ledger", e, "FY2026-Q4", m) for e in ("S1", "U11", "U12", "U21") for m in late),
    ]
    rows = [(r["source"], r["entity"], r["cycle"], r["month"]) for r in result.missing.to_dicts()]
    assert rows == sorted(expected)


def test_incomplete_for_the_entity_and_every_ancestor_only(result: KpiResult) -> None:
    for entity in ("U21", "S2", "G"):
        got = row(result, "revenue", entity, Q2)
        assert got["status"] == "incomplete"
        assert got["value"] is not None  # still computed and shown
    for entity in ("S1", "U11", "U12"):
        assert row(result, "revenue", entity, Q2)["status"] != "incomplete"


def test_months_before_an_entitys_first_row_do_not_count(result: KpiResult) -> None:
    # S1's own rows start in May 2025: April is not missing, so Q1 is complete.
    assert row(result, "revenue", "S1", Q1)["status"] == "green"


def test_windows_decide_which_months_count(result: KpiResult) -> None:
    # ytd and to_date windows of Q2 contain August as well
    assert row(result, "revenue_ytd", "G", Q2)["status"] == "incomplete"
    assert row(result, "revenue_to_date", "S2", Q2)["status"] == "incomplete"
    assert row(result, "revenue_ytd", "G", Q1)["status"] == "untracked"


def test_incomplete_propagates_through_derived_growth_and_composite(result: KpiResult) -> None:
    assert row(result, "revenue_per_ticket", "G", Q2)["status"] == "incomplete"
    assert row(result, "revenue_qoq", "G", Q2)["status"] == "incomplete"
    assert row(result, "health", "G", Q2)["status"] == "incomplete"
    assert row(result, "health", "S1", Q2)["status"] != "incomplete"
    # non-monthly sources never make a KPI incomplete
    assert row(result, "ticket_count", "G", Q2)["status"] == "untracked"


def test_no_data_takes_precedence_over_incomplete(result: KpiResult) -> None:
    got = row(result, "cost", "G", Q2)  # no cost rows in Q2, and August is missing
    assert (got["value"], got["status"]) == (None, "no_data")
