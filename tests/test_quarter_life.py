"""A quarter's life as one story (issue 17): load, report, next load, close, late data refused,
edit, restate an open quarter, reopen with a reason, restate, verify, report again, close again.

Every exit code and every file on the way is asserted. The workspace: G (group) ← A, B; a
monthly ledger; KPI ``total_revenue`` (sum of revenue in the cycle, green ≥ 1000, amber ≥ 500).
Fiscal year = calendar year. Revenue a month: A 100, B 200, so a quarter is A 300, B 600 and
G 900 — amber (900 < 1000, ≥ 500).
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import (
    ENTITIES_SOURCE,
    catalogue_workspace,
    query,
    run,
    tree_digest,
    warehouse_content,
    write,
)

CATALOGUE = (
    ENTITIES_SOURCE
    + """\
  financials:
    time_column: period
    cadence: monthly
    entity_column: entity_id
    primary_key: [entity_id, period, account]
    columns:
      entity_id: {type: varchar, required: true, references: entities.entity_id}
      period:    {type: date, required: true}
      account:   {type: varchar, required: true, allowed: [revenue]}
      amount:    {type: "decimal(18,2)", required: true}
measures:
  revenue: {source: financials, agg: sum, expr: amount, filter: "account = 'revenue'"}
kpis:
  total_revenue:
    name: Revenue
    description: Revenue of the cycle.
    unit: CNY
    type: simple
    measure: revenue
    direction: higher_is_better
    thresholds: {green: 1000, amber: 500}
