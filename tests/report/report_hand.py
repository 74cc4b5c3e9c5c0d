"""The report tests' hand-built engine result and its catalogue, and their snapshots (the
``report_data`` fixture of conftest.py is ``hand_data()``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from soekpi.base.calendar import Cycle, FiscalSettings
from soekpi.catalogue.model import Catalogue, Kpi, Thresholds
from soekpi.warehouse.queries import ProjectRisk, ProjectRisks, RejectedCount


@dataclass(frozen=True)
class HandResult:
    """The engine's KpiResult shape (docs/architecture.md), built by hand."""

    cycles: list[Cycle]
    values: pl.DataFrame
    missing: pl.DataFrame
    components: pl.DataFrame
    hierarchy: pl.DataFrame


Q1, Q2, Q3 = Cycle(2026, "Q", 1), Cycle(2026, "Q", 2), Cycle(2026, "Q", 3)


def hand_catalogue() -> Catalogue:
    kpis = {
        "revenue": Kpi(
            id="revenue",
            type="simple",
            name={"en": "Revenue", "zh-CN": "营业收入"},
            unit="CNY",
            decimals=0,
            measure="revenue_sum",
            thresholds=Thresholds(1000.0, 800.0),
        ),
        "cost_ratio": Kpi(
            id="cost_ratio",
            type="ratio",
            name={"en": "Cost ratio", "zh-CN": "成本收入比"},
            unit="%",
            decimals=1,
            direction="lower_is_better",
            numerator="cost",
            denominator="revenue_sum",
            scale=100,
            thresholds=Thresholds(60.0, 70.0),
        ),
        "hires": Kpi(
            id="hires",
            type="simple",
            name={"en": "Digital hires"},
            unit="people",
            decimals=0,
            measure="hires_sum",
        ),
        "index": Kpi(
            id="index",
            type="composite",
            name={"en": "Transformation index", "zh-CN": "转型指数"},
            decimals=1,
            components={"revenue": 0.5, "cost_ratio": 0.5},
            thresholds=Thresholds(90.0, 75.0),
        ),
    }
    return Catalogue(sources={}, measures={}, kpis=kpis)


def _values(
    rows: list[tuple[str, str, Cycle, float | None, str, float | None, float | None, str]],
) -> pl.DataFrame:
    frame = pl.DataFrame(
        {
            "kpi": [r[0] for r in rows],
            "entity": [r[1] for r in rows],
            "cycle": [r[2].name for r in rows],
            "value": [r[3] for r in rows],
            "status": [r[4] for r in rows],
            "green": [r[5] for r in rows],
            "amber": [r[6] for r in rows],
            "unit": [r[7] for r in rows],
        },
        schema={
            "kpi": pl.String,
            "entity": pl.String,
            "cycle": pl.String,
            "value": pl.Float64,
            "status": pl.String,
            "green": pl.Float64,
            "amber": pl.Float64,
            "unit": pl.String,
        },
    )
    return frame.sort(["entity", "kpi", "cycle"])


