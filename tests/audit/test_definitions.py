"""definitions.json: the resolved definitions of a run, read back through the catalogue parser."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from soekpi.base.calendar import FiscalSettings
from soekpi.base.errors import CatalogueError, InputError
from soekpi.catalogue.definitions import catalogue_definitions, catalogue_from_definitions
from soekpi.catalogue.validate import load_catalogue
from soekpi.engine import compute
from soekpi.workspace import read_workspace


def _through_json(doc: dict[str, object]) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(json.dumps(doc, sort_keys=True))
    return loaded


def test_the_demo_catalogue_round_trips_with_equal_hashes_and_values(demo_root: Path) -> None:
    ws = read_workspace(demo_root)
    catalogue = load_catalogue(ws)
    doc = _through_json(catalogue_definitions(catalogue, ws.fiscal))
    again, fiscal = catalogue_from_definitions(doc)

    assert fiscal == ws.fiscal
    assert {k: again.kpi_hash(k) for k in again.kpis} == {
        k: catalogue.kpi_hash(k) for k in catalogue.kpis
    }
    assert again.sources == catalogue.sources
    assert again.targets == catalogue.targets
    before = compute(ws, catalogue, ["FY2026-Q2"]).values
    after = compute(ws, again, ["FY2026-Q2"]).values
    assert after.equals(before)
    assert before.height > 0


def test_the_document_is_the_catalogue_schema_in_a_fixed_order(demo_root: Path) -> None:
    ws = read_workspace(demo_root)
    doc = catalogue_definitions(load_catalogue(ws), FiscalSettings(start_month=4, label="end"))
    assert list(doc) == ["fiscal_year", "sources", "measures", "kpis", "targets"]
    assert doc["fiscal_year"] == {"start_month": 4, "label": "end"}
    assert list(doc["sources"]) == sorted(doc["sources"])
    financials = doc["sources"]["financials"]
    assert financials["primary_key"] == ["entity_id", "period", "account"]
    assert financials["columns"]["entity_id"]["references"] == "entities.entity_id"
    view = doc["sources"]["project_month_status"]
    assert "sql" in view and "columns" not in view
    cloud = doc["kpis"]["cloud_adoption_rate"]
    assert cloud["numerator"] == "systems_on_cloud"
    assert cloud["thresholds"] == {"green": 70.0, "amber": 50.0}
    assert cloud["window"] == "cycle"
    # the same catalogue gives the same document
    assert catalogue_definitions(load_catalogue(ws), ws.fiscal) == catalogue_definitions(
        load_catalogue(ws), ws.fiscal
    )


def test_a_broken_definitions_document_is_located_in_it(demo_root: Path) -> None:
    ws = read_workspace(demo_root)
    doc = _through_json(catalogue_definitions(load_catalogue(ws), ws.fiscal))
    kpis = doc["kpis"]
    assert isinstance(kpis, dict)
    kpis["cloud_adoption_rate"]["numerator"] = "systems_on_clowd"
    with pytest.raises(CatalogueError) as caught:
        catalogue_from_definitions(doc, "out/FY2026-Q2/definitions.json")
    text = str(caught.value)
    assert text.startswith("out/FY2026-Q2/definitions.json")
    assert "kpi 'cloud_adoption_rate': numerator: measure 'systems_on_clowd' does not exist" in text

    doc["fiscal_year"] = {"start_month": 13, "label": "end"}
    with pytest.raises(InputError, match=r"definitions\.json: fiscal_year: start_month must be"):
        catalogue_from_definitions(doc)


def test_defaults_are_restored_by_the_parser() -> None:
    from soekpi.catalogue.model import Catalogue, Kpi, Measure, Source
    from soekpi.catalogue.model import Column as Col

    source = Source(
        id="ledger",
        time_column="period",
        columns={"period": Col("period", "date"), "amount": Col("amount", "double", min=0.0)},
    )
    catalogue = Catalogue(
        sources={"ledger": source},
        measures={"total": Measure(id="total", source="ledger", agg="sum", expr="amount")},
        kpis={"total": Kpi(id="total", type="simple", name={"en": "Total"}, measure="total")},
    )
    doc = catalogue_definitions(catalogue, FiscalSettings())
    assert doc["sources"] == {
        "ledger": {
            "time_column": "period",
            "columns": {"period": {"type": "date"}, "amount": {"type": "double", "min": 0.0}},
        }
    }
    assert doc["measures"] == {"total": {"source": "ledger", "agg": "sum", "expr": "amount"}}
    assert doc["kpis"]["total"] == {
        "type": "simple",
        "name": {"en": "Total"},
        "decimals": 2,
        "window": "cycle",
        "direction": "higher_is_better",
        "measure": "total",
    }
    again, _ = catalogue_from_definitions(_through_json(doc))
    assert again.kpi_hash("total") == catalogue.kpi_hash("total")
    assert dataclasses.replace(again, files=()) == catalogue


def test_revisions_round_trip_whole_and_as_a_cycle_sees_them(tmp_path: Path) -> None:
    from revisions_data import CATALOGUE, REASON_HEADCOUNT

    from soekpi.base.calendar import parse_cycle
    from soekpi.catalogue.validate import load_catalogue_files

    (tmp_path / "c.yaml").write_text(CATALOGUE, encoding="utf-8")
    catalogue = load_catalogue_files([tmp_path / "c.yaml"])
    fiscal = FiscalSettings()
    doc = _through_json(catalogue_definitions(catalogue, fiscal))
    kpis = doc["kpis"]
    assert isinstance(kpis, dict)
    assert kpis["labour_productivity"]["revisions"] == [
        {
            "effective_from": "FY2026",
            "reason": REASON_HEADCOUNT,
            "denominator": "headcount_incl_contractors_avg",
        }
    ]
    again, _ = catalogue_from_definitions(doc)
    assert {k: again.kpi_hash(k) for k in again.kpis} == {
        k: catalogue.kpi_hash(k) for k in catalogue.kpis
    }
    # a cycle's catalogue (what a pin keeps): the revision in force is kept, with its reason
    for name in ("FY2025-Q4", "FY2026-Q1", "FY2026-Q3"):
        cycle = parse_cycle(name)
        in_force = catalogue.for_cycle(cycle, fiscal)
        back, _ = catalogue_from_definitions(_through_json(catalogue_definitions(in_force, fiscal)))
        assert back.for_cycle(cycle, fiscal).kpis == in_force.kpis
        assert back.for_cycle(cycle, fiscal).measures == in_force.measures
