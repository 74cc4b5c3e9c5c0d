"""`soekpi verify`: a published run rebuilt as of its load with its own definitions, and
``--current``: compared with today's data and catalogue (issue 17)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from audit_data import LATE_COST
from helpers import Invoke, write


def _verdict(run: Path, verdict: str) -> str:
    # entities were load 1, the ledger load 2: the run saw load 2
    return f"verify {run} (FY2026-Q1) rebuilt as of load 2 with its own definitions: {verdict}\n"


def test_clean_then_restated_by_a_late_correction(
    published: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    result = soekpi("verify", published)
    assert result.exit_code == 0, result.output
    assert result.stdout == _verdict(published, "reproducible") + (
        "still current: 0 load(s) after load 2, none changed the rows the run read or its values\n"
    )

    result = soekpi("load", "financials", write(tmp_path / "late.csv", LATE_COST))
    assert result.exit_code == 0, result.output
    # as of its load the run is what it was: exit 0, and it says the run is no longer current
    result = soekpi("verify", published, "--format", "json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["mode"], doc["as_of_load"], doc["reproducible"], doc["ok"]) == (
        "as_of_load",
        2,
        True,
        True,
    )
    assert doc["files"] == [] and doc["outputs"] == [] and not doc["diff"]["differences"]
    assert doc["current"]["current"] is False and doc["current"]["restated"] is True
    [touched] = doc["current"]["touched"]
    # the ledger's rows in the run's months (the trend's 2024-04..2026-03): 11, then 12
    assert (touched["load"], touched["source"], touched["rows_before"], touched["rows_after"]) == (
        3,
        "financials",
        11,
        12,
    )

    result = soekpi("verify", published, "--current", "--format", "json")
    assert result.exit_code == 1, result.output
    doc = json.loads(result.stdout)
    assert (doc["mode"], doc["reproducible"], doc["ok"]) == ("current", None, False)
    assert doc["files"] == []
    diff = doc["diff"]
    assert diff["b"]["run"] == "today's data"
    # B's cost_ratio: 300 / 600 × 100 = 50 → 450 / 600 × 100 = 75;
    # G's: 450 / 900 × 100 = 50 → 600 / 900 × 100 = 66.67; both green → amber
    assert [
        (r["entity"], r["kpi"], r["old_value"], round(r["new_value"], 9), r["new_status"])
        for r in diff["rows"]
    ] == [
        ("B", "cost_ratio", 50.0, 75.0, "amber"),
        ("G", "cost_ratio", 50.0, round(600 / 900 * 100, 9), "amber"),
    ]
    assert [(s["source"], s["old_rows"], s["new_rows"]) for s in diff["sources"]] == [
        ("financials", 11, 12)
    ]
    assert diff["definitions"] == [] and diff["version"] is None and diff["settings"] == []


def test_catalogue_edit_is_reported_field_by_field(
    published: Path, workspace: Path, soekpi: Invoke
) -> None:
    catalogue = workspace / "metrics" / "catalogue.yaml"
    catalogue.write_text(
        catalogue.read_text().replace(
            "filter: \"account = 'cost'\"", "filter: \"account = 'revenue'\""
        )
    )
    # the run is rebuilt with its own definitions.json: still reproducible
    result = soekpi("verify", published)
    assert result.exit_code == 0, result.output
    result = soekpi("verify", published, "--current", "--format", "md")
    assert result.exit_code == 1, result.output
    assert "against today's data and catalogue: definitions changed" in result.stdout
    assert "- `cost_ratio` changed\n  - `measures.cost.filter: \"account = 'cost'\" → " in (
        result.stdout
    )
    # with cost = revenue every cost_ratio is 100: A 300 / 300, B 600 / 600, G 900 / 900 (× 100)
    assert "| A | cost_ratio | 50 | 100 | +50 | +100.00% | green → red |" in result.stdout


def test_fiscal_settings_change_is_reported(
    published: Path, workspace: Path, soekpi: Invoke
) -> None:
    (workspace / "soekpi.yaml").write_text("fiscal_year: {start_month: 4, label: end}\n")
    result = soekpi("verify", published)  # the run's own fiscal settings: reproducible
    assert result.exit_code == 0, result.output
    result = soekpi("verify", published, "--current", "--format", "json")
    assert result.exit_code == 1, result.output
    settings = json.loads(result.stdout)["diff"]["settings"]
    # FY2026-Q1 with April starts and years named by their end: 2025-04-01..2025-06-30
    assert settings == [
        {"field": "fiscal_year.start_month", "old": 1, "new": 4},
        {"field": "cycle_start", "old": "2026-01-01", "new": "2025-04-01"},
        {"field": "cycle_end", "old": "2026-03-31", "new": "2025-06-30"},
    ]


def test_an_altered_output_file_is_reported(published: Path, soekpi: Invoke) -> None:
    report = published / "report.md"
    manifest = json.loads((published / "manifest.json").read_text())
    expected = manifest["files"]["report.md"]
    report.write_text(report.read_text() + "an edit after publication\n")
    actual = hashlib.sha256(report.read_bytes()).hexdigest()
    (published / "kpis.csv").unlink()
    result = soekpi("verify", published)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == _verdict(published, "NOT reproducible").rstrip("\n")
    csv_sha = manifest["files"]["kpis.csv"]
    assert lines[1:-1] == [
        f"kpis.csv: missing (manifest sha256 {csv_sha[:12]})",
        f"report.md: altered since the run was written (manifest sha256 {expected[:12]}, "
        f"now {actual[:12]})",
        # the rebuild makes the original bytes: its SHA-256 is the manifest's
        "kpis.csv: missing from the run (the rebuild makes it)",
        f"report.md: differs from the rebuild (run sha256 {actual[:12]}, rebuilt {expected[:12]})",
    ]
    assert lines[-1].startswith("still current: 0 load(s) after load 2")


def test_verify_a_folder_that_is_not_a_run(loaded: Path, soekpi: Invoke, tmp_path: Path) -> None:
    folder = tmp_path / "nothing"
    folder.mkdir()
    result = soekpi("verify", folder)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {folder}/manifest.json: not a run folder: manifest.json is missing (a run folder "
        "holds manifest.json and kpis.json, written by 'soekpi report')\n"
    )
