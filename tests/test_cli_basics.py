"""init, check and kpis through the command line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers import catalogue_workspace
from typer.testing import CliRunner

from soekpi.cli import app
from soekpi.workspace import read_workspace

KPI_KEYS = (
    "name, description, category, unit, decimals, type, scale, window, direction, thresholds, "
    "measure, numerator, denominator, expr, of, compare, components, revisions"
)

TEN_MISTAKES = {
    "a.yaml": """\
sources:
  entities:
    columns:
      entity_id: {type: varchar}
      name: {type: varchar}
      parent_id: {type: varchar, references: entitys.entity_id}
  sales:
    time_column: period
    entity_column: entity_id
    columns:
      entity_id: {type: varchar}
      period: {type: date}
      amount: {type: double}
      channel: {type: varchar}
  notes:
    columns:
      text: {type: txt}
""",
    "b.yaml": """\
measures:
  revenue: {source: sales, agg: sum, expr: amount, filter: "chanel = 'web'"}
  orders: {source: sale, agg: count}
  avg_order: {source: sales, agg: mean, expr: amount}
kpis:
  revenue_per_order:
    name: Revenue per order
    type: ratio
    numerator: revenue
    denominator: order
    thresholds: {green: 10, amber: 20}
""",
    "c.yaml": """\
kpis:
  avg_order_value:
    name: Average order value
    type: simple
    measure: avg_order
    window: quarterly
  growth:
    name: Growth
    type: growth
    of: avg_order_value
    compare: previous_cycle
    colour: red
  revenue_per_order:
    name: Again
    type: simple
    measure: revenue
targets:
  - {kpi: avg_order_valu, green: 1, amber: 0}
""",
}


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def table_cells(out: str) -> list[list[str]]:
    """The cells of a rich table's rows (a cell that wraps onto more lines is not joined)."""
    rows = [re.split("[│┃]", line)[1:-1] for line in out.splitlines() if re.match("[│┃]", line)]
    return [[cell.strip() for cell in row] for row in rows]


def test_check_lists_ten_mistakes_in_three_files(tmp_path: Path) -> None:
    ws = catalogue_workspace(tmp_path / "ws", TEN_MISTAKES, settings="")
    code, out, err = run("-w", str(ws), "check")
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "error: metrics/a.yaml:6: source 'entities': column 'parent_id': references: source "
        "'entitys' does not exist (did you mean 'entities'?)",
        "error: metrics/a.yaml:17: source 'notes': column 'text': type: 'txt' is not a column "
        "type; allowed: varchar, integer, bigint, double, boolean, date, timestamp, decimal(p,s)",
        "error: metrics/b.yaml:2: measure 'revenue': filter: column 'chanel' does not exist in "
        "source 'sales' (did you mean 'channel'?)",
        "error: metrics/b.yaml:3: measure 'orders': source 'sale' does not exist "
        "(did you mean 'sales'?)",
        "error: metrics/b.yaml:10: kpi 'revenue_per_order': denominator: measure 'order' does "
        "not exist (did you mean 'orders'?)",
        "error: metrics/b.yaml:11: kpi 'revenue_per_order': thresholds: amber 20 is above "
        "green 10; for a higher_is_better KPI amber must be <= green",
        "error: metrics/c.yaml:6: kpi 'avg_order_value': window: 'quarterly' is not one of "
        "cycle, ytd, to_date",
        f"error: metrics/c.yaml:12: kpi 'growth': unknown key 'colour'; allowed: {KPI_KEYS}",
        "error: metrics/c.yaml:13: kpi 'revenue_per_order' is defined twice: metrics/b.yaml:6 "
        "and metrics/c.yaml:13",
        "error: metrics/c.yaml:18: target for kpi 'avg_order_valu': kpi 'avg_order_valu' does "
        "not exist (did you mean 'avg_order_value'?)",
    ]


