"""Every cycle is computed with the definitions in force for it (issue 17, revisions).

The workspace is tests/revisions_data.py: G's quarterly revenue is 4500 before FY2026-Q3 and
5400 from it (services count); its average headcount is 15 without contractors and 20 with
them (from FY2026). Unit A alone: revenue 2700 (3000 with services), headcount 10 (15).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from helpers import run
from revisions_data import CATALOGUE, revisions_workspace

from soekpi.base.calendar import parse_cycle
from soekpi.catalogue import load_catalogue
from soekpi.engine import compute, kpi_result, on_warehouse, read_measures
from soekpi.workspace import Workspace, read_workspace


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return read_workspace(revisions_workspace(Path(tmp_path_factory.mktemp("rev")) / "ws"))


def values(ws: Workspace, cycles: list[str], kpi: str = "labour_productivity") -> dict:
    result = compute(ws, load_catalogue(ws), [parse_cycle(c) for c in cycles])
    rows = result.values.filter(result.values["kpi"] == kpi).to_dicts()
    return {(r["entity"], r["cycle"]): (r["value"], r["status"]) for r in rows}


def test_each_cycle_uses_the_definition_in_force_at_its_start(ws: Workspace) -> None:
    got = values(ws, ["FY2025-Q4", "FY2026-Q1", "FY2026-Q2", "FY2026-Q3"])
    # green >= 250, amber >= 200
    assert got[("G", "FY2025-Q4")] == (4500 / 15, "green")  # 300: the original definition
    assert got[("G", "FY2026-Q1")] == (4500 / 20, "amber")  # 225: contractors from FY2026
    assert got[("G", "FY2026-Q2")] == (4500 / 20, "amber")
    assert got[("G", "FY2026-Q3")] == (5400 / 20, "green")  # 270: services from FY2026-Q3
    assert got[("A", "FY2025-Q4")] == (2700 / 10, "green")  # 270
    assert got[("A", "FY2026-Q1")] == (2700 / 15, "red")  # 180
    assert got[("A", "FY2026-Q3")] == (3000 / 15, "amber")  # 200


def test_halves_and_months_follow_the_same_rule(ws: Workspace) -> None:
    # FY2026-H1 starts on the FY2026 revision's first day: contractors count, services do
    # not: 6 × 1500 = 9000 over 20.
    assert values(ws, ["FY2026-H1"])[("G", "FY2026-H1")] == (9000 / 20, "green")
    # FY2026-M07 starts with FY2026-Q3: both revisions, 1800 over 20 (red below 200).
    assert values(ws, ["FY2026-M07"])[("G", "FY2026-M07")] == (1800 / 20, "red")
    # FY2025-M12 is before both: 1500 over 15.
    assert values(ws, ["FY2025-M12"])[("G", "FY2025-M12")] == (1500 / 15, "red")


def test_cycles_asked_together_equal_cycles_asked_alone(ws: Workspace) -> None:
    cycles = ["FY2025-Q4", "FY2026-Q1", "FY2026-Q3"]
    together = compute(ws, load_catalogue(ws), [parse_cycle(c) for c in cycles])
    for cycle in cycles:
        alone = compute(ws, load_catalogue(ws), [parse_cycle(cycle)])
        mine = together.values.filter(together.values["cycle"] == cycle)
        assert mine.to_dicts() == alone.values.to_dicts()
    # the usual order: entity, kpi, cycle
    keys = [(r["entity"], r["kpi"], r["cycle"]) for r in together.values.to_dicts()]
    assert keys == sorted(keys)
    assert [c.name for c in together.cycles] == cycles


def test_growth_compares_like_with_like_across_a_boundary(ws: Workspace) -> None:
    got = values(ws, ["FY2026-Q1", "FY2026-Q3"], kpi="productivity_growth")
    # FY2026-Q1 against FY2025-Q4 computed under FY2026's definitions: 225 → 225, 0 %
    # (under its own definitions FY2025-Q4 is 300, which would read as -25 %).
    assert got[("G", "FY2026-Q1")] == (0.0, "untracked")
    # FY2026-Q3 against FY2026-Q2 with services counted in both: 270 → 270, 0 % (+20 %
    # if FY2026-Q2 kept its own revenue of 4500).
    assert got[("G", "FY2026-Q3")] == (0.0, "untracked")


def test_a_catalogue_without_revisions_is_read_in_one_pass(tmp_path: Path) -> None:
    text = re.sub(r"    revisions:\n(?: {6}.*\n)+", "", CATALOGUE)
    assert "revisions" not in text
    ws = read_workspace(revisions_workspace(tmp_path / "ws", text))
    catalogue = load_catalogue(ws)
    assert not catalogue.has_revisions
    assert catalogue.for_cycle(parse_cycle("FY2026-Q3"), ws.fiscal) is catalogue
    read = on_warehouse(
        ws,
        lambda con, folder: read_measures(
            con, folder, ws, catalogue, [parse_cycle("FY2025-Q4"), parse_cycle("FY2026-Q3")]
        ),
        lambda read: (len(read.passes), kpi_result(read, catalogue)),
    )
    assert read[0] == 1
    rows = {
        (r["entity"], r["cycle"]): r["value"]
        for r in read[1].values.to_dicts()
        if r["kpi"] == "labour_productivity"
    }
    assert rows[("G", "FY2026-Q3")] == 4500 / 15  # the original definition throughout


def test_the_revisions_in_force_are_cached_and_grouped(ws: Workspace) -> None:
    catalogue = load_catalogue(ws)
    q1, q2, q3 = (parse_cycle(f"FY2026-Q{i}") for i in (1, 2, 3))
    assert catalogue.for_cycle(q1, ws.fiscal) is catalogue.for_cycle(q2, ws.fiscal)
    assert catalogue.for_cycle(q3, ws.fiscal) is not catalogue.for_cycle(q2, ws.fiscal)
    read = on_warehouse(
        ws,
        lambda con, folder: read_measures(
            con, folder, ws, catalogue, [parse_cycle("FY2025-Q4"), q1, q2, q3]
        ),
        lambda read: [[c.name for c in p.asked] for p in read.passes],
    )
    assert read == [["FY2025-Q4"], ["FY2026-Q1", "FY2026-Q2"], ["FY2026-Q3"]]


def test_compute_json_of_a_cycle_after_the_boundary(ws: Workspace) -> None:
    code, out, _ = run(
        ws.root,
        "compute",
        "--cycle",
        "FY2026-Q1",
        "--format",
        "json",
        "--entity",
        "G",
        "--kpi",
        "labour_productivity",
    )
    assert code == 0
    assert json.loads(out) == [
        {
            "kpi": "labour_productivity",
            "entity": "G",
            "cycle": "FY2026-Q1",
            "value": 225.0,
            "status": "amber",
            "green": 250.0,
            "amber": 200.0,
            "unit": "CNY/person",
        }
    ]
