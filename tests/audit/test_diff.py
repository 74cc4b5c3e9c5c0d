"""`soekpi diff` on run folders built by hand in the documented format (docs/architecture.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from soekpi.audit.diff import diff_runs
from soekpi.cli import app

runner = CliRunner()


def _definition(green: float, amber: float) -> dict[str, Any]:
    return {
        "id": "margin",
        "type": "ratio",
        "numerator": "profit",
        "denominator": "revenue",
        "scale": 100.0,
        "thresholds": {"green": green, "amber": amber},
        "measures": {
            "profit": {"id": "profit", "source": "financials", "agg": "sum"},
            "revenue": {"id": "revenue", "source": "financials", "agg": "sum"},
        },
        "targets": [],
        "inputs": {},
    }


def _row(entity: str, kpi: str, value: float | None, status: str, cycle: str) -> dict[str, Any]:
    return {
        "kpi": kpi,
        "entity": entity,
        "cycle": cycle,
        "value": value,
        "status": status,
        "green": None,
        "amber": None,
        "unit": "%",
    }


def write_run(
    folder: Path,
    rows: list[tuple[str, str, float | None, str]],
    cycle: str = "FY2026-Q3",
    kpis: dict[str, dict[str, Any]] | None = None,
    sources: dict[str, dict[str, Any]] | None = None,
    version: str = "0.1.0",
) -> Path:
    """A run folder with the two files diff reads, in the documented shape."""
    folder.mkdir(parents=True)
    manifest = {
        "soekpi_version": version,
        "cycle": cycle,
        "cycle_start": "2026-07-01",
        "cycle_end": "2026-09-30",
        "fiscal_year": {"start_month": 1, "label": "end"},
        "language": "en",
        "generated_at": "2026-10-15T00:00:00Z",
        "kpis": kpis
        if kpis is not None
        else {"margin": {"sha256": "h1", "definition": _definition(10.0, 5.0)}},
        "sources": sources if sources is not None else {"financials": {"rows": 6, "sha256": "s1"}},
        "files": {},
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    records = [_row(e, k, v, s, cycle) for e, k, v, s in rows]
    (folder / "kpis.json").write_text(json.dumps(records, indent=2) + "\n")
    return folder


def test_identical_runs_have_no_differences(tmp_path: Path) -> None:
    rows = [("E1", "margin", 12.5, "green"), ("E2", "margin", None, "no_data")]
    a = write_run(tmp_path / "a", rows)
    b = write_run(tmp_path / "b", rows)
    result = runner.invoke(app, ["diff", str(a), str(b)])
    assert result.exit_code == 0, result.output
    assert "restatement of FY2026-Q3" in result.stdout
    assert "no differences" in result.stdout


def test_restatement_value_and_status_changes(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [("E1", "margin", 8.0, "amber"), ("E2", "margin", 20.0, "green")])
    b = write_run(
        tmp_path / "b", [("E1", "margin", 12.0, "green"), ("E2", "margin", 25.0, "green")]
    )
    d = diff_runs(a, b)
    assert d.kind == "restatement"
    assert [(r.entity, r.kpi) for r in d.rows] == [("E1", "margin"), ("E2", "margin")]
    e1, e2 = d.rows
    # E1: 8 → 12: +4, relative 4 / 8 = 0.5; status amber → green (listed first: status change)
    assert (e1.old_value, e1.new_value, e1.absolute_change, e1.relative_change) == (
        8.0,
        12.0,
        4.0,
        0.5,
    )
    assert (e1.old_status, e1.new_status, e1.status_changed) == ("amber", "green", True)
    # E2: 20 → 25: +5, relative 5 / 20 = 0.25
    assert (e2.absolute_change, e2.relative_change, e2.status_changed) == (5.0, 0.25, False)
    result = runner.invoke(app, ["diff", str(a), str(b)])
    assert result.exit_code == 1
    assert "amber → green" in result.stdout
    assert "+50.00%" in result.stdout
    assert "+25.00%" in result.stdout


def test_sorting_status_first_then_largest_relative_change(tmp_path: Path) -> None:
    a = write_run(
        tmp_path / "a",
        [
            ("E1", "margin", 10.0, "green"),  # 10 → 11: +10 %
            ("E2", "margin", 10.0, "green"),  # 10 → 15: +50 %
            ("E3", "margin", 10.0, "green"),  # 10 → 9: -10 %, status change
            ("E4", "margin", 0.0, "red"),  # 0 → 1: relative undefined (infinite)
        ],
    )
    b = write_run(
        tmp_path / "b",
        [
            ("E1", "margin", 11.0, "green"),
            ("E2", "margin", 15.0, "green"),
            ("E3", "margin", 9.0, "amber"),
            ("E4", "margin", 1.0, "red"),
        ],
    )
    d = diff_runs(a, b)
    assert [r.entity for r in d.rows] == ["E3", "E4", "E2", "E1"]
    assert d.rows[1].relative_change is None and d.rows[1].value_changed


def test_tolerance_is_relative_to_the_old_value(tmp_path: Path) -> None:
    # E1: 100 → 100.5 is a 0.5 % change; E2: 1 → 1.02 is 2 %; E3: null → 0 always counts
    a = write_run(
        tmp_path / "a",
        [
            ("E1", "margin", 100.0, "green"),
            ("E2", "margin", 1.0, "red"),
            ("E3", "margin", None, "no_data"),
        ],
    )
    b = write_run(
        tmp_path / "b",
        [
            ("E1", "margin", 100.5, "green"),
            ("E2", "margin", 1.02, "red"),
            ("E3", "margin", 0.0, "no_data"),
        ],
    )
    assert [r.entity for r in diff_runs(a, b).rows] == ["E3", "E2", "E1"]
    # tolerance 0.01: |100.5 - 100| = 0.5 ≤ 0.01 × 100 = 1 → ignored; |1.02 - 1| = 0.02 > 0.01 × 1
    within = diff_runs(a, b, tolerance=0.01)
    assert [r.entity for r in within.rows] == ["E3", "E2"]
    null_row = within.rows[0]
    assert (null_row.old_value, null_row.new_value, null_row.absolute_change) == (None, 0.0, None)
    # tolerance 0.05: 0.02 ≤ 0.05 × 1 → ignored too; the null → number change stays
    assert [r.entity for r in diff_runs(a, b, tolerance=0.05).rows] == ["E3"]
    result = runner.invoke(app, ["diff", str(a), str(b), "--tolerance", "-1"])
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --tolerance: must be a number ≥ 0 (a relative change), not -1.0\n"
    )


def test_rows_only_on_one_side(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [("E1", "margin", 1.0, "red"), ("E2", "margin", 2.0, "red")])
    b = write_run(tmp_path / "b", [("E1", "margin", 1.0, "red"), ("E3", "margin", 3.0, "red")])
    d = diff_runs(a, b)
    assert d.rows == []
    assert [(r.entity, r.value, r.side) for r in d.only_in_a] == [("E2", 2.0, "a")]
    assert [(r.entity, r.value, r.side) for r in d.only_in_b] == [("E3", 3.0, "b")]
    result = runner.invoke(app, ["diff", str(a), str(b)])
    assert result.exit_code == 1
    assert "only in A" in result.stdout and "only in B" in result.stdout


def test_definition_and_source_and_version_changes(tmp_path: Path) -> None:
    rows = [("E1", "margin", 8.0, "amber")]
    a = write_run(tmp_path / "a", rows)
    b = write_run(
        tmp_path / "b",
        [("E1", "margin", 8.0, "green")],
        kpis={"margin": {"sha256": "h2", "definition": _definition(7.5, 5.0)}},
        sources={
            "financials": {"rows": 7, "sha256": "s2"},
            "workforce": {"rows": 3, "sha256": "w"},
        },
        version="0.2.0",
    )
    d = diff_runs(a, b)
    (definition,) = d.definitions
    assert (definition.kpi, definition.change, definition.old_sha256, definition.new_sha256) == (
        "margin",
        "changed",
        "h1",
        "h2",
    )
    assert [(f.field, f.old, f.new) for f in definition.fields] == [("thresholds.green", 10.0, 7.5)]
    assert [(s.source, s.change, s.old_rows, s.new_rows) for s in d.sources] == [
        ("financials", "changed", 6, 7),
        ("workforce", "added", None, 3),
    ]
    assert d.version is not None and (d.version.old, d.version.new) == ("0.1.0", "0.2.0")
    result = runner.invoke(app, ["diff", str(a), str(b)])
    assert result.exit_code == 1
    assert "thresholds.green: 10 → 7.5" in result.stdout
    assert "soekpi version: 0.1.0 → 0.2.0" in result.stdout


def test_movement_compares_by_entity_and_kpi_across_cycles(tmp_path: Path) -> None:
    a = write_run(tmp_path / "q2", [("E1", "margin", 4.0, "red")], cycle="FY2026-Q2")
    b = write_run(tmp_path / "q3", [("E1", "margin", 6.0, "amber")], cycle="FY2026-Q3")
    d = diff_runs(a, b)
    assert d.kind == "movement"
    # 4 → 6: +2, relative 2 / 4 = 0.5
    assert [(r.entity, r.absolute_change, r.relative_change) for r in d.rows] == [("E1", 2.0, 0.5)]
    result = runner.invoke(app, ["diff", str(a), str(b)])
    assert "movement FY2026-Q2 → FY2026-Q3" in result.stdout


def test_entity_and_kpi_filters(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [("E1", "margin", 1.0, "red"), ("E2", "margin", 2.0, "red")])
    b = write_run(tmp_path / "b", [("E1", "margin", 5.0, "red"), ("E2", "margin", 3.0, "red")])
    assert [r.entity for r in diff_runs(a, b, entity="E2").rows] == ["E2"]
    result = runner.invoke(app, ["diff", str(a), str(b), "--entity", "E9"])
    assert result.exit_code == 2
    assert result.stderr == "error: --entity: 'E9' is in neither run\n"
    result = runner.invoke(app, ["diff", str(a), str(b), "--kpi", "nope"])
    assert result.exit_code == 2
    assert result.stderr == "error: --kpi: 'nope' is in neither run\n"


def test_json_format(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [("E1", "margin", 8.0, "amber"), ("E2", "margin", 1.0, "red")])
    b = write_run(tmp_path / "b", [("E1", "margin", 10.0, "green")])
    result = runner.invoke(app, ["diff", str(a), str(b), "--format", "json"])
    assert result.exit_code == 1
    doc = json.loads(result.stdout)
    assert doc["kind"] == "restatement"
    assert doc["differences"] is True
    assert doc["summary"] == {
        "value_changes": 1,
        "status_changes": 1,
        "only_in_a": 1,
        "only_in_b": 0,
        "definition_changes": 0,
        "source_changes": 0,
        "setting_changes": 0,
        "version_changed": False,
    }
    # 8 → 10: +2, relative 2 / 8 = 0.25
    assert doc["rows"] == [
        {
            "entity": "E1",
            "kpi": "margin",
            "old_value": 8.0,
            "new_value": 10.0,
            "absolute_change": 2.0,
            "relative_change": 0.25,
            "old_status": "amber",
            "new_status": "green",
            "value_changed": True,
            "status_changed": True,
            "unit": "%",
        }
    ]
    assert doc["only_in_a"] == [{"entity": "E2", "kpi": "margin", "value": 1.0, "status": "red"}]
    assert doc["a"] == {"run": str(a), "cycle": "FY2026-Q3"}


def test_markdown_format(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [("E1", "margin", 8.0, "amber")])
    b = write_run(
        tmp_path / "b",
        [("E1", "margin", 10.0, "green")],
        kpis={"margin": {"sha256": "h2", "definition": _definition(9.0, 5.0)}},
    )
    result = runner.invoke(app, ["diff", str(a), str(b), "--format", "md"])
    assert result.exit_code == 1
    md = result.stdout
    assert md.startswith("# soekpi diff\n")
    assert "| E1 | margin | 8 | 10 | +2 | +25.00% | amber → green |" in md
    assert "- `margin` changed\n  - `thresholds.green: 10 → 9`" in md


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (
            lambda d: None,
            "{d}: not a run folder: it does not exist (a run folder is written by 'soekpi report')",
        ),
        (
            lambda d: d.mkdir(),
            "{d}/manifest.json: not a run folder: manifest.json is missing (a run folder holds "
            "manifest.json and kpis.json, written by 'soekpi report')",
        ),
        (
            lambda d: (d.mkdir(), (d / "manifest.json").write_text("{\n  oops\n")),
            "{d}/manifest.json:2: not a run file: invalid JSON (Expecting property name enclosed "
            "in double quotes, column 3)",
        ),
    ],
)
def test_not_a_run_folder_is_exit_2(tmp_path: Path, make: Any, expected: str) -> None:
    good = write_run(tmp_path / "good", [("E1", "margin", 1.0, "red")])
    bad = tmp_path / "bad"
    make(bad)
    result = runner.invoke(app, ["diff", str(good), str(bad)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == f"error: {expected.format(d=bad)}\n"


def test_missing_kpis_json_names_the_file(tmp_path: Path) -> None:
    good = write_run(tmp_path / "good", [("E1", "margin", 1.0, "red")])
    bad = write_run(tmp_path / "bad", [("E1", "margin", 1.0, "red")])
    (bad / "kpis.json").unlink()
    result = runner.invoke(app, ["diff", str(bad), str(good)])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: {bad}/kpis.json: not a run folder: kpis.json is missing"
    )


def test_relative_change_from_zero_is_a_change_without_a_ratio(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", [("E1", "margin", 0.0, "red"), ("E2", "margin", 0.0, "red")])
    b = write_run(tmp_path / "b", [("E1", "margin", 0.0, "red"), ("E2", "margin", -3.0, "red")])
    # a huge tolerance still lets 0 → -3 through: nothing is "relative to 0"
    (row,) = diff_runs(a, b, tolerance=1e9).rows
    assert (row.entity, row.absolute_change, row.relative_change) == ("E2", -3.0, None)


def test_kpi_filter_narrows_definitions_and_sources_to_what_the_kpi_uses(tmp_path: Path) -> None:
    def kpis(margin_green: float, staff_hash: str) -> dict[str, dict[str, Any]]:
        staff = {"id": "staff", "measures": {"heads": {"source": "workforce"}}, "inputs": {}}
        score = {"id": "score", "measures": {}, "inputs": {"margin": "x"}}
        return {
            "margin": {"sha256": f"m{margin_green}", "definition": _definition(margin_green, 5.0)},
            "staff": {"sha256": staff_hash, "definition": staff},
            "score": {"sha256": "s", "definition": score},
        }

    rows = [("E1", "margin", 1.0, "red"), ("E1", "staff", 2.0, "red"), ("E1", "score", 3.0, "red")]
    a = write_run(
        tmp_path / "a",
        rows,
        kpis=kpis(10.0, "w1"),
        sources={
            "financials": {"rows": 1, "sha256": "f1"},
            "workforce": {"rows": 1, "sha256": "w1"},
        },
    )
    b = write_run(
        tmp_path / "b",
        rows,
        kpis=kpis(9.0, "w2"),
        sources={
            "financials": {"rows": 2, "sha256": "f2"},
            "workforce": {"rows": 2, "sha256": "w2"},
        },
    )
    everything = diff_runs(a, b)
    assert [d.kpi for d in everything.definitions] == ["margin", "staff"]
    assert [s.source for s in everything.sources] == ["financials", "workforce"]
    # score is computed from margin, which reads financials: staff and workforce drop out
    narrowed = diff_runs(a, b, kpi="score")
    assert [d.kpi for d in narrowed.definitions] == ["margin"]
    assert [s.source for s in narrowed.sources] == ["financials"]
    staff_only = diff_runs(a, b, kpi="staff")
    assert [d.kpi for d in staff_only.definitions] == ["staff"]
    assert [s.source for s in staff_only.sources] == ["workforce"]