def test_init_then_check_is_clean_on_the_default_catalogue(tmp_path: Path) -> None:
    target = tmp_path / "acme"
    code, out, err = run("init", str(target))
    assert (code, out) == (0, "")
    assert err == f"workspace ready: {target}\n"
    assert sorted(p.name for p in target.iterdir()) == ["data", "metrics", "soekpi.yaml"]
    repo_metrics = Path(__file__).resolve().parents[1] / "metrics"
    assert sorted(p.name for p in (target / "metrics").iterdir()) == sorted(
        p.name for p in repo_metrics.glob("*.yaml")
    )
    code, out, err = run("-w", str(target), "check")
    assert (code, out, err) == (0, "", "catalogue and warehouse are clean\n")


def test_init_writes_every_setting_with_its_default(tmp_path: Path) -> None:
    assert run("init", str(tmp_path / "ws"))[0] == 0
    text = (tmp_path / "ws" / "soekpi.yaml").read_text(encoding="utf-8")
    settings = [
        line.split(":")[0]
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert settings == [
        "warehouse",
        "catalogue",
        "templates",
        "output",
        "fiscal_year",
        "  start_month",
        "  label",
        "language",
        "root_entity",
    ]
    ws = read_workspace(tmp_path / "ws")
    assert ws.warehouse_path == tmp_path / "ws" / "data" / "warehouse.duckdb"
    assert ws.catalogue == (tmp_path / "ws" / "metrics",)
    assert (ws.templates, ws.output) == (None, tmp_path / "ws" / "out")
    assert (ws.fiscal.start_month, ws.fiscal.label, ws.language) == (1, "end", "en")
    assert ws.root_entity is None


def test_init_into_an_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert run("init", str(tmp_path / "empty"))[0] == 0
    assert (tmp_path / "empty" / "soekpi.yaml").is_file()


@pytest.mark.parametrize(
    ("existing", "message"),
    [
        ("soekpi.yaml", "is already a soekpi workspace (soekpi.yaml exists); nothing was written"),
        ("notes.txt", "is not empty; choose a new or empty folder (nothing was written)"),
    ],
)
def test_init_refuses_a_workspace_or_a_non_empty_folder(
    tmp_path: Path, existing: str, message: str
) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / existing).write_text("keep me\n", encoding="utf-8")
    code, out, err = run("init", str(target))
    assert (code, out) == (2, "")
    assert err == f"error: '{target}' {message}\n"
    assert [p.name for p in target.iterdir()] == [existing]
    assert (target / existing).read_text(encoding="utf-8") == "keep me\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_a_failed_init_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import soekpi.workspace

    def broken(path: Path, *args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(soekpi.workspace.shutil, "copyfile", broken)
    code, _, err = run("init", str(tmp_path / "ws"))
    assert code == 3
    assert err.startswith("error: disk full while writing ")
    assert list(tmp_path.iterdir()) == []


def test_kpis_lists_the_catalogue(tmp_path: Path) -> None:
    ws = catalogue_workspace(tmp_path / "ws", {"a.yaml": SMALL}, settings="")
    code, out, err = run("-w", str(ws), "kpis")
    assert (code, err) == (0, "")
    cells = table_cells(out)
    assert cells == [
        ["id", "name", "category", "type", "unit", "direction", "thresholds", "window"],
        ["margin", "Margin", "other", "derived", "%", "higher", "", "cycle"],
        ["cost_income_ratio", "Cost-to-income ratio", "productivity", "ratio", "%", "lower",
         "green ≤ 85, amber ≤ 92", "ytd"],
        ["revenue", "Revenue", "productivity", "simple", "CNY", "higher",
         "green ≥ 1000, amber ≥ 500", "cycle"],
    ]  # fmt: skip


def test_kpis_shows_one_kpi_in_full(tmp_path: Path) -> None:
    ws = catalogue_workspace(tmp_path / "ws", {"a.yaml": SMALL}, settings="")
    code, out, err = run("-w", str(ws), "kpis", "cost_income_ratio")
    assert (code, err) == (0, "")
    assert table_cells(out) == [
        ["id", "cost_income_ratio"],
        ["name (en)", "Cost-to-income ratio"],
        ["name (zh-CN)", "成本收入比"],
        ["description", "Cost over revenue."],
        ["category", "productivity"],
        ["type", "ratio"],
        ["formula", "cost_income_ratio = (sum(amount) where account = 'cost' over sales / "
         "sum(amount) where account = 'revenue' over sales) × 100, over the window ytd"],
        ["measure", "cost = sum(amount) where account = 'cost' over sales"],
        ["measure", "revenue = sum(amount) where account = 'revenue' over sales"],
        ["unit", "%"],
        ["decimals", "1"],
        ["scale", "100"],
        ["window", "ytd"],
        ["direction", "lower_is_better"],
        ["thresholds", "green ≤ 85, amber ≤ 92"],
        ["target", "FY2026: green 80, amber 90"],
        ["target", "FY2026 entity E07: green 95, amber 99"],
        ["sources", "sales"],
        ["defined at", "metrics/a.yaml:24"],
    ]  # fmt: skip


def test_kpis_with_an_unknown_id(tmp_path: Path) -> None:
    ws = catalogue_workspace(tmp_path / "ws", {"a.yaml": SMALL}, settings="")
    code, out, err = run("-w", str(ws), "kpis", "cost_incom_ratio")
    assert (code, out) == (2, "")
    assert err == (
        "error: kpi 'cost_incom_ratio' does not exist (did you mean 'cost_income_ratio'?); "
        "'soekpi kpis' lists them all\n"
    )


SMALL = """\
sources:
  sales:
    time_column: period
    columns:
      period: {type: date}
      account: {type: varchar}
      amount: {type: "decimal(18,2)"}
measures:
  revenue: {source: sales, agg: sum, expr: amount, filter: "account = 'revenue'"}
  cost: {source: sales, agg: sum, expr: amount, filter: "account = 'cost'"}
kpis:
  revenue:
    name: Revenue
    category: productivity
    unit: CNY
    type: simple
    measure: revenue
    thresholds: {green: 1000, amber: 500}
  margin:
    name: Margin
    unit: "%"
    type: derived
    expr: 100 - cost_income_ratio
  cost_income_ratio:
    name: {en: Cost-to-income ratio, zh-CN: 成本收入比}
    description: Cost over revenue.
    category: productivity
    unit: "%"
    decimals: 1
    type: ratio
    numerator: cost
    denominator: revenue
    scale: 100
    window: ytd
    direction: lower_is_better
    thresholds: {green: 85, amber: 92}
targets:
  - {kpi: cost_income_ratio, entity: E07, fiscal_year: 2026, green: 95, amber: 99}
  - {kpi: cost_income_ratio, fiscal_year: 2026, green: 80, amber: 90}
"""


def test_check_reports_data_findings_with_exit_1(tmp_path: Path) -> None:
    contract = """\
sources:
  sales:
    time_column: period
    columns:
      period: {type: date, required: true}
      amount: {type: "decimal(18,2)"%s}
"""
    ws = catalogue_workspace(tmp_path / "ws", {"a.yaml": contract % ""}, settings="")
    data = tmp_path / "sales.csv"
    data.write_text("period,amount\n2026-01-01,100\n2026-02-01,250.5\n", encoding="utf-8")
    assert run("-w", str(ws), "load", "sales", str(data))[0] == 0
    assert run("-w", str(ws), "check") == (0, "", "catalogue and warehouse are clean\n")
    (ws / "metrics" / "a.yaml").write_text(contract % ", max: 200", encoding="utf-8")
    code, out, err = run("-w", str(ws), "check")
    assert (code, err) == (1, "1 finding(s)\n")
    assert out == (
        "data/warehouse.duckdb: source 'sales': 1 row(s) where amount is above the maximum 200 "
        "(e.g. '250.50')\n"
    )
