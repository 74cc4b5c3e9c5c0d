"""A clean catalogue loads into typed, located objects; sections merge across files."""

from __future__ import annotations

from pathlib import Path

import pytest
from catalogue_data import BASE, BuildWorkspace

from soekpi.api import check as run_checks
from soekpi.base.errors import CatalogueError, Location
from soekpi.catalogue import load_catalogue
from soekpi.catalogue.model import Column, Thresholds
from soekpi.catalogue.validate import load_catalogue_files


def test_sections_merge_across_files(build_workspace: BuildWorkspace) -> None:
    catalogue = load_catalogue(build_workspace())
    assert catalogue.files == (
        "metrics/kpis.yaml",
        "metrics/measures.yaml",
        "metrics/sources.yaml",
        "metrics/targets.yaml",
    )
    assert list(catalogue.sources) == ["entities", "financials", "monthly_totals", "workforce"]
    assert list(catalogue.measures) == ["cost", "headcount_avg", "revenue", "total"]
    assert list(catalogue.kpis) == [
        "cost_income_ratio",
        "index",
        "margin",
        "revenue_growth",
        "revenue_per_employee",
    ]


def test_fields_are_typed_and_located(build_workspace: BuildWorkspace) -> None:
    catalogue = load_catalogue(build_workspace())
    financials = catalogue.sources["financials"]
    assert financials.location == Location("metrics/sources.yaml", 8)
    assert financials.primary_key == ("entity_id", "period", "account")
    assert (financials.time_column, financials.cadence, financials.entity_column) == (
        "period",
        "monthly",
        "entity_id",
    )
    assert financials.columns["entity_id"] == Column(
        name="entity_id", type="varchar", required=True, references=("entities", "entity_id")
    )
    assert financials.columns["account"].allowed == ("revenue", "cost")
    assert financials.columns["amount"].type == "decimal(18,2)"
    assert catalogue.sources["workforce"].columns["headcount"].min == 0.0

    revenue = catalogue.measures["revenue"]
    assert (revenue.source, revenue.agg, revenue.expr, revenue.filter, revenue.time) == (
        "financials",
        "sum",
        "amount",
        "account = 'revenue'",
        None,
    )
    ratio = catalogue.kpis["revenue_per_employee"]
    assert ratio.name == {"en": "Labour productivity", "zh-CN": "全员劳动生产率"}
    assert (ratio.decimals, ratio.scale, ratio.window, ratio.direction) == (
        0,
        1.0,
        "cycle",
        "higher_is_better",
    )
    assert ratio.thresholds == Thresholds(green=1200.0, amber=1000.0)
    assert ratio.location == Location("metrics/kpis.yaml", 2)
    cir = catalogue.kpis["cost_income_ratio"]
    assert (cir.name, cir.decimals, cir.scale, cir.category) == (
        {"en": "Cost-to-income ratio"},
        2,
        100.0,
        "other",
    )
    assert catalogue.kpis["index"].components == {
        "revenue_per_employee": 0.25,
        "cost_income_ratio": 0.75,
    }
    assert catalogue.kpis["revenue_growth"].compare == "same_cycle_last_year"
    [target] = catalogue.targets
    assert (target.kpi, target.fiscal_year, target.entity, target.green, target.amber) == (
        "cost_income_ratio",
        2026,
        None,
        80.0,
        90.0,
    )


def test_view_columns_come_from_its_sql(build_workspace: BuildWorkspace) -> None:
    view = load_catalogue(build_workspace()).sources["monthly_totals"]
    assert view.is_view
    assert {name: c.type for name, c in view.columns.items()} == {
        "entity_id": "varchar",
        "period": "date",
        "total": "decimal(38,2)",
    }


def test_dependency_order_puts_inputs_first(build_workspace: BuildWorkspace) -> None:
    order = load_catalogue(build_workspace()).kpi_order()
    assert order.index("cost_income_ratio") < order.index("margin")
    assert order.index("revenue_per_employee") < order.index("revenue_growth")
    assert order.index("cost_income_ratio") < order.index("index")


def test_load_catalogue_files_without_a_workspace(tmp_path: Path) -> None:
    for name, text in BASE.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    files = sorted(tmp_path.glob("*.yaml"))
    catalogue = load_catalogue_files(files, shown=lambda p: p.name)
    assert catalogue.files == ("kpis.yaml", "measures.yaml", "sources.yaml", "targets.yaml")
    assert catalogue.kpis["margin"].location == Location("kpis.yaml", 19)
    (tmp_path / "kpis.yaml").write_text("kpis:\n  margin: {type: simple}\n", encoding="utf-8")
    with pytest.raises(CatalogueError) as caught:
        load_catalogue_files(files)
    assert str(caught.value).splitlines() == [
        f"{tmp_path / 'kpis.yaml'}:2: kpi 'margin': missing required key 'measure'",
        f"{tmp_path / 'kpis.yaml'}:2: kpi 'margin': missing required key 'name'",
        f"{tmp_path / 'targets.yaml'}:2: target for kpi 'cost_income_ratio': kpi "
        "'cost_income_ratio' does not exist",
    ]


def test_empty_files_and_sections_are_fine(build_workspace: BuildWorkspace) -> None:
    ws = build_workspace({"empty.yaml": "", "nothing.yaml": "kpis:\ntargets:\n"})
    assert len(load_catalogue(ws).kpis) == 5


def test_run_checks_without_a_warehouse_is_clean(build_workspace: BuildWorkspace) -> None:
    ws = build_workspace()
    assert not ws.warehouse_path.exists()
    assert run_checks(ws) == []
    assert not ws.warehouse_path.exists()
