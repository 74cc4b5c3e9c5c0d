"""Rows outside every window are skipped for the values but not for completeness.

When only cycle windows are asked (here: revenue alone), the measure plan reads a monthly
source from the first window's first month on; each entity's first month still comes from
every row, so an entity that stopped filing before the window is still missing in it.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from golden_workspace import MEASURES, SOURCES, _simple, golden_rows, row, write_workspace
from helpers import fill_warehouse

from soekpi.base.calendar import parse_cycle
from soekpi.catalogue import load_catalogue
from soekpi.catalogue.model import Catalogue
from soekpi.engine import compute
from soekpi.workspace import Workspace


def test_reporters_that_stopped_before_the_window_are_missing_in_it(
    golden: tuple[Workspace, Catalogue],
) -> None:
    ws, catalogue = golden
    # The golden ledger runs from 2025-01 to 2025-09; FY2026-Q4 (start_month 4) is
    # January–March 2026, after every row.
    result = compute(ws, catalogue, [parse_cycle("FY2026-Q4")], kpis=["revenue"])
    months = [date(2026, 1, 1), date(2026, 2, 1), date(2026, 3, 1)]
    got = [(r["entity"], r["month"]) for r in result.missing.to_dicts()]
    assert got == [(e, m) for e in ("S1", "U11", "U12", "U21") for m in months]
    assert row(result, "revenue", "G", "FY2026-Q4")["status"] == "no_data"


def test_the_values_of_a_cycle_alone_equal_those_computed_with_history(
    golden: tuple[Workspace, Catalogue],
) -> None:
    ws, catalogue = golden
    cycles = [parse_cycle("FY2026-Q1"), parse_cycle("FY2026-Q2")]
    alone = compute(ws, catalogue, cycles, kpis=["revenue"])
    # revenue_to_date reads the same source from the beginning
    together = compute(ws, catalogue, cycles, kpis=["revenue", "revenue_to_date"])
    assert (
        alone.values.to_dicts()
        == together.values.filter(together.values["kpi"] == "revenue").to_dicts()
    )
    assert alone.missing.to_dicts() == together.missing.to_dicts()


def test_months_between_two_windows_are_skipped_but_first_months_come_from_every_row(
    tmp_path: Path,
) -> None:
    """FY2025-Q4 (Jan–Mar 2025) and FY2026-Q2 (Jul–Sep 2025), start_month 4: the plan groups
    only rows of those six months, not April–June. U9 files from 2025-05 (between the two
    windows), skips July and files August and September: its first month is May, so July is
    missing in FY2026-Q2 — a first month taken from the grouped rows (August) would hide it."""
    ws = write_workspace(tmp_path / "ws")
    catalogue = load_catalogue(ws)
    tables = golden_rows()
    tables["entities"] = [*tables["entities"], ("U9", "Unit 9", None, "S1")]
    u9 = {"2025-05": 4, "2025-06": 4, "2025-08": 6, "2025-09": 8}
    tables["ledger"] = [
        *tables["ledger"],
        *((("U9", f"{m}-01", "revenue", a)) for m, a in u9.items()),
    ]
    fill_warehouse(ws, catalogue, tables)
    cycles = [parse_cycle("FY2025-Q4"), parse_cycle("FY2026-Q2")]
    result = compute(ws, catalogue, cycles, kpis=["revenue"])

    got = [(r["entity"], r["cycle"], r["month"]) for r in result.missing.to_dicts()]
    # U21 misses 2025-08 (the golden data); U9 misses July; nobody misses anything in
    # FY2025-Q4 (U9 had not started; S1 files from 2025-05).
    assert got == [("U21", "FY2026-Q2", date(2025, 8, 1)), ("U9", "FY2026-Q2", date(2025, 7, 1))]
    # revenue sums the window's months: U9 6 + 8; S1 its own 1 + 1 + 1, U11's 90 × 3,
    # U12's 50 × 3 and U9's
    assert row(result, "revenue", "U9", "FY2026-Q2")["value"] == 6 + 8
    assert row(result, "revenue", "S1", "FY2026-Q2")["value"] == 3 + 270 + 150 + 6 + 8
    assert row(result, "revenue", "U9", "FY2025-Q4")["status"] == "no_data"


def test_month_spans_merge_adjacent_and_overlapping_windows() -> None:
    from soekpi.engine.plan import BEGINNING, Window, month_spans

    q3 = Window("FY2026-Q3", "cycle", date(2026, 7, 1), date(2026, 9, 1))
    q3_last_year = Window("FY2025-Q3", "cycle", date(2025, 7, 1), date(2025, 9, 1))
    q4 = Window("FY2026-Q4", "cycle", date(2026, 10, 1), date(2026, 12, 1))
    ytd = Window("FY2026-Q3", "ytd", date(2026, 1, 1), date(2026, 9, 1))
    to_date = Window("FY2025-Q3", "to_date", BEGINNING, date(2025, 9, 1))
    assert month_spans([q3, q3_last_year]) == [
        (date(2025, 7, 1), date(2025, 10, 1)),
        (date(2026, 7, 1), date(2026, 10, 1)),
    ]
    assert month_spans([q4, q3, ytd]) == [(date(2026, 1, 1), date(2027, 1, 1))]
    assert month_spans([to_date, q3]) == [
        (None, date(2025, 10, 1)),
        (date(2026, 7, 1), date(2026, 10, 1)),
    ]
    assert month_spans([]) == []


def test_flow_measures_over_to_date_ytd_and_cycle_windows_of_two_cycles(tmp_path: Path) -> None:
    """Sums, counts, distinct counts, minima and maxima of a source without months to
    check (tickets, placed in time by a timestamp) over to_date, ytd and cycle windows of
    two quarters at once, and each quarter alone: rows are grouped by the stretches
    between window boundaries (the 2024 history, April–June, July–September 2025), so a
    ticket at 23:59:59 on the last day of June and one at midnight on 1 July must land on
    either side."""
    measures = (
        MEASURES
        + "  ticket_max_hours: {source: tickets, agg: max, expr: hours}\n"
        + "  ticket_min_hours: {source: tickets, agg: min, expr: hours}\n"
    )
    kpis = (
        "kpis:\n"
        + _simple("tickets", "ticket_count")
        + _simple("tickets_to_date", "ticket_count", "    window: to_date\n")
        + _simple("tickets_ytd", "ticket_count", "    window: ytd\n")
        + _simple("hours_to_date", "ticket_hours", "    window: to_date\n")
        + _simple("max_hours_to_date", "ticket_max_hours", "    window: to_date\n")
        + _simple("min_hours_ytd", "ticket_min_hours", "    window: ytd\n")
        + _simple("customers_to_date", "customers", "    window: to_date\n")
        + _simple("customers_ytd", "customers", "    window: ytd\n")
    )
    files = {"sources.yaml": SOURCES, "measures.yaml": measures, "kpis.yaml": kpis}
    ws = write_workspace(tmp_path / "ws", files)
    catalogue = load_catalogue(ws)
    fill_warehouse(ws, catalogue, golden_rows())
    q1, q2 = parse_cycle("FY2026-Q1"), parse_cycle("FY2026-Q2")  # Apr–Jun, Jul–Sep 2025
    both = compute(ws, catalogue, [q1, q2])

    # TICKETS: U11 2025-04-03 (2.5 h), 2025-05-10 (4.0), 2024-05-01 (1.0); U12 2025-06-30
    # 23:59:59 (1.5); U21 2025-04-15 (8.0), 2025-07-01 00:00 (3.0), 2024-06-01 and -02 (2.0).
    expected = {
        ("tickets", "G", "FY2026-Q1"): 4,  # U11 ×2, U12, U21 in April–June
        ("tickets", "G", "FY2026-Q2"): 1,  # U21's 1 July ticket
        ("tickets_to_date", "G", "FY2026-Q1"): 4 + 3,  # and the three of 2024
        ("tickets_to_date", "G", "FY2026-Q2"): 4 + 3 + 1,
        ("tickets_ytd", "G", "FY2026-Q2"): 4 + 1,  # FY2026 starts in April 2025
        ("tickets_ytd", "S1", "FY2026-Q2"): 3,  # U11 ×2 and U12 in 2025
        ("hours_to_date", "U21", "FY2026-Q1"): (8.0 + 2.0 + 2.0) / 3,
        ("hours_to_date", "U21", "FY2026-Q2"): (8.0 + 3.0 + 2.0 + 2.0) / 4,
        ("max_hours_to_date", "U11", "FY2026-Q1"): 4.0,
        ("max_hours_to_date", "G", "FY2026-Q2"): 8.0,
        ("min_hours_ytd", "G", "FY2026-Q1"): 1.5,  # U12's June ticket
        ("min_hours_ytd", "U21", "FY2026-Q2"): 3.0,  # 8.0 in April, 3.0 in July
        ("min_hours_ytd", "U21", "FY2026-Q1"): 8.0,  # the 2024 tickets are before the year
        # customers: acme, beta (U11); acme (U12); gamma, acme, delta ×2 (U21)
        ("customers_to_date", "G", "FY2026-Q1"): 4,  # acme, beta, gamma, delta
        ("customers_to_date", "U21", "FY2026-Q1"): 2,  # gamma, delta
        ("customers_to_date", "U21", "FY2026-Q2"): 3,  # and acme on 1 July
        ("customers_ytd", "G", "FY2026-Q2"): 3,  # acme, beta, gamma: delta was in 2024
        ("customers_ytd", "U21", "FY2026-Q1"): 1,  # gamma
    }
    for (kpi, entity, cycle), number in expected.items():
        assert row(both, kpi, entity, cycle)["value"] == pytest.approx(number), (kpi, entity)
    # Each quarter alone cuts its windows differently; the values are the same.
    for cycle in (q1, q2):
        alone = compute(ws, catalogue, [cycle]).values
        assert alone.to_dicts() == both.values.filter(pl.col("cycle") == cycle.name).to_dicts()