def hand_result(entity_names: dict[str, tuple[str, str | None]] | None = None) -> HandResult:
    names = entity_names or {
        "G": ("Acme Group", "阿克米集团"),
        "E1": ("North Power", "北方电力"),
        "E2": ("South Grid", None),
    }
    hierarchy = pl.DataFrame(
        {
            "entity_id": ["G", "E1", "E2"],
            "name": [names["G"][0], names["E1"][0], names["E2"][0]],
            "name_zh": [names["G"][1], names["E1"][1], names["E2"][1]],
            "parent_id": [None, "G", "G"],
            "depth": [0, 1, 1],
        },
        schema={
            "entity_id": pl.String,
            "name": pl.String,
            "name_zh": pl.String,
            "parent_id": pl.String,
            "depth": pl.Int64,
        },
    )
    rows = [
        # revenue, CNY, green ≥ 1000, amber ≥ 800
        ("revenue", "G", Q1, 900.0, "amber", 1000.0, 800.0, "CNY"),
        ("revenue", "G", Q2, 1150.0, "green", 1000.0, 800.0, "CNY"),
        ("revenue", "G", Q3, 1234.0, "green", 1000.0, 800.0, "CNY"),
        ("revenue", "E1", Q3, 700.0, "red", 1000.0, 800.0, "CNY"),
        ("revenue", "E2", Q3, 534.0, "incomplete", 1000.0, 800.0, "CNY"),
        # cost_ratio %, lower is better, green ≤ 60, amber ≤ 70
        ("cost_ratio", "G", Q2, 62.5, "amber", 60.0, 70.0, "%"),
        ("cost_ratio", "G", Q3, 65.25, "amber", 60.0, 70.0, "%"),
        ("cost_ratio", "E1", Q3, 55.0, "green", 60.0, 70.0, "%"),
        ("cost_ratio", "E2", Q3, None, "no_data", 60.0, 70.0, "%"),
        # hires: untracked
        ("hires", "G", Q3, 12.0, "untracked", None, None, "people"),
        ("hires", "E1", Q3, 12.0, "untracked", None, None, "people"),
        ("hires", "E2", Q3, 0.0, "untracked", None, None, "people"),
        # index: revenue score min(100, 100 × 1234 / 1000) = 100; cost_ratio score
        # 100 × 60 / 65.25 = 91.954…; index = (0.5 × 100 + 0.5 × 91.954) / 1.0 = 95.977
        ("index", "G", Q3, 95.977, "green", 90.0, 75.0, ""),
        ("index", "E1", Q3, None, "no_data", 90.0, 75.0, ""),
        ("index", "E2", Q3, None, "no_data", 90.0, 75.0, ""),
    ]
    components = pl.DataFrame(
        {
            "kpi": ["index", "index"],
            "entity": ["G", "G"],
            "cycle": [Q3.name, Q3.name],
            "component": ["cost_ratio", "revenue"],
            "weight": [0.5, 0.5],
            "value": [65.25, 1234.0],
            "green": [60.0, 1000.0],
            "score": [100 * 60 / 65.25, 100.0],
            "contribution": [0.5 * 100 * 60 / 65.25, 0.5 * 100.0],
        }
    )
    missing = pl.DataFrame(
        {
            "source": ["financials", "financials"],
            "entity": ["E2", "E2"],
            "cycle": [Q3.name, Q3.name],
            "month": [date(2026, 9, 1), date(2026, 8, 1)],
        }
    )
    return HandResult([Q1, Q2, Q3], _values(rows), missing, components, hierarchy)


HOSTILE_NAMES = {
    "G": ('<script>alert("x")</script> & Co', None),
    "E1": ("North | *Power* _x_ `y`\nline", "北方|电力"),
    "E2": ("Say \"hi\" 'there' <b>", None),
}


def hand_data(language: str = "en", **overrides: Any) -> Any:
    from soekpi.report.render import ReportData

    fields: dict[str, Any] = dict(
        catalogue=hand_catalogue(),
        result=hand_result(),
        cycle=Q3,
        fiscal=FiscalSettings(1, "end"),
        language=language,
        generated_at="2026-10-15T00:00:00Z",
        version="0.1.0",
        sources={"financials": (42, "a" * 64), "workforce": (7, "b" * 64)},
        kpi_hashes={k: f"{i:064x}" for i, k in enumerate(sorted(hand_catalogue().kpis))},
        rejected=[RejectedCount("financials", "ledger.csv", 3, "amount: not a number")],
        projects=ProjectRisks(
            over_budget=[
                ProjectRisk(
                    "P1",
                    "ERP cloud move",
                    "E1",
                    500.0,
                    300.0,
                    240.0,
                    360.0,
                    240.0 - 360.0,
                    240.0 - 300.0,
                    240.0 / 360.0,
                    240.0 / 300.0,
                )
            ],
            behind_schedule=[],
        ),
    )
    fields.update(overrides)
    return ReportData(**fields)


SNAPSHOTS = __import__("pathlib").Path(__file__).parent / "snapshots"


def assert_snapshot(name: str, text: str) -> None:
    """Compare ``text`` with ``snapshots/<name>``; SOEKPI_UPDATE_SNAPSHOTS=1 rewrites it."""
    import os

    path = SNAPSHOTS / name
    if os.environ.get("SOEKPI_UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"no snapshot {path}; run with SOEKPI_UPDATE_SNAPSHOTS=1 to create it"
    assert text == path.read_text(encoding="utf-8"), (
        f"{name} differs from its snapshot; if the change is meant, rerun with "
        "SOEKPI_UPDATE_SNAPSHOTS=1 and review the diff"
    )
