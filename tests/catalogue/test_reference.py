"""The catalogue reference page: docs/catalogue.md is current, and how a catalogue renders."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from soekpi.catalogue.model import (
    Catalogue,
    Column,
    Kpi,
    Measure,
    Source,
    Target,
    Thresholds,
)
from soekpi.catalogue.reference import catalogue_reference, render_reference
from soekpi.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_docs_catalogue_md_is_current() -> None:
    expected = catalogue_reference(ROOT / "metrics")
    written = (ROOT / "docs" / "catalogue.md").read_text(encoding="utf-8")
    assert written == expected, "docs/catalogue.md is stale: run make docs"


def _small() -> Catalogue:
    ledger = Source(
        id="ledger",
        description="Monthly amounts.",
        time_column="period",
        cadence="monthly",
        entity_column="entity_id",
        primary_key=("entity_id", "period", "account"),
        columns={
            "entity_id": Column("entity_id", "varchar", required=True),
            "period": Column("period", "date", required=True),
            "account": Column("account", "varchar", required=True, allowed=("rev", "cost")),
            "amount": Column("amount", "double", min=0, max=1e9),
        },
    )
    open_items = Source(
        id="open_items",
        description="A view.",
        time_column="month",
        entity_column="entity_id",
        sql="select entity_id, period as month, amount from ledger",
    )
    measures = {
        "rev": Measure("rev", "ledger", "sum", "amount", "account = 'rev'"),
        "cost": Measure("cost", "ledger", "sum", "amount", "account = 'cost' or amount > 0"),
        "rows": Measure("rows", "ledger", "count", time="none"),
        "stock": Measure("stock", "open_items", "closing", "amount"),
    }
    kpis = {
        "margin": Kpi(
            id="margin",
            type="ratio",
            name={"en": "Cost ratio", "zh-CN": "成本率"},
            description="Cost over revenue.\n  Lower is better.",
            category="money",
            unit="%",
            decimals=1,
            scale=100,
            direction="lower_is_better",
            thresholds=Thresholds(green=80, amber=90.5),
            numerator="cost",
            denominator="rev",
        ),
        "rev_total": Kpi(
            id="rev_total",
            type="simple",
            name={"en": "Revenue | total"},
            category="money",
            unit="CNY",
            decimals=0,
            measure="rev",
            window="ytd",
        ),
        "growth": Kpi(
            id="growth",
            type="growth",
            name={"en": "Growth"},
            category="productivity",
            unit="%",
            thresholds=Thresholds(green=5, amber=0),
            of="rev_total",
            compare="previous_cycle",
        ),
        "score": Kpi(
            id="score",
            type="composite",
            name={"en": "Score"},
            category="index",
            unit="index",
            thresholds=Thresholds(green=75, amber=60),
            components={"margin": 0.7, "growth": 0.3},
        ),
        "items": Kpi(
            id="items",
            type="simple",
            name={"en": "Items"},
            category="productivity",
            unit="count",
            measure="stock",
            window="to_date",
        ),
        "rows_kpi": Kpi(
            id="rows_kpi",
            type="derived",
            name={"en": "Rows"},
            category="productivity",
            unit="count",
            expr="items * 2",
        ),
    }
    targets = (
        Target("margin", green=70, amber=85, entity="E|1"),
        Target("margin", green=75, amber=88, fiscal_year=2026),
        Target("growth", green=1_500_000, amber=2.5, fiscal_year=2025),
    )
    return Catalogue(
        sources={"open_items": open_items, "ledger": ledger},
        measures=measures,
        kpis=kpis,
        targets=targets,
    )


PAGE = render_reference(_small())


def _section(heading: str) -> str:
    """The page from ``heading`` to the next heading of the same or a higher level."""
    start = PAGE.index(heading)
    level = heading.split(" ")[0]
    rest = PAGE[start + len(heading) :]
    ends = [rest.find(f"\n{'#' * n} ") for n in range(1, len(level) + 1)]
    ends = [e for e in ends if e >= 0]
    return heading + (rest[: min(ends)] if ends else rest)


def test_categories_come_in_reading_order_and_unknown_ones_last() -> None:
    headings = [line for line in PAGE.splitlines() if line.startswith("## ")]
    # productivity and index are known categories (in that order); money is not
    assert headings == [
        "## Contents",
        "## Productivity",
        "## Index",
        "## Money",
        "## Sources",
        "## Targets",
    ]


def test_kpis_are_sorted_by_id_within_a_category() -> None:
    productivity = _section("## Productivity")
    assert [line for line in productivity.splitlines() if line.startswith("### ")] == [
        "### `growth` — Growth",
        "### `items` — Items",
        "### `rows_kpi` — Rows",
    ]


def test_a_ratio_kpi_in_full() -> None:
    assert _section("### `margin`") == (
        "### `margin` — Cost ratio (zh-CN: 成本率)\n"
        "\n"
        "Cost over revenue. Lower is better.\n"
        "\n"
        "| | |\n"
        "| --- | --- |\n"
        "| Names | en: Cost ratio; zh-CN: 成本率 |\n"
        "| Type | ratio |\n"
        "| Formula | `cost` ÷ `rev` × 100; null when the denominator is 0 or null |\n"
        "| Unit | %, 1 decimal |\n"
        "| Direction | lower is better |\n"
        "| Thresholds | green ≤ 80, amber ≤ 90.5, else red |\n"
        "| Window | the cycle |\n"
        "| Targets | 2 override(s), see [Targets](#targets) |\n"
        "\n"
        "| measure | computed as |\n"
        "| --- | --- |\n"
        "| `cost` | `sum(amount) from ledger where account = 'cost' or amount > 0`; "
        "rows placed in the window by `period` |\n"
        "| `rev` | `sum(amount) from ledger where account = 'rev'`; "
        "rows placed in the window by `period` |\n"
        "\n"
        '<a id="kpi-rev_total"></a>\n'
    )


def test_an_untracked_kpi_with_a_pipe_in_its_name() -> None:
    section = _section("### `rev_total`")
    assert "### `rev_total` — Revenue | total\n" in section
    assert "| Names | en: Revenue \\| total |\n" in section
    assert "| Thresholds | none (untracked) |\n" in section
    assert (
        "| Window | fiscal year to date (from the start of the cycle's fiscal year to its end) |\n"
        in section
    )


def test_growth_derived_and_closing_formulas() -> None:
    assert (
        "| Formula | growth of [`rev_total`](#kpi-rev_total) against the previous cycle: "
        "(v − v_prev) ÷ \\|v_prev\\| × 100; null when either is null or v_prev is 0 |"
    ) in _section("### `growth`")
    assert "| Thresholds | green ≥ 5, amber ≥ 0, else red |" in _section("### `growth`")
    assert (
        "| Formula | `items * 2`, over the values of the KPIs it names for the same entity |"
        in (_section("### `rows_kpi`"))
    )
    items = _section("### `items`")
    assert (
        "| `stock` | `sum(amount) from open_items` in each entity's latest period of the window "
        "that has rows (closing), added up over the subtree; rows placed in the window by "
        "`month` |"
    ) in items
    assert "| Window | to date (all time up to the cycle's end) |" in items


def test_composite_components_by_weight_with_their_total() -> None:
    section = _section("### `score`")
    assert (
        "| component | weight | direction | green |\n"
        "| --- | ---: | --- | ---: |\n"
        "| [`margin`](#kpi-margin) | 0.7 | lower is better | 80 |\n"
        "| [`growth`](#kpi-growth) | 0.3 | higher is better | 5 |\n"
        "| total | 1 | | |\n"
    ) in section


def test_sources_with_their_contract_and_views_with_their_sql() -> None:
    sources = _section("## Sources")
    ledger = _section("### `ledger`")
    assert ledger.startswith(
        "### `ledger`\n\nMonthly amounts.\n\n"
        "kind: table, time column: `period`, cadence: monthly, entity column: `entity_id`, "
        "primary key: `entity_id`, `period`, `account`\n\n"
        "| column | type | required | checks |\n"
        "| --- | --- | --- | --- |\n"
        "| `entity_id` | varchar | yes |  |\n"
        "| `period` | date | yes |  |\n"
        "| `account` | varchar | yes | one of rev, cost |\n"
        "| `amount` | double |  | ≥ 0; ≤ 1,000,000,000 |\n"
    )
    assert sources.index("### `ledger`") < sources.index("### `open_items`")
    assert (
        "kind: view, time column: `month`, cadence: none, entity column: `entity_id`\n\n"
        "```sql\nselect entity_id, period as month, amount from ledger\n```\n"
    ) in _section("### `open_items`")


def test_targets_sorted_by_kpi_entity_and_year() -> None:
    assert _section("## Targets").endswith(
        "| kpi | fiscal year | entity | green | amber |\n"
        "| --- | --- | --- | ---: | ---: |\n"
        "| [`growth`](#kpi-growth) | FY2025 | every entity | 1,500,000 | 2.5 |\n"
        "| [`margin`](#kpi-margin) | FY2026 | every entity | 75 | 88 |\n"
        "| [`margin`](#kpi-margin) | every year | E\\|1 | 70 | 85 |\n"
    )


def test_the_page_does_not_depend_on_definition_order() -> None:
    small = _small()
    shuffled = Catalogue(
        sources=dict(reversed(small.sources.items())),
        measures=dict(reversed(small.measures.items())),
        kpis=dict(reversed(small.kpis.items())),
        targets=tuple(reversed(small.targets)),
    )
    assert render_reference(shuffled) == PAGE


# --- the command ------------------------------------------------------------------------

CATALOGUE_YAML = """\
sources:
  ledger:
    time_column: period
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true}
      period: {type: date, required: true}
      amount: {type: double}
