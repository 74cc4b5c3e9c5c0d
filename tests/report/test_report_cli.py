"""`soekpi report` end to end on a small workspace the test builds and loads itself."""

from __future__ import annotations

import calendar
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import catalogue_workspace
from helpers import run as soekpi

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
    name: {en: Revenue, zh-CN: 营业收入}
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
"""

ENTITIES = (
    "entity_id,name,name_zh,parent_id\n"
    "G,\"<script>alert('g')</script> Group\",集团,\n"
    "E1,North | Power,北方电力,G\n"
    'E2,"South ""Grid""",,G\n'
)

# Monthly (revenue, cost) per entity and quarter of 2026 (fiscal year = calendar year).
MONTHLY = {
    "Q1": {"E1": (200, 60), "E2": (100, 30)},
    "Q2": {"E1": (100, 50), "E2": (50, 25)},
    "Q3": {"E1": (300, 100), "E2": (200, 150)},
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
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    loads = [("entities", "entities.csv", ENTITIES), ("financials", "ledger.csv", _ledger())]
    return catalogue_workspace(tmp_path_factory.mktemp("ws"), CATALOGUE, loads=loads)


@pytest.fixture
def ws(loaded: Path) -> Path:
    out = loaded / "out"
    if out.exists():
        import shutil

        shutil.rmtree(out)
    return loaded


EPOCH = {"SOURCE_DATE_EPOCH": str(calendar.timegm((2026, 10, 15, 8, 30, 0)))}


def test_report_writes_the_run_folder(ws: Path) -> None:
    code, out, err = soekpi(ws, "report", "--cycle", "FY2026-Q3", env=EPOCH)
    assert code == 0, err
    run = ws / "out" / "FY2026-Q3"
    assert out == f"{run}\n"
    assert sorted(p.name for p in run.iterdir()) == [
        "definitions.json",
        "kpis.csv",
        "kpis.json",
        "manifest.json",
        "report.html",
        "report.md",
    ]
    assert sorted(p.name for p in (ws / "out").iterdir()) == ["FY2026-Q3"]
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["cycle"] == "FY2026-Q3"
    assert (manifest["cycle_start"], manifest["cycle_end"]) == ("2026-07-01", "2026-09-30")
    assert manifest["fiscal_year"] == {"start_month": 1, "label": "end"}
    assert manifest["language"] == "en"
    assert manifest["generated_at"] == "2026-10-15T08:30:00Z"
    assert sorted(manifest["kpis"]) == ["cost_ratio", "revenue"]
    assert manifest["sources"]["financials"]["rows"] == 2 * 2 * 9  # 2 entities × 2 accounts × 9
    assert manifest["sources"]["entities"]["rows"] == 3
    import hashlib

    # the months read of the ledger (the trend's FY2024-Q4..FY2026-Q3) hold all its rows
    assert manifest["as_of_load"] == 2  # entities, then the ledger
    for name in ("kpis.csv", "kpis.json", "report.html", "report.md", "definitions.json"):
        assert manifest["files"][name] == hashlib.sha256((run / name).read_bytes()).hexdigest()
    text = (run / "manifest.json").read_text()
    assert text == json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def test_kpis_json_and_csv_are_exactly_compute(ws: Path) -> None:
    code, _, err = soekpi(ws, "report", "--cycle", "FY2026-Q3", env=EPOCH)
    assert code == 0, err
    run = ws / "out" / "FY2026-Q3"
    for fmt in ("json", "csv"):
        code, out, err = soekpi(ws, "compute", "--cycle", "FY2026-Q3", "--format", fmt)
        assert code == 0, err
        assert (run / f"kpis.{fmt}").read_text(encoding="utf-8") == out
    rows = json.loads((run / "kpis.json").read_text())
    g = {r["kpi"]: r for r in rows if r["entity"] == "G"}
    # Q3, summed over the subtree: revenue (300 + 200) × 3 = 1500; cost (100 + 150) × 3 = 750
    assert g["revenue"]["value"] == (300 + 200) * 3
    assert g["cost_ratio"]["value"] == pytest.approx(750 / 1500 * 100)


def test_two_runs_are_byte_identical(ws: Path, tmp_path: Path) -> None:
    for out in ("a", "b"):
        code, _, err = soekpi(
            ws, "report", "--cycle", "FY2026-Q3", "--out", str(tmp_path / out), env=EPOCH
        )
        assert code == 0, err
    a, b = tmp_path / "a" / "FY2026-Q3", tmp_path / "b" / "FY2026-Q3"
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_existing_run_is_refused_then_replaced_with_force(ws: Path) -> None:
    assert soekpi(ws, "report", "--cycle", "FY2026-Q3", env=EPOCH)[0] == 0
    code, out, err = soekpi(ws, "report", "--cycle", "FY2026-Q3", env=EPOCH)
    assert (code, out) == (2, "")
    assert err == (
        "error: out/FY2026-Q3 already exists; pass --force to replace it (the old run is kept "
        "as FY2026-Q3.prev)\n"
    )
    code, _, err = soekpi(
        ws, "report", "--cycle", "FY2026-Q3", "--force", "--lang", "zh-CN", env=EPOCH
    )
    assert code == 0, err
    assert '<html lang="en">' in (ws / "out" / "FY2026-Q3.prev" / "report.html").read_text()
    assert '<html lang="zh-CN">' in (ws / "out" / "FY2026-Q3" / "report.html").read_text()
    assert sorted(p.name for p in (ws / "out").iterdir()) == ["FY2026-Q3", "FY2026-Q3.prev"]


@pytest.mark.parametrize(
    ("cycle", "fail_on", "expected"),
    [
        # Q1: revenue (200 + 100) × 3 = 900 → amber (≥ 500, < 1000); cost 270 / 900 = 30 % green
        ("FY2026-Q1", "red", 0),
        ("FY2026-Q1", "amber", 1),
        # Q2: revenue (100 + 50) × 3 = 450 < 500 → red
        ("FY2026-Q2", "red", 1),
        # Q3: revenue 1500 green, cost ratio 50 % green
        ("FY2026-Q3", "amber", 0),
    ],
)
def test_fail_on_exit_codes(ws: Path, cycle: str, fail_on: str, expected: int) -> None:
    code, out, err = soekpi(ws, "report", "--cycle", cycle, "--fail-on", fail_on)
    assert code == expected, err
    assert out == f"{ws / 'out' / cycle}\n"  # written either way
    assert (ws / "out" / cycle / "manifest.json").is_file()


def test_bad_options_write_nothing(ws: Path) -> None:
    assert soekpi(ws, "report", "--cycle", "FY2026-Q3", "--fail-on", "blue") == (
        2,
        "",
        "error: --fail-on: 'blue' is not one of red, amber\n",
    )
    assert soekpi(ws, "report", "--cycle", "FY2026-Q3", "--lang", "fr") == (
        2,
        "",
        "error: --lang: 'fr' is not one of en, zh-CN\n",
    )
    assert soekpi(ws, "report", "--cycle", "FY2026-Q3", "--format", "pdf") == (
        2,
        "",
        "error: --format: 'pdf' is not one of html, md\n",
    )
    assert not (ws / "out").exists()


def test_format_md_only_and_previous_cycle(ws: Path) -> None:
    # previous: the last quarter that ended before 2026-10-15 is FY2026-Q3
    code, out, err = soekpi(
        ws, "report", "--cycle", "previous", "--format", "md", env={"SOEKPI_TODAY": "2026-10-15"}
    )
    assert code == 0, err
    run = ws / "out" / "FY2026-Q3"
    assert out == f"{run}\n"
    assert sorted(p.name for p in run.iterdir()) == [
        "definitions.json",
        "kpis.csv",
        "kpis.json",
        "manifest.json",
        "report.md",
    ]


def test_names_are_escaped_in_the_real_report(ws: Path) -> None:
    assert soekpi(ws, "report", "--cycle", "FY2026-Q3", "--lang", "zh-CN")[0] == 0
    html = (ws / "out" / "FY2026-Q3" / "report.html").read_text(encoding="utf-8")
    md = (ws / "out" / "FY2026-Q3" / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in html and "<script>" not in md
    assert "集团" in html and "北方电力" in html and "South &#34;Grid&#34;" in html
    assert "营业收入" in md and 'South "Grid"' in md


def test_killed_run_leaves_the_previous_run_and_no_partial_folder(ws: Path) -> None:
    assert soekpi(ws, "report", "--cycle", "FY2026-Q3", env=EPOCH)[0] == 0
    run = ws / "out" / "FY2026-Q3"
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    # A workspace template that takes far longer to render than the test waits.
    slow = ws / "slow-templates"
    slow.mkdir(exist_ok=True)
    (slow / "_grid.md.j2").write_text(
        # nested: the sandbox caps one range() at 100,000 items
        "{% for i in range(10 ** 5) %}{% for j in range(10 ** 5) %}{% endfor %}{% endfor %}\n",
        encoding="utf-8",
    )
    settings = ws / "soekpi.yaml"
    original = settings.read_text()
    settings.write_text(original + "templates: slow-templates\n")
    try:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "soekpi",
                "-w",
                str(ws),
                "report",
                "--cycle",
                "FY2026-Q3",
                "--force",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        tmp = ws / "out" / f".FY2026-Q3.tmp-{proc.pid}"
        deadline = time.monotonic() + 60
        while not (tmp / "kpis.json").exists() and proc.poll() is None:
            assert time.monotonic() < deadline, "the run never started writing"
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        settings.write_text(original)
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before
    assert not (ws / "out" / "FY2026-Q3.prev").exists()
    # the dead run's hidden temp folder is cleaned by the next run
    code, _, err = soekpi(ws, "report", "--cycle", "FY2026-Q2")
    assert code == 0, err
    assert sorted(p.name for p in (ws / "out").iterdir()) == ["FY2026-Q2", "FY2026-Q3"]
