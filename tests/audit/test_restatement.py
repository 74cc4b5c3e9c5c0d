"""`soekpi diff` end to end: report runs written by `soekpi report` on a workspace the test
builds, then a late correction or a catalogue edit, then a second run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from audit_data import LATE_COST
from helpers import Invoke, write


def _archive(run: Path, tmp_path: Path) -> Path:
    archived = tmp_path / "archive" / run.name
    shutil.copytree(run, archived)
    return archived


def test_late_correction_shows_as_a_restatement(
    published: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    archived = _archive(published, tmp_path)
    result = soekpi("load", "financials", write(tmp_path / "late.csv", LATE_COST))
    assert result.exit_code == 0, result.output
    result = soekpi("report", "--cycle", "FY2026-Q1", "--force")
    assert result.exit_code == 0, result.output

    result = soekpi("diff", archived, published, "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"] == "restatement"
    rows = [
        (
            r["entity"],
            r["kpi"],
            r["old_value"],
            r["new_value"],
            r["old_status"],
            r["new_status"],
        )
        for r in doc["rows"]
    ]
    # cost_ratio = cost / revenue × 100 (lower is better, green ≤ 60, amber ≤ 80)
    #   B: 300 / 600 × 100 = 50 (green) → 450 / 600 × 100 = 75 (amber)
    #   G: 450 / 900 × 100 = 50 (green) → 600 / 900 × 100 = 66.67 (amber)
    # total_revenue is unchanged (the correction is a cost row). Ordered by relative change:
    #   B (75 − 50) / 50 = 0.5, G (66.67 − 50) / 50 = 0.333…
    assert [r[:2] for r in rows] == [("B", "cost_ratio"), ("G", "cost_ratio")]
    b, g = doc["rows"]
    assert (b["old_value"], b["new_value"], b["absolute_change"]) == (50.0, 75.0, 25.0)
    assert b["relative_change"] == 0.5
    assert (g["old_value"], round(g["new_value"], 9)) == (50.0, round(600 / 900 * 100, 9))
    assert round(g["relative_change"], 9) == round((600 / 900 * 100 - 50) / 50, 9)
    assert [(r[4], r[5]) for r in rows] == [("green", "amber"), ("green", "amber")]
    assert doc["definitions"] == []
    # the ledger had 11 rows and gained one
    assert [(s["source"], s["old_rows"], s["new_rows"]) for s in doc["sources"]] == [
        ("financials", 11, 12)
    ]
    assert doc["version"] is None and doc["settings"] == []


def test_threshold_edit_shows_the_field_and_the_status_changes(
    published: Path, workspace: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    archived = _archive(published, tmp_path)
    catalogue = workspace / "metrics" / "catalogue.yaml"
    text = catalogue.read_text()
    assert text.count("thresholds: {green: 60, amber: 80}") == 1
    catalogue.write_text(text.replace("{green: 60, amber: 80}", "{green: 45, amber: 80}"))
    result = soekpi("report", "--cycle", "FY2026-Q1", "--force")
    assert result.exit_code == 0, result.output

    result = soekpi("diff", archived, published, "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    (definition,) = doc["definitions"]
    assert definition["kpi"] == "cost_ratio" and definition["change"] == "changed"
    assert definition["old_sha256"] != definition["new_sha256"]
    assert [(f["field"], f["old"], f["new"]) for f in definition["fields"]] == [
        ("thresholds.green", 60, 45)
    ]
    # cost_ratio is 50 for A (150 / 300 × 100), B (300 / 600 × 100) and G (450 / 900 × 100):
    # green under ≤ 60, amber under ≤ 45 / ≤ 80. Values unchanged, statuses all change.
    assert [
        (r["entity"], r["old_value"], r["new_value"], r["old_status"], r["new_status"])
        for r in doc["rows"]
    ] == [
        ("A", 50.0, 50.0, "green", "amber"),
        ("B", 50.0, 50.0, "green", "amber"),
        ("G", 50.0, 50.0, "green", "amber"),
    ]
    assert doc["summary"]["value_changes"] == 0
    assert doc["sources"] == []

    table = soekpi("diff", archived, published)
    assert table.exit_code == 1
    assert "thresholds.green: 60 → 45" in table.stdout


def test_two_runs_of_unchanged_inputs_do_not_differ(
    published: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    archived = _archive(published, tmp_path)
    result = soekpi("report", "--cycle", "FY2026-Q1", "--force")
    assert result.exit_code == 0, result.output
    result = soekpi("diff", archived, published)
    assert result.exit_code == 0, result.output
    assert "no differences" in result.stdout