"""
)
ENTITIES = "entity_id,name,parent_id\nG,Group,\nA,Unit A,G\nB,Unit B,G\n"
EPOCH = {"SOURCE_DATE_EPOCH": "1790000000"}


def ledger(months: range, a: int = 100, b: int = 200) -> str:
    rows = [f"{e},2026-{m:02d}-01,revenue,{v}.00" for m in months for e, v in (("A", a), ("B", b))]
    return "entity_id,period,account,amount\n" + "\n".join(rows) + "\n"


def values(ws: Path, cycle: str) -> dict[str, tuple[float, str]]:
    code, out, err = run(ws, "compute", "--cycle", cycle, "--format", "json", env=EPOCH)
    assert code == 0, err
    return {r["entity"]: (r["value"], r["status"]) for r in json.loads(out)}


def test_a_quarters_life(tmp_path: Path) -> None:
    ws = catalogue_workspace(tmp_path / "ws", CATALOGUE)
    data = tmp_path / "in"

    # 1. Load Q1 and report it.
    assert run(ws, "load", "entities", write(data / "entities.csv", ENTITIES))[0] == 0
    assert run(ws, "load", "financials", write(data / "q1.csv", ledger(range(1, 4))))[0] == 0
    assert values(ws, "FY2026-Q1") == {
        "A": (300.0, "red"),
        "B": (600.0, "amber"),
        "G": (900.0, "amber"),
    }
    code, out, _ = run(ws, "report", "--cycle", "FY2026-Q1", env=EPOCH)
    assert code == 0
    q1 = Path(out.strip())
    assert q1 == (ws / "out" / "FY2026-Q1").absolute()
    names = {p.name for p in q1.iterdir()}
    assert {"kpis.json", "kpis.csv", "manifest.json", "definitions.json"} <= names
    manifest = json.loads((q1 / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["as_of_load"] == 2  # entities (1), then the Q1 ledger (2)
    assert manifest["sources"]["financials"]["rows"] == 6  # 3 months × 2 entities
    published = tree_digest(q1)

    # 2. The next quarter's load: the archived run still verifies, and is still current.
    assert run(ws, "load", "financials", write(data / "q2.csv", ledger(range(4, 7))))[0] == 0
    assert run(ws, "verify", q1)[0] == 0
    assert run(ws, "verify", q1, "--current")[0] == 0

    # 3. Close Q1: late data for it is refused whole, nothing changes.
    assert run(ws, "close", "FY2026-Q1")[0] == 0
    before = warehouse_content(ws)
    late = write(data / "late.csv", "entity_id,period,account,amount\nA,2026-02-01,revenue,5.00\n")
    code, _, err = run(ws, "load", "financials", late, "--mode", "replace")
    assert code == 2
    assert "FY2026-Q1" in err
    assert warehouse_content(ws) == before

    # 4. The catalogue changes (green from 1000 down to 850): closed Q1 keeps its pinned
    #    definitions and says so (G 900 stays amber); open Q2 takes the edit (G 900: green).
    write(ws / "metrics" / "catalogue.yaml", CATALOGUE.replace("green: 1000", "green: 850"))
    code, out, err = run(ws, "compute", "--cycle", "FY2026-Q1", "--format", "json")
    assert code == 0
    assert {r["entity"]: r["status"] for r in json.loads(out)}["G"] == "amber"  # pinned 1000
    assert "FY2026-Q1 is closed: computed with the definitions pinned on" in err
    assert values(ws, "FY2026-Q2")["G"] == (900.0, "green")  # 900 ≥ 850 today
    code, _, err = run(ws, "report", "--cycle", "FY2026-Q1", "--force", env=EPOCH)
    assert code == 2
    assert "soekpi close FY2026-Q1 --reopen --reason" in err
    assert tree_digest(q1) == published

    # 5. Restate a month of the open Q2: A's May becomes 130; the old rows are kept.
    may = write(data / "may.csv", "entity_id,period,account,amount\nA,2026-05-01,revenue,130.00\n")
    assert run(ws, "load", "financials", may, "--mode", "replace")[0] == 0
    assert values(ws, "FY2026-Q2")["A"] == (330.0, "red")  # 100 + 130 + 100
    assert values(ws, "FY2026-Q2")["G"] == (930.0, "green")
    code, out, _ = run(ws, "loads", "--format", "json")
    assert code == 0
    restated = [r for r in json.loads(out) if r["restated"]]
    assert [(r["id"], r["mode"], r["restated"]) for r in restated] == [(4, "replace", 1)]
    assert query(ws, "select count(*) from _history_financials") == [(1,)]

    # 6. Reopen Q1 with a reason, restate January for A (100 → 160), report it again.
    assert run(ws, "close", "FY2026-Q1", "--reopen")[0] == 2  # a reason is required
    assert run(ws, "close", "FY2026-Q1", "--reopen", "--reason", "ERP fix of January")[0] == 0
    jan = write(data / "jan.csv", "entity_id,period,account,amount\nA,2026-01-01,revenue,160.00\n")
    assert run(ws, "load", "financials", jan, "--mode", "replace")[0] == 0
    assert values(ws, "FY2026-Q1")["A"] == (360.0, "red")  # 160 + 100 + 100
    assert values(ws, "FY2026-Q1")["G"] == (960.0, "green")  # 360 + 600, green at 850 now

    # The published run is still reproducible as of its load, but no longer current.
    assert run(ws, "verify", q1)[0] == 0
    code, out, _ = run(ws, "verify", q1, "--current")
    assert code == 1

    code, out, _ = run(ws, "report", "--cycle", "FY2026-Q1", "--force", env=EPOCH)
    assert code == 0
    assert tree_digest(q1.with_name("FY2026-Q1.prev")) == published  # the old run, whole
    rerun = json.loads((q1 / "manifest.json").read_text(encoding="utf-8"))
    assert rerun["as_of_load"] == 5

    # 7. Close again: a second pin; the audit log keeps the close, reopen and close.
    assert run(ws, "close", "FY2026-Q1")[0] == 0
    log = query(ws, "select action, cycle, reason from _audit_log order by id")
    assert log == [
        ("close", "FY2026-Q1", None),
        ("reopen", "FY2026-Q1", "ERP fix of January"),
        ("close", "FY2026-Q1", None),
    ]
    assert query(ws, "select count(*) from _pins where cycle = 'FY2026-Q1'") == [(2,)]
    assert run(ws, "verify", q1)[0] == 0
