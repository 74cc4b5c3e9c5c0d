"""Rows before every window are skipped for the values but not for completeness.

When only cycle windows are asked (here: revenue alone), the measure plan reads a monthly
source from the first window's first month on; each entity's first month still comes from
every row, so an entity that stopped filing before the window is still missing in it.
"""

from __future__ import annotations

from datetime import date

from engine_workspace import row

from soekpi.calendar import parse_cycle
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
