"""`soekpi report` computes every entity for its cycle and the trend cycles for the root
entities only; every output file must be byte-identical to what the former path wrote (one
compute of all eight trailing cycles for every entity), and the run must verify and diff.
"""

from __future__ import annotations

import calendar
import shutil
from dataclasses import replace
from pathlib import Path

import polars as pl
import pytest
from helpers import catalogue_workspace, demo_workspace, invoke

from soekpi import __version__
from soekpi.catalogue.definitions import catalogue_definitions
from soekpi.catalogue.validate import load_catalogue
from soekpi.engine import compute, on_warehouse, read_measures, resolve
from soekpi.output import (
    definitions_text,
    manifest_inputs,
    manifest_text,
    result_csv,
    result_json,
    windows_read,
)
from soekpi.report.format import timestamp
from soekpi.report.render import (
    TREND_CYCLES,
    ReportData,
    build_context,
    render_html,
    render_markdown,
)
from soekpi.report.run import sha256_bytes
from soekpi.warehouse.hashing import window_fingerprints
from soekpi.warehouse.ledger import last_load_id
from soekpi.warehouse.queries import project_risks, rejected_counts
from soekpi.warehouse.sandbox import sandbox
from soekpi.workspace import read_workspace

EPOCH = calendar.timegm((2026, 10, 15, 8, 30, 0))
FILES = ("kpis.csv", "kpis.json", "report.md", "report.html", "definitions.json", "manifest.json")


def soekpi(ws: Path, *args: str) -> tuple[int, str]:
    result = invoke(ws, *args, env={"SOURCE_DATE_EPOCH": str(EPOCH)})
    return result.exit_code, result.output


def former_report(root: Path, cycle_text: str) -> dict[str, bytes]:
    """The run's files as the former path made them: one compute of the eight trailing
    cycles for every entity, rendered whole; kpis.json/kpis.csv from its cycle alone."""
    ws = read_workspace(root)
    catalogue = load_catalogue(ws)
    cycle = resolve(ws, catalogue, cycle_text)
    result = compute(ws, catalogue, cycle.trailing(TREND_CYCLES))
    # the months the run reads of each source: those of its eight cycles (issue 17)
    read = on_warehouse(
        ws,
        lambda con, folder: read_measures(con, folder, ws, catalogue, cycle.trailing(TREND_CYCLES)),
        lambda read: read,
    )
    windows = windows_read(catalogue, [read])
    with sandbox(ws) as con:
        facts = window_fingerprints(con, catalogue, windows)
        inputs = manifest_inputs(ws.fiscal, catalogue, cycle, facts, last_load_id(con))
        rejected = rejected_counts(con)
        projects = project_risks(con, catalogue, cycle.start(ws.fiscal), cycle.end(ws.fiscal))
    generated_at = timestamp(EPOCH)
    data = ReportData(
        catalogue=catalogue,
        result=result,
        cycle=cycle,
        fiscal=ws.fiscal,
        language=ws.language,
        generated_at=generated_at,
        version=__version__,
        sources={s: (v["rows"], v["sha256"]) for s, v in inputs["sources"].items()},
        kpi_hashes={k: catalogue.kpi_hash(k) for k in sorted(catalogue.kpis)},
        rejected=rejected,
        projects=projects,
        root_entity=ws.root_entity,
    )
    only = replace(
        result, cycles=[cycle], values=result.values.filter(pl.col("cycle") == cycle.name)
    )
    context = build_context(data)
    files = {
        "kpis.csv": result_csv(only).encode(),
        "kpis.json": result_json(only).encode(),
        "report.md": render_markdown(context).encode(),
        "report.html": render_html(context).encode(),
        "definitions.json": definitions_text(catalogue_definitions(catalogue, ws.fiscal)).encode(),
    }
    manifest = {
        **inputs,
        "language": ws.language,
        "generated_at": generated_at,
        "files": {name: sha256_bytes(data) for name, data in files.items()},
    }
    files["manifest.json"] = manifest_text(manifest).encode()
    return files


