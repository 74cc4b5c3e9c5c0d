"""A KPI computed under a revision is footnoted in the report (HTML and Markdown, both
languages), its trend chart marks where the definition changes, and ``diff`` of two runs across
the boundary shows the change with its effective_from and reason (issue 17, revisions).

The workspace is tests/revisions_data.py: labour_productivity's headcount includes
contractors from FY2026, and revenue includes services from FY2026-Q3.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import invoke
from revisions_data import REASON_HEADCOUNT, REASON_SERVICES, revisions_workspace

EPOCH = "1785000000"


def report(ws: Path, cycle: str, *args: str) -> Path:
    result = invoke(ws, "report", "--cycle", cycle, *args, env={"SOURCE_DATE_EPOCH": EPOCH})
    assert result.exit_code == 0, result.output
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return revisions_workspace(Path(tmp_path_factory.mktemp("rev")) / "ws")


@pytest.fixture(scope="module")
def q3(ws: Path) -> Path:
    return report(ws, "FY2026-Q3")


@pytest.fixture(scope="module")
def q4(ws: Path) -> Path:
    return report(ws, "FY2025-Q4")


HEADCOUNT = f"Definition revised from FY2026: {REASON_HEADCOUNT}"
SERVICES = f"Definition revised from FY2026-Q3: {REASON_SERVICES}"


def test_markdown_footnotes_the_kpis_computed_under_a_revision(q3: Path) -> None:
    text = (q3 / "report.md").read_text()
    # 5400 / 20 = 270, green (>= 250); growth against FY2026-Q2 under the same definitions: 0
    assert "| Labour productivity [1] | 270 CNY/person |" in text
    assert "| Labour productivity growth [1] | 0.00% |" in text  # it reads the revised KPI
    assert f"[1] {HEADCOUNT}; {SERVICES}\n" in text


def test_html_footnotes_and_marks_the_trend(q3: Path) -> None:
    html = (q3 / "report.html").read_text()
    assert 'Labour productivity<sup class="revision"><a href="#revision-G-1">1</a></sup>' in html
    assert f'<li id="revision-G-1" value="1">{HEADCOUNT}; {SERVICES}</li>' in html
    # the trend runs FY2024-Q4 .. FY2026-Q3 (8 points, x = 4 + i × 160 / 7): FY2026-Q1 is
    # point 5 (x 118.3), FY2026-Q3 point 7 (x 164.0); one dashed line each, with its title
    lines = re.findall(r'<line class="revision" x1="([0-9.]+)"[^>]*><title>([^<]*)</title>', html)
    assert sorted(set(lines)) == [("118.3", HEADCOUNT), ("164.0", SERVICES)]
    # two charts (the KPI and its growth) carry both marks
    assert len(lines) == 4
    assert 'stroke-dasharray="2 2"' in html


def test_a_cycle_before_every_revision_has_no_footnote(q4: Path) -> None:
    text = (q4 / "report.md").read_text()
    # 4500 / 15 = 300
    assert "| Labour productivity | 300 CNY/person |" in text
    assert "Definition revised" not in text
    assert 'class="revision"' not in (q4 / "report.html").read_text()


def test_the_footnote_in_chinese(ws: Path, tmp_path: Path) -> None:
    run = report(ws, "FY2026-Q1", "--lang", "zh-CN", "--out", str(tmp_path))
    text = (run / "report.md").read_text()
    assert f"[1] 自 FY2026 起口径修订：{REASON_HEADCOUNT}\n" in text
    assert "| 全员劳动生产率 [1] |" in text
    html = (run / "report.html").read_text()
    assert f'<li id="revision-G-1" value="1">自 FY2026 起口径修订：{REASON_HEADCOUNT}</li>' in html


def test_the_manifest_definitions_carry_the_revision(q3: Path, q4: Path) -> None:
    after = json.loads((q3 / "manifest.json").read_text())["kpis"]["labour_productivity"]
    before = json.loads((q4 / "manifest.json").read_text())["kpis"]["labour_productivity"]
    assert after["definition"]["revision"] == {
        "effective_from": "FY2026",
        "reason": REASON_HEADCOUNT,
    }
    assert after["definition"]["measures"]["revenue"]["revision"] == {
        "effective_from": "FY2026-Q3",
        "reason": REASON_SERVICES,
    }
    assert "revision" not in before["definition"]


def test_diff_across_the_boundary_shows_effective_from_and_reason(q3: Path, q4: Path) -> None:
    result = invoke(q3.parent.parent, "diff", str(q4), str(q3), "--format", "md")
    assert result.exit_code == 1
    assert (
        "  - `revision: the original definition → revised from FY2026: "
        f"{REASON_HEADCOUNT}`" in result.stdout
    )
    assert (
        "  - `measures.revenue.revision: the original definition → revised from FY2026-Q3: "
        f"{REASON_SERVICES}`" in result.stdout
    )
    assert '  - `denominator: "headcount_avg" → "headcount_incl_contractors_avg"`' in result.stdout
    as_json = json.loads(
        invoke(q3.parent.parent, "diff", str(q4), str(q3), "--format", "json").stdout
    )
    fields = {
        f["field"]: f["new"]
        for d in as_json["definitions"]
        if d["kpi"] == "labour_productivity"
        for f in d["fields"]
    }
    assert fields["revision"] == {"effective_from": "FY2026", "reason": REASON_HEADCOUNT}
