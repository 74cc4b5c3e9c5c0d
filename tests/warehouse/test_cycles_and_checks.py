"""`soekpi cycles` (coverage, latest), `soekpi check` data findings, source fingerprints."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from helpers import Invoke, write
from wh_data import HEADER

from soekpi.base.calendar import Cycle, FiscalSettings
from soekpi.catalogue import load_catalogue
from soekpi.warehouse.connection import open_warehouse
from soekpi.warehouse.coverage import latest_quarter, quarter_coverage, source_coverage
from soekpi.warehouse.hashing import source_fingerprints
from soekpi.workspace import read_workspace


def _ledger(months: dict[str, list[int]]) -> str:
    """Revenue rows of 2025 for each entity and month number."""
    return HEADER + "".join(
        f"{e},2025-{m:02d}-01,revenue,1\n" for e, ms in sorted(months.items()) for m in ms
    )


def _staff(months: dict[str, list[int]]) -> str:
    return "entity_id,period,headcount\n" + "".join(
        f"{e},2025-{m:02d}-01,5\n" for e, ms in sorted(months.items()) for m in ms
    )


def test_cycles_shows_coverage_and_latest(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    # ledger: A Jan..Jun; B from Feb (its first return), missing May
    ledger = _ledger({"A": [1, 2, 3, 4, 5, 6], "B": [2, 3, 4, 6]})
    assert soekpi("load", "ledger", write(tmp_path / "l.csv", ledger)).exit_code == 0
    # staff: A and B Jan..Mar only
    staff = _staff({"A": [1, 2, 3], "B": [1, 2, 3]})
    assert soekpi("load", "staff", write(tmp_path / "s.csv", staff)).exit_code == 0
    events = "event_id,entity_id,occurred_at,severity\ne1,A,2025-04-03 08:00:00,2\n"
    assert soekpi("load", "events", write(tmp_path / "e.csv", events)).exit_code == 0

    ws = read_workspace(with_entities)
    catalogue = load_catalogue(ws)
    with open_warehouse(ws, write=False) as con:
        quarters = quarter_coverage(con, catalogue, ws.fiscal)
        # staff has no row in June, so Q2 is not complete: the latest is Q1
        assert latest_quarter(con, catalogue, ws.fiscal) == Cycle(2025, "Q", 1)
        frame = source_coverage(con, catalogue, ws.fiscal)
    assert frame.columns == ["source", "entity", "month"]
    # 1 event month + 10 ledger months + 6 staff months
    assert frame.height == 1 + 10 + 6
    assert frame.row(0) == ("events", "A", date(2025, 4, 1))

    assert [q.cycle.name for q in quarters] == ["FY2025-Q1", "FY2025-Q2"]
    q1, q2 = ({s.source: s for s in q.sources} for q in quarters)
    # Q1 ledger: A and B expected (B from Feb), both file every month they owe: 2/2, 3/3
    assert (q1["ledger"].entities_reporting, q1["ledger"].entities_expected) == (2, 2)
    assert q1["ledger"].months_complete == 3
    # Q2 ledger: B misses May: 1 of 2 entities reporting; April and June complete: 2/3
    assert (q2["ledger"].entities_reporting, q2["ledger"].entities_expected) == (1, 2)
    assert q2["ledger"].months_complete == 2
    # Q2 staff: nobody filed: 0 of 2, 0 months complete; events: 1 row
    assert (q2["staff"].entities_reporting, q2["staff"].months_complete) == (0, 0)
    assert q2["events"].rows == 1 and q2["events"].entities_expected is None

    result = soekpi("cycles", "--latest")
    assert (result.exit_code, result.stdout) == (0, "FY2025-Q1\n")
    result = soekpi("cycles")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    row_q1 = next(line for line in lines if "FY2025-Q1" in line)
    row_q2 = next(line for line in lines if "FY2025-Q2" in line)
    assert "2025-01-01..2025-03-31" in row_q1
    assert "2/2 · 3/3 mo" in row_q1 and "open" in row_q1
    assert "1/2 · 2/3 mo" in row_q2 and "0/2 · 0/3 mo" in row_q2 and "1 rows" in row_q2


def test_cycles_marks_closed_quarters(with_entities: Path, soekpi: Invoke, tmp_path: Path) -> None:
    import duckdb

    ledger = _ledger({"A": [1, 2, 3, 4]})
    assert soekpi("load", "ledger", write(tmp_path / "l.csv", ledger)).exit_code == 0
    con = duckdb.connect(str(with_entities / "data" / "warehouse.duckdb"))
    con.execute(
        "insert into _closed_cycles values ('FY2025-Q1', '2025-01-01', '2025-03-31', 'x', "
        "null, null), ('FY2025-M04', '2025-04-01', '2025-04-30', 'x', null, null)"
    )
    con.close()
    lines = soekpi("cycles").stdout.splitlines()
    assert "closed" in next(line for line in lines if "FY2025-Q1" in line)
    assert "partly: FY2025-M04" in next(line for line in lines if "FY2025-Q2" in line)


def test_no_complete_quarter_and_no_warehouse(workspace: Path, soekpi: Invoke) -> None:
    result = soekpi("cycles", "--latest")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: no warehouse yet: load data with 'soekpi load' or create a demo with "
        "'soekpi init DIR --demo'\n"
    )


def test_latest_with_fiscal_year_starting_in_april(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    ledger = _ledger({"A": [1, 2, 3, 4, 5]})
    staff = _staff({"A": [1, 2, 3, 4, 5]})
    assert soekpi("load", "ledger", write(tmp_path / "l.csv", ledger)).exit_code == 0
    assert soekpi("load", "staff", write(tmp_path / "s.csv", staff)).exit_code == 0
    ws = read_workspace(with_entities)
    catalogue = load_catalogue(ws)
    with open_warehouse(ws, write=False) as con:
        # April start, label end: Jan–Mar 2025 is FY2025-Q4; April–June (May last) incomplete
        assert latest_quarter(con, catalogue, FiscalSettings(4, "end")) == Cycle(2025, "Q", 4)
        # calendar year: Q1 ends in March
        assert latest_quarter(con, catalogue, FiscalSettings(1, "end")) == Cycle(2025, "Q", 1)


def test_check_reports_orphans_gaps_and_rule_breaks(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    ledger = _ledger({"A": [1, 3], "B": [1, 2, 3]})  # A misses February
    assert soekpi("load", "ledger", write(tmp_path / "l.csv", ledger)).exit_code == 0
    assert soekpi("check").exit_code == 1
    # B disappears from the entities (replace upserts by key, so delete it by hand)
    import duckdb

    con = duckdb.connect(str(with_entities / "data" / "warehouse.duckdb"))
    con.execute("delete from entities where entity_id = 'B'")
    con.close()
    # then the contract narrows: revenue is no longer an allowed account
    catalogue = with_entities / "metrics" / "catalogue.yaml"
    catalogue.write_text(
        catalogue.read_text().replace("allowed: [revenue, cost]", "allowed: [income, cost]")
    )
    result = soekpi("check")
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        # in column order: B's 3 rows are orphans; 5 ledger rows, every one a revenue row
        "data/warehouse.duckdb: source 'ledger': 3 orphan row(s): entity_id not in "
        "entities.entity_id (e.g. 'B')",
        "data/warehouse.duckdb: source 'ledger': 5 row(s) where account is not one of "
        "income, cost (e.g. 'revenue')",
        "data/warehouse.duckdb: source 'ledger': entity 'A' has no rows for 1 month(s) "
        "between its first and last return: 2025-02",
    ]


def test_check_reports_schema_drift(with_entities: Path, soekpi: Invoke, tmp_path: Path) -> None:
    catalogue = with_entities / "metrics" / "catalogue.yaml"
    catalogue.write_text(
        catalogue.read_text()
        .replace("headcount: {type: integer,", "headcount: {type: double,")
        .replace("      ratio:     {type: double, max: 1}\n", "      fte: {type: double}\n")
    )
    result = soekpi("check")
    assert result.exit_code == 1
    prefix = "data/warehouse.duckdb: source 'staff': table staff"
    assert result.stdout.splitlines() == [
        f"{prefix}: column 'headcount' is INTEGER, the contract declares DOUBLE",
        f"{prefix} has no column 'fte' (the contract declares it double)",
        f"{prefix} has column 'ratio' that the contract does not declare",
        f"{prefix} cannot take its contract as it stands; rebuild the table (export, drop, "
        "reload) or revert the contract change",
    ]
    # a load into the drifted table is refused whole
    staff = write(tmp_path / "s.csv", "entity_id,period,headcount\nA,2025-01-01,1\n")
    result = soekpi("load", "staff", staff)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: source 'staff': table staff: column 'headcount' is INTEGER, the contract "
        "declares DOUBLE; "
    )


def test_fingerprints_follow_content_not_order(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    rows = ["A,2025-01-01,revenue,1\n", "B,2025-01-01,revenue,2\n", "A,2025-02-01,cost,3\n"]
    ws = read_workspace(with_entities)
    catalogue = load_catalogue(ws)

    def prints() -> dict[str, dict[str, object]]:
        with open_warehouse(ws, write=False) as con:
            return source_fingerprints(con, catalogue)

    empty = prints()
    assert sorted(empty) == ["entities", "events", "ledger", "staff", "things"]  # no view
    assert empty["ledger"]["rows"] == 0
    assert (
        soekpi("load", "ledger", write(tmp_path / "a.csv", HEADER + "".join(rows))).exit_code == 0
    )
    forward = prints()
    assert forward["ledger"]["rows"] == 3 and forward["ledger"] != empty["ledger"]
    assert forward["entities"] == empty["entities"]
    # the same rows in another order, loaded afresh: the same fingerprint
    backward = HEADER + "".join(reversed(rows))
    assert (
        soekpi("load", "ledger", write(tmp_path / "b.csv", backward), "--mode", "replace").exit_code
        == 0
    )
    assert prints() == forward
    # one cent more: a different fingerprint
    changed = HEADER + rows[0] + rows[1] + "A,2025-02-01,cost,3.01\n"
    assert (
        soekpi("load", "ledger", write(tmp_path / "c.csv", changed), "--mode", "replace").exit_code
        == 0
    )
    assert prints()["ledger"]["sha256"] != forward["ledger"]["sha256"]