def published(root: Path, cycle_text: str, out: Path) -> Path:
    code, output = soekpi(root, "report", "--cycle", cycle_text, "--out", str(out))
    assert code in (0, 1), output
    run = Path(output.strip().splitlines()[-1])
    assert run.parent == out
    return run


def assert_same_as_former(root: Path, cycle_text: str, out: Path) -> Path:
    run = published(root, cycle_text, out)
    former = former_report(root, cycle_text)
    assert sorted(p.name for p in run.iterdir()) == sorted(FILES)
    for name in FILES:
        assert (run / name).read_bytes() == former[name], name
    return run


# ----------------------------------------------------------------- the demo, three levels


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # built on the real today: "previous" below is resolved against the real today too
    return demo_workspace(tmp_path_factory.mktemp("trend") / "demo", scale="2", today=None)


def _trend_row(markdown: str, root_name: str, kpi_name: str) -> list[str]:
    """The cells of a KPI's row in a root entity's KPI table of report.md."""
    section = markdown.split(f"\n### {root_name}\n", 1)[1].split("\n### ", 1)[0]
    line = next(x for x in section.splitlines() if x.startswith(f"| {kpi_name} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_demo_report_is_byte_identical_to_the_former_path(demo: Path, tmp_path: Path) -> None:
    run = assert_same_as_former(demo, "latest", tmp_path / "out")
    # The demo has three years of data: the root's trend shows all eight cycles, so a
    # trend computed for nobody (or for the wrong entities) would change report.md.
    md = (run / "report.md").read_text(encoding="utf-8")
    spark = _trend_row(md, "Example Energy Group", "Digital revenue share")[5]
    assert len(spark) == TREND_CYCLES and "·" not in spark


def test_demo_report_of_an_earlier_cycle_is_byte_identical(demo: Path, tmp_path: Path) -> None:
    assert_same_as_former(demo, "previous", tmp_path / "out")


def test_root_entity_setting_is_byte_identical(demo: Path, tmp_path: Path) -> None:
    root = tmp_path / "demo"
    shutil.copytree(demo, root, ignore=shutil.ignore_patterns("out"))
    settings = root / "soekpi.yaml"
    text = settings.read_text(encoding="utf-8")
    assert "root_entity: null" in text
    settings.write_text(text.replace("root_entity: null", "root_entity: S01"), encoding="utf-8")
    run = assert_same_as_former(root, "latest", tmp_path / "out")
    md = (run / "report.md").read_text(encoding="utf-8")
    assert "\n### Example Energy Group\n" not in md  # G00 is above the root entity


def test_run_written_this_way_verifies_and_diffs_clean(demo: Path, tmp_path: Path) -> None:
    run = published(demo, "latest", tmp_path / "new")
    former = tmp_path / "former" / run.name
    former.mkdir(parents=True)
    for name, data in former_report(demo, "latest").items():
        (former / name).write_bytes(data)

    code, output = soekpi(demo, "verify", str(run))
    assert code == 0, output
    assert output.splitlines()[0].endswith(": reproducible")
    code, output = soekpi(demo, "diff", str(former), str(run))
    assert code == 0, output
    assert "no differences" in output


# ------------------------------------------------ two top-level entities, numbers by hand

CATALOGUE = """\
sources:
  entities:
    primary_key: [entity_id]
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true, unique: true}
      name:      {type: varchar, required: true}
      name_zh:   {type: varchar}
      parent_id: {type: varchar, references: entities.entity_id}
  financials:
    time_column: period
    cadence: monthly
    entity_column: entity_id
    primary_key: [entity_id, period, account]
    columns:
      entity_id: {type: varchar, required: true, references: entities.entity_id}
      period:    {type: date, required: true}
      account:   {type: varchar, required: true, allowed: [revenue, cost]}
      amount:    {type: "decimal(18,2)", required: true}
measures:
  revenue: {source: financials, agg: sum, expr: amount, filter: "account = 'revenue'"}
  cost:    {source: financials, agg: sum, expr: amount, filter: "account = 'cost'"}
kpis:
  revenue:
    name: Revenue
    type: simple
    measure: revenue
    unit: CNY
    decimals: 0
    thresholds: {green: 1000, amber: 500}
  cost_ratio:
    name: Cost ratio
    type: ratio
    numerator: cost
    denominator: revenue
    scale: 100
    unit: "%"
    decimals: 1
    direction: lower_is_better
    thresholds: {green: 60, amber: 80}
  revenue_growth:
    name: Revenue growth
    type: growth
    of: revenue
    compare: previous_cycle
    unit: "%"
    decimals: 1
"""

# Two groups: G (units E1, E2) and H (unit F1).
ENTITIES = (
    "entity_id,name,name_zh,parent_id\n"
    "G,Group G,,\n"
    "E1,Unit E1,,G\n"
    "E2,Unit E2,,G\n"
    "H,Group H,,\n"
    "F1,Unit F1,,H\n"
)

# Monthly (revenue, cost) per unit and quarter of 2026 (fiscal year = calendar year).
MONTHLY = {
    "Q1": {"E1": (200, 60), "E2": (100, 30), "F1": (100, 50)},
    "Q2": {"E1": (100, 50), "E2": (50, 25), "F1": (50, 40)},
    "Q3": {"E1": (300, 100), "E2": (200, 150), "F1": (100, 90)},
}


def _ledger() -> str:
    lines = ["entity_id,period,account,amount"]
    for q, per_entity in MONTHLY.items():
        first = (int(q[1]) - 1) * 3 + 1
        for month in range(first, first + 3):
            for entity, (revenue, cost) in per_entity.items():
                lines.append(f"{entity},2026-{month:02d}-01,revenue,{revenue}")
                lines.append(f"{entity},2026-{month:02d}-01,cost,{cost}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def two_groups(tmp_path_factory: pytest.TempPathFactory) -> Path:
    loads = [("entities", "entities.csv", ENTITIES), ("financials", "ledger.csv", _ledger())]
    return catalogue_workspace(tmp_path_factory.mktemp("two-groups"), CATALOGUE, loads=loads)


def test_every_top_level_entity_gets_its_trend(two_groups: Path, tmp_path: Path) -> None:
    run = assert_same_as_former(two_groups, "FY2026-Q3", tmp_path / "out")
    md = (run / "report.md").read_text(encoding="utf-8")
    # H = F1: revenue 3 × 100 = 300 in Q1, 3 × 50 = 150 in Q2, 3 × 100 = 300 in Q3, nothing
    # in the five cycles before: red (< 500), +150 against Q2, the lowest in Q2.
    h = _trend_row(md, "Group H", "Revenue")
    assert h[1] == "300 CNY"
    assert h[3] == "red"
    assert h[4] == "+150 CNY"
    assert h[5] == "·····█▁█"
    # growth: 300 / 150 − 1 = +100 % in Q3, 150 / 300 − 1 = −50 % in Q2: +150 pp
    assert _trend_row(md, "Group H", "Revenue growth")[1:2] == ["100.0%"]
    assert _trend_row(md, "Group H", "Revenue growth")[4] == "+150.0 pp"
    # G = E1 + E2: 3 × (200 + 100) = 900, 3 × (100 + 50) = 450, 3 × (300 + 200) = 1,500
    g = _trend_row(md, "Group G", "Revenue")
    assert g[1] == "1,500 CNY"
    assert g[3] == "green"
    assert g[4] == "+1,050 CNY"
    assert g[5] == "·····▄▁█"  # (900 − 450) / (1,500 − 450) × 7 = 3.0 → ▄


def test_fail_on_reads_both_roots(two_groups: Path, tmp_path: Path) -> None:
    # Group H's revenue (300) is red, Group G's (1,500) green: --fail-on red exits 1.
    code, output = soekpi(
        two_groups, "report", "--cycle", "FY2026-Q3", "--out", str(tmp_path), "--fail-on", "red"
    )
    assert code == 1, output
