"""The engine's public API: compute's filters, sorting and errors, records, latest, hierarchy."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from soekpi.base.calendar import Cycle, parse_cycle
from soekpi.base.errors import UsageError
from soekpi.catalogue.model import Catalogue
from soekpi.engine import KpiResult, compute, latest_cycle, resolve
from soekpi.output import RECORD_KEYS, to_records
from soekpi.workspace import Workspace

Q1 = parse_cycle("FY2026-Q1")


def test_values_are_sorted_by_entity_kpi_cycle(result: KpiResult) -> None:
    keys = result.values.select("entity", "kpi", "cycle").rows()
    assert keys == sorted(keys)
    assert [c.name for c in result.cycles] == ["FY2025-Q4", "FY2026-Q1", "FY2026-Q2", "FY2026-Q4"]
    # 6 entities x (19 simple + 3 ratio + 2 derived + 2 growth + 1 composite) x 4 cycles,
    # and nothing of the earlier cycles that growth needed
    assert result.values.height == 6 * (19 + 3 + 2 + 2 + 1) * 4
    assert set(result.values["cycle"]) == {c.name for c in result.cycles}


def test_hierarchy_depth_first_with_depths(result: KpiResult) -> None:
    assert result.hierarchy.select("entity_id", "parent_id", "depth").rows() == [
        ("G", None, 0),
        ("S1", "G", 1),
        ("U11", "S1", 2),
        ("U12", "S1", 2),
        ("S2", "G", 1),
        ("U21", "S2", 2),
    ]
    assert result.hierarchy.row(0, named=True)["name_zh"] == "集团"


def test_root_entity_comes_first(golden: tuple[Workspace, Catalogue]) -> None:
    ws, catalogue = golden
    shifted = dataclasses.replace(ws, root_entity="S2")
    got = compute(shifted, catalogue, [Q1], kpis=["revenue"])
    assert got.hierarchy["entity_id"].to_list() == ["S2", "U21", "G", "S1", "U11", "U12"]


def test_entities_and_kpis_filter_the_rows(golden: tuple[Workspace, Catalogue]) -> None:
    ws, catalogue = golden
    got = compute(ws, catalogue, [Q1], entities=["S1"], kpis=["revenue_qoq", "health"])
    assert got.values.select("kpi", "entity", "cycle").rows() == [
        ("health", "S1", "FY2026-Q1"),
        ("revenue_qoq", "S1", "FY2026-Q1"),
    ]
    # the subtree still rolls up into S1: (300 + 100 + 10) against (30 + 15)
    qoq = got.values.filter(pl.col("kpi") == "revenue_qoq")["value"].item()
    assert qoq == pytest.approx((410 - 45) / 45 * 100)
    assert got.components["entity"].unique().to_list() == ["S1"]


def test_unknown_kpi_and_entity_are_usage_errors(golden: tuple[Workspace, Catalogue]) -> None:
    ws, catalogue = golden
    with pytest.raises(UsageError) as caught:
        compute(ws, catalogue, [Q1], kpis=["revnue"])
    assert str(caught.value) == (
        "--kpi: 'revnue' is not a KPI of the catalogue (did you mean 'revenue'?); "
        "'soekpi kpis' lists them"
    )
    with pytest.raises(UsageError) as caught:
        compute(ws, catalogue, [Q1], entities=["U2"])
    assert str(caught.value) == (
        "--entity: 'U2' is not an entity of the hierarchy (did you mean 'U21'?)"
    )


def test_records_have_the_spec_keys_in_order(result: KpiResult) -> None:
    records = to_records(result)
    assert RECORD_KEYS == ("kpi", "entity", "cycle", "value", "status", "green", "amber", "unit")
    assert all(tuple(r) == RECORD_KEYS for r in records)
    first = records[0]
    assert first == {
        "kpi": "all_revenue",
        "entity": "G",
        "cycle": "FY2025-Q4",
        "value": float((30 + 15 + 60) + (300 + 100 + 10 + 180) + (270 + 150 + 3 + 140)),
        "status": "untracked",
        "green": None,
        "amber": None,
        "unit": "u",
    }
    assert type(first["value"]) is float


def test_latest_is_the_last_quarter_with_every_monthly_source(
    golden: tuple[Workspace, Catalogue],
) -> None:
    ws, catalogue = golden
    # the ledger's last month is 2025-09, the end of FY2026-Q2
    assert latest_cycle(ws, catalogue) == Cycle(2026, "Q", 2)
    assert resolve(ws, catalogue, "latest") == Cycle(2026, "Q", 2)
    assert resolve(ws, catalogue, "FY2026-Q1") == Q1


def test_same_inputs_same_bits(golden: tuple[Workspace, Catalogue], result: KpiResult) -> None:
    ws, catalogue = golden
    again = compute(ws, catalogue, result.cycles)
    assert again.values.equals(result.values)
    assert again.components.equals(result.components)
    assert again.missing.equals(result.missing)


def test_each_entity_alone_has_the_values_it_has_among_all(
    golden: tuple[Workspace, Catalogue], result: KpiResult
) -> None:
    """Asked for a few entities, measures are summed over each subtree before the windows
    (few ancestors); every KPI of every cycle must still equal the full compute's."""
    ws, catalogue = golden
    for entities in (["G"], ["S1"], ["U21"], ["S2", "U11"]):
        got = compute(ws, catalogue, result.cycles, entities=entities)
        expected = result.values.filter(pl.col("entity").is_in(entities))
        assert got.values.equals(expected, null_equal=True), entities  # status included