measures:
  total: {source: ledger, agg: sum, expr: amount}
kpis:
  total:
    name: {en: Total, zh-CN: 合计}
    category: productivity
    unit: CNY
    type: simple
    measure: total
"""


def test_catalogue_docs_writes_the_page(tmp_path: Path) -> None:
    (tmp_path / "metrics").mkdir()
    (tmp_path / "metrics" / "ledger.yaml").write_text(CATALOGUE_YAML, encoding="utf-8")
    out = tmp_path / "catalogue.md"
    result = CliRunner().invoke(
        app, ["catalogue-docs", "--catalogue", str(tmp_path / "metrics"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    page = out.read_text(encoding="utf-8")
    assert page == catalogue_reference(tmp_path / "metrics")
    assert "### `total` — Total (zh-CN: 合计)\n" in page
    assert "| `total` | `sum(amount) from ledger`; rows placed in the window by `period` |" in page


def test_catalogue_docs_prints_to_stdout_without_out(tmp_path: Path) -> None:
    (tmp_path / "ledger.yml").write_text(CATALOGUE_YAML, encoding="utf-8")
    result = CliRunner().invoke(app, ["catalogue-docs", "--catalogue", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout == catalogue_reference(tmp_path)


def test_catalogue_docs_on_a_missing_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["catalogue-docs", "--catalogue", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert result.stderr == f"error: catalogue folder '{tmp_path / 'nope'}' does not exist\n"


def test_catalogue_docs_on_an_empty_folder_is_a_usage_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["catalogue-docs", "--catalogue", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr == f"error: catalogue folder '{tmp_path}' holds no *.yaml files\n"


def test_catalogue_docs_reports_catalogue_errors(tmp_path: Path) -> None:
    broken = CATALOGUE_YAML.replace("measure: total", "measure: totl")
    (tmp_path / "ledger.yaml").write_text(broken, encoding="utf-8")
    result = CliRunner().invoke(app, ["catalogue-docs", "--catalogue", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    # line 17 of the file is `    measure: totl`
    assert result.stderr == (
        f"error: {tmp_path / 'ledger.yaml'}:17: kpi 'total': measure 'totl' does not exist "
        "(did you mean 'total'?)\n"
    )
