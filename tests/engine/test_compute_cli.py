"""``soekpi compute`` (SPEC §5): json, csv and table output, filters and errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import run

from soekpi.catalogue.model import Catalogue
from soekpi.workspace import Workspace

G_Q1_REVENUE = (100 + 120 + 80) + (40 + 30 + 30) + (7 + 3) + (60 + 60 + 60)
S1_Q1_REVENUE = (100 + 120 + 80) + (40 + 30 + 30) + (7 + 3)


def _run(ws: Workspace, *args: str) -> tuple[int, str, str]:
    return run(ws.root, "compute", *args, env={"NO_COLOR": "1"})


def test_json_rows_keys_and_order(golden: tuple[Workspace, Catalogue]) -> None:
    ws, _ = golden
    code, out, _ = _run(
        ws, "--cycle", "FY2026-Q1", "--kpi", "revenue", "--kpi", "cost", "--format", "json"
    )
    assert code == 0
    rows = json.loads(out)
    assert [list(r) for r in rows] == [
        ["kpi", "entity", "cycle", "value", "status", "green", "amber", "unit"]
    ] * len(rows)
    assert [(r["entity"], r["kpi"]) for r in rows] == [
        (e, k) for e in ("G", "S1", "S2", "U11", "U12", "U21") for k in ("cost", "revenue")
    ]
    assert rows[1] == {
        "kpi": "revenue",
        "entity": "G",
        "cycle": "FY2026-Q1",
        "value": G_Q1_REVENUE,
        "status": "green",
        "green": 400,
        "amber": 200,
        "unit": "CNY",
    }
    assert out.startswith('[\n  {\n    "kpi": "cost",')
    assert out.endswith("]\n")


def test_json_null_value(golden: tuple[Workspace, Catalogue]) -> None:
    ws, _ = golden
    code, out, _ = _run(ws, "-c", "FY2026-Q2", "-e", "G", "-k", "cost", "-f", "json")
    assert code == 0
    assert json.loads(out) == [
        {
            "kpi": "cost",
            "entity": "G",
            "cycle": "FY2026-Q2",
            "value": None,
            "status": "no_data",
            "green": 100,
            "amber": 200,
            "unit": "u",
        }
    ]


def test_csv_has_the_same_columns(golden: tuple[Workspace, Catalogue]) -> None:
    ws, _ = golden
    code, out, _ = _run(ws, "--cycle", "FY2026-Q1", "--entity", "S1", "--kpi", "revenue",
                        "--kpi", "customers", "--format", "csv")  # fmt: skip
    assert code == 0
    assert out == (
        "kpi,entity,cycle,value,status,green,amber,unit\n"
        "customers,S1,FY2026-Q1,2.0,untracked,,,u\n"
        f"revenue,S1,FY2026-Q1,{float(S1_Q1_REVENUE)},green,400.0,200.0,CNY\n"
    )


def test_table_groups_by_entity_without_colour_off_a_terminal(
    golden: tuple[Workspace, Catalogue],
) -> None:
    ws, _ = golden
    code, out, _ = _run(ws, "--cycle", "FY2026-Q1", "--kpi", "revenue")
    assert code == 0
    assert "\x1b[" not in out
    lines = [line for line in out.splitlines() if "revenue" in line]
    assert len(lines) == 6
    assert "G Group" in lines[0] and "590" in lines[0] and "green" in lines[0]
    assert "S1 Sub one" in lines[1]  # hierarchy order: S1 then its units, then S2
    assert "U11 Unit 11" in lines[2]
    assert "S2 Sub two" in lines[4]


def test_latest_keyword(golden: tuple[Workspace, Catalogue]) -> None:
    ws, _ = golden
    code, out, _ = _run(ws, "--cycle", "latest", "-e", "U21", "-k", "revenue", "-f", "csv")
    assert code == 0
    assert (
        out.splitlines()[1] == f"revenue,U21,FY2026-Q2,{float(70 + 70)},incomplete,180.0,100.0,CNY"
    )


def test_errors_exit_2_with_one_line(golden: tuple[Workspace, Catalogue]) -> None:
    ws, _ = golden
    code, out, err = _run(ws, "--cycle", "FY2026-Q9")
    assert (code, out) == (2, "")
    assert err == (
        "error: 'FY2026-Q9' is not a fiscal cycle (accepted forms: FY2026, FY2026-H1, "
        "FY2026-Q3, FY2026-M07, latest or previous)\n"
    )
    code, out, err = _run(ws, "--cycle", "FY2026-Q1", "--entity", "S11")
    assert (code, out) == (2, "")
    assert err == "error: --entity: 'S11' is not an entity of the hierarchy (did you mean 'S1'?)\n"
    code, _, err = _run(ws, "--cycle", "FY2026-Q1", "--format", "xml")
    assert code == 2
    assert err == "error: --format: 'xml' is not one of table, json, csv\n"


def test_a_reader_that_stops_early_gets_one_line_and_exit_3(
    golden: tuple[Workspace, Catalogue],
) -> None:
    # `soekpi compute -f json | head`: the reader is gone before the output is complete.
    ws, _ = golden
    args = ["-w", str(ws.root), "compute", "-c", "FY2026-Q1", "-f", "json"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "soekpi", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # before soekpi has started: its first write finds no reader
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 3
    assert err == "error: stdout was closed before the output was complete (broken pipe)\n"
