"""Data as of any load (issue 17 item 1): one id per load, the rows a replace supersedes kept
in history, ``sandbox(ws, as_of=...)`` and ``compute --as-of`` reading them back, the
``loads`` command, and a warehouse written before load ids migrating on its next load.

The catalogue: entities G ← A, B; ``ledger`` (monthly, keyed by entity, period, account;
revenue is the KPI ``total_revenue``); ``readings`` (no key, a time column: replace restates
(entity, month) pairs); ``things`` (a key, no time column: replace upserts by key). Fiscal
year = calendar year, so FY2026-Q1 is January–March 2026.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from helpers import (
    ENTITIES_SOURCE,
    catalogue_workspace,
    query,
    run,
    warehouse,
    warehouse_content,
    write,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from soekpi.base.errors import InputError
from soekpi.catalogue import load_catalogue
from soekpi.warehouse.ledger import last_load_id, list_loads
from soekpi.warehouse.load import load_files
from soekpi.warehouse.sandbox import sandbox
from soekpi.workspace import read_workspace

CATALOGUE = (
    ENTITIES_SOURCE
    + """\
  ledger:
    time_column: period
    cadence: monthly
    entity_column: entity_id
    primary_key: [entity_id, period, account]
    columns:
      entity_id: {type: varchar, required: true, references: entities.entity_id}
      period:    {type: date, required: true}
      account:   {type: varchar, required: true, allowed: [revenue, cost]}
      amount:    {type: "decimal(18,2)", required: true}
  readings:
    time_column: period
    entity_column: entity_id
    columns:
      entity_id: {type: varchar, required: true}
      period:    {type: date, required: true}
      value:     {type: integer}
      seq:       {type: integer}
  things:
    primary_key: [thing_id]
    columns:
      thing_id: {type: varchar, required: true}
      weight:   {type: integer}
      seq:      {type: integer}

measures:
  revenue: {source: ledger, agg: sum, expr: amount, filter: "account = 'revenue'"}

kpis:
  total_revenue:
    name: Revenue
    description: Revenue of the cycle.
    category: productivity
    unit: CNY
    type: simple
    measure: revenue
    direction: higher_is_better
    thresholds: {green: 1000, amber: 500}
"""
)

ENTITIES = "entity_id,name,parent_id\nG,Group,\nA,Unit A,G\nB,Unit B,G\n"
HEADER = "entity_id,period,account,amount\n"
# FY2026-Q1: A revenue 100 a month, B 200 a month.
Q1 = HEADER + "".join(
    f"{e},2026-{m:02d}-01,revenue,{amount}\n"
    for m in (1, 2, 3)
    for e, amount in (("A", 100), ("B", 200))
)
# A's February and March restated: 100 → 250 and 100 → 400.
RESTATEMENT = HEADER + "A,2026-02-01,revenue,250\nA,2026-03-01,revenue,400\n"


@pytest.fixture
def workspace_catalogue() -> str:
    return CATALOGUE


@pytest.fixture
def restated(workspace: Path, tmp_path: Path) -> Path:
    """Load 1: entities; load 2: the Q1 ledger in two files; load 3: A's February and March
    restated (replace)."""
    inputs = tmp_path / "in"
    assert run(workspace, "load", "entities", write(inputs / "entities.csv", ENTITIES))[0] == 0
    jan = HEADER + "".join(line + "\n" for line in Q1.splitlines()[1:3])
    rest = HEADER + "".join(line + "\n" for line in Q1.splitlines()[3:])
    code, _, err = run(
        workspace,
        "load",
        "ledger",
        write(inputs / "jan.csv", jan),
        write(inputs / "feb_mar.csv", rest),
    )
    assert code == 0, err
    code, _, err = run(
        workspace, "load", "ledger", write(inputs / "fix.csv", RESTATEMENT), "--mode", "replace"
    )
    assert code == 0, err
    return workspace


def _revenue(workspace: Path, *args: str) -> dict[str, float]:
    code, out, err = run(
        workspace,
        "compute",
        "--cycle",
        "FY2026-Q1",
        "--kpi",
        "total_revenue",
        "--format",
        "json",
        *args,
    )
    assert code == 0, err
    return {r["entity"]: r["value"] for r in json.loads(out)}


# --------------------------------------------------------------------- compute --as-of


def test_compute_as_of_gives_the_numbers_before_the_restatement(restated: Path) -> None:
    # before: A 100 + 100 + 100 = 300, B 3 × 200 = 600, G = 900
    assert _revenue(restated, "--as-of", "2") == {"A": 300.0, "B": 600.0, "G": 900.0}
    # after load 3: A 100 + 250 + 400 = 750, G 750 + 600 = 1350; today's data is the same
    assert _revenue(restated, "--as-of", "3") == {"A": 750.0, "B": 600.0, "G": 1350.0}
    assert _revenue(restated) == {"A": 750.0, "B": 600.0, "G": 1350.0}
    # as of load 1 the ledger is empty: no data
    code, out, _ = run(
        restated, "compute", "--cycle", "FY2026-Q1", "--format", "json", "--as-of", "1"
    )
    assert code == 0
    assert {r["status"] for r in json.loads(out)} == {"no_data"}


def test_an_unknown_load_id_exits_2_naming_the_last_load(restated: Path) -> None:
    for fmt in ("json", "table"):
        code, out, err = run(
            restated, "compute", "--cycle", "FY2026-Q1", "--format", fmt, "--as-of", "99"
        )
        assert code == 2
        assert out == ""
        assert err.strip().splitlines() == [
            "error: --as-of: load 99 does not exist; the last load is 3"
        ]
    code, _, err = run(restated, "compute", "--cycle", "FY2026-Q1", "--as-of", "0")
    assert code == 2 and "load 0 does not exist; the last load is 3" in err


def test_catalogue_sql_never_sees_the_load_id(restated: Path) -> None:
    ws = read_workspace(restated)
    with sandbox(ws) as con:
        columns = [d[0] for d in con.execute("select * from ledger").description]
    assert columns == ["entity_id", "period", "account", "amount"]
    with sandbox(ws, as_of=2) as con:
        columns = [d[0] for d in con.execute("select * from ledger").description]
        # the ledger itself ends at that load too
        assert last_load_id(con) == 2
        assert [r.id for r in list_loads(con)] == [1, 2]
    assert columns == ["entity_id", "period", "account", "amount"]


# ------------------------------------------------------------------- the loads command


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_loads_lists_every_load_as_json(restated: Path, tmp_path: Path) -> None:
    code, out, err = run(restated, "loads", "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    keys = ["id", "time", "source", "mode", "files", "read", "loaded", "rejected", "restated"]
    assert all(list(entry) == keys for entry in doc)
    for entry in doc:  # ISO 8601, to the second
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", entry["time"])
        assert datetime.fromisoformat(entry["time"]).year >= 2024
    rest = [{k: v for k, v in e.items() if k != "time"} for e in doc]
    jan = HEADER + "A,2026-01-01,revenue,100\nB,2026-01-01,revenue,200\n"
    feb_mar = Q1.replace(jan, HEADER)
    names = {
        p: str(tmp_path / "in" / p) for p in ("entities.csv", "jan.csv", "feb_mar.csv", "fix.csv")
    }
    shown = {k: read_workspace(restated).shown(Path(v)) for k, v in names.items()}
    assert rest == [
        {
            "id": 1,
            "source": "entities",
            "mode": "append",
            "files": [{"name": shown["entities.csv"], "sha256": _sha(ENTITIES)}],
            "read": 3,
            "loaded": 3,
            "rejected": 0,
            "restated": 0,
        },
        {
            "id": 2,
            "source": "ledger",
            "mode": "append",
            "files": [
                {"name": shown["jan.csv"], "sha256": _sha(jan)},
                {"name": shown["feb_mar.csv"], "sha256": _sha(feb_mar)},
            ],
            "read": 6,  # 2 + 4 rows
            "loaded": 6,
            "rejected": 0,
            "restated": 0,
        },
        {
            "id": 3,
            "source": "ledger",
            "mode": "replace",
            "files": [{"name": shown["fix.csv"], "sha256": _sha(RESTATEMENT)}],
            "read": 2,
            "loaded": 2,
            # A's February and March: the (entity, month) pairs of the file, one row each
            "restated": 2,
            "rejected": 0,
        },
    ]
    code, out, _ = run(restated, "loads", "--source", "ledger", "--format", "json")
    assert code == 0 and [e["id"] for e in json.loads(out)] == [2, 3]
    code, out, _ = run(restated, "loads", "--source", "things", "--format", "json")
    assert code == 0 and json.loads(out) == []


def test_loads_table_shows_each_load(restated: Path) -> None:
    code, out, err = run(restated, "loads")
    assert code == 0, err
    lines = out.splitlines()
    header = next(line for line in lines if "source" in line)
    words = [w for w in re.split(r"[\s┃│|]+", header) if w]
    assert " ".join(words) == "id time source mode files (sha256) read loaded rejected restated"
    row = next(line for line in lines if "replace" in line)
    cells = [c.strip() for c in re.split(r"[│|]", row) if c.strip()]
    assert cells[0] == "3" and cells[2:4] == ["ledger", "replace"]
    assert cells[-4:] == ["2", "2", "0", "2 (2026-02, 2026-03)"]
    assert f"({_sha(RESTATEMENT)[:12]})" in out


def test_loads_of_an_unknown_source_is_a_usage_error(restated: Path) -> None:
    code, _, err = run(restated, "loads", "--source", "ledgr")
    assert code == 2
    assert "source 'ledgr' does not exist (did you mean 'ledger'?)" in err
    assert run(restated, "loads", "--format", "xml")[0] == 2


def test_load_says_how_many_rows_it_restated_and_in_which_months(
    restated: Path, tmp_path: Path
) -> None:
    # the fixture's replace: A's February and March, one row each
    [record] = [r for r in list_loads_of(restated) if r.id == 3]
    assert (record.restated, record.restated_months) == (2, ("2026-02", "2026-03"))
    # B's January and March again, and a new April row (restates nothing there)
    fix = HEADER + "B,2026-01-01,revenue,210\nB,2026-03-01,revenue,230\nB,2026-04-01,revenue,1\n"
    code, _, err = run(
        restated, "load", "ledger", write(tmp_path / "fix2.csv", fix), "--mode", "replace"
    )
    assert code == 0, err
    assert (
        "restated 2 row(s) in 2026-01, 2026-03 (load 4; --as-of 3 reads the data before it)" in err
    )
    # an append restates nothing and says nothing about it
    more = HEADER + "A,2026-04-01,revenue,5\n"
    code, _, err = run(restated, "load", "ledger", write(tmp_path / "more.csv", more))
    assert code == 0 and "restated" not in err
    # the superseded rows are kept, marked with the load that superseded them
    assert query(
        restated,
        "select entity_id, period, amount::varchar, _load_id, _superseded_by "
        "from _history_ledger order by all",
    ) == [
        ("A", date(2026, 2, 1), "100.00", 2, 3),
        ("A", date(2026, 3, 1), "100.00", 2, 3),
        ("B", date(2026, 1, 1), "200.00", 2, 4),
        ("B", date(2026, 3, 1), "200.00", 2, 4),
    ]


def list_loads_of(workspace: Path) -> list[Any]:
    with sandbox(read_workspace(workspace)) as con:
        return list_loads(con)


# --------------------------------------------------------- nothing changes on a bad file


def test_a_bad_file_leaves_ledger_history_and_table_as_they_were(
    restated: Path, tmp_path: Path
) -> None:
    before = warehouse_content(restated)
    good = write(tmp_path / "good.csv", HEADER + "A,2026-01-01,revenue,999\n")
    bad = write(tmp_path / "bad.csv", "entity_id,period,amount\nA,2026-01-01,1\n")
    code, _, err = run(restated, "load", "ledger", good, bad, "--mode", "replace")
    assert code == 2
    assert "header: missing required column(s) account" in err
    assert warehouse_content(restated) == before
    assert {"_loads", "_load_files", "_history_ledger", "ledger"} <= set(before)
    # the same content again is refused as before: per file, per source
    again = write(tmp_path / "again.csv", RESTATEMENT)
    code, _, err = run(restated, "load", "ledger", again)
    assert code == 2
    assert "this content was already loaded into 'ledger' (load 3, file " in err
    assert warehouse_content(restated) == before


def test_the_same_content_twice_in_one_call_is_refused(restated: Path, tmp_path: Path) -> None:
    text = HEADER + "A,2026-05-01,revenue,1\n"
    one, two = write(tmp_path / "one.csv", text), write(tmp_path / "two.csv", text)
    before = warehouse_content(restated)
    code, _, err = run(restated, "load", "ledger", one, two)
    assert code == 2 and "this content was already loaded into 'ledger' (load 4, file " in err
    assert warehouse_content(restated) == before


# ---------------------------------------------- a warehouse from before load ids migrates


def _old_warehouse(root: Path) -> Path:
    """A warehouse as the previous version wrote it: tables without ``_load_id``, a
    ``_loads`` ledger with one row per file (loads 1, 2 and 3: entities, then two ledger
    files in one call)."""
    import duckdb

    ws = catalogue_workspace(root, CATALOGUE)
    (ws / "data").mkdir()
    con = duckdb.connect(str(warehouse(ws)))
    con.execute(
        "create table entities (entity_id varchar not null, name varchar not null, "
        "parent_id varchar, primary key (entity_id))"
    )
    con.execute(
        "create table ledger (entity_id varchar not null, period date not null, "
        "account varchar not null, amount decimal(18,2) not null, "
        "primary key (entity_id, period, account))"
    )
    con.execute(
        "insert into entities values "
        "('G', 'Group', null), ('A', 'Unit A', 'G'), ('B', 'Unit B', 'G')"
    )
    for line in Q1.splitlines()[1:]:
        e, p, a, amount = line.split(",")
        con.execute("insert into ledger values (?, ?, ?, ?)", [e, p, a, amount])
    con.execute(
        "create table _loads (load_id bigint not null, source varchar not null, "
        "file varchar not null, sha256 varchar not null, mode varchar not null, "
        "rows_read bigint not null, rows_loaded bigint not null, rows_rejected bigint not null, "
        "loaded_at timestamp not null, loaded_by varchar not null, primary key (load_id))"
    )
    con.execute(
        "insert into _loads values "
        "(1, 'entities', 'in/entities.csv', ?, 'append', 3, 3, 0, '2026-04-02 09:00:00', 'ann'), "
        "(2, 'ledger', 'in/q1a.csv', ?, 'append', 3, 3, 0, '2026-04-03 09:00:00', 'ann'), "
        "(3, 'ledger', 'in/q1b.csv', ?, 'append', 3, 3, 0, '2026-04-03 09:00:00', 'ann')",
        [_sha(ENTITIES), _sha("q1a"), _sha(Q1)],
    )
    con.execute(
        "create table _rejected (load_id bigint not null, source varchar not null, file varchar "
        "not null, row_number bigint, column_name varchar, reason varchar not null, raw json, "
        "rejected_at timestamp not null)"
    )
    con.close()
    return ws


def test_an_old_warehouse_lists_migrates_loads_computes_and_verifies(tmp_path: Path) -> None:
    ws = _old_warehouse(tmp_path / "old")
    # read as it is: each old row one load
    code, out, err = run(ws, "loads", "--format", "json")
    assert code == 0, err
    assert [(e["id"], e["source"], e["files"], e["read"]) for e in json.loads(out)] == [
        (1, "entities", [{"name": "in/entities.csv", "sha256": _sha(ENTITIES)}], 3),
        (2, "ledger", [{"name": "in/q1a.csv", "sha256": _sha("q1a")}], 3),
        (3, "ledger", [{"name": "in/q1b.csv", "sha256": _sha(Q1)}], 3),
    ]
    assert _revenue(ws) == {"A": 300.0, "B": 600.0, "G": 900.0}
    # an old file's content is still refused
    code, _, err = run(ws, "load", "ledger", write(tmp_path / "q1.csv", Q1))
    assert (
        code == 2
        and "already loaded into 'ledger' (load 3, file in/q1b.csv, 2026-04-03 09:00:00)" in err
    )
    # the next load migrates the ledger and gets the next id
    code, _, err = run(
        ws, "load", "ledger", write(tmp_path / "fix.csv", RESTATEMENT), "--mode", "replace"
    )
    assert code == 0, err
    assert (
        "restated 2 row(s) in 2026-02, 2026-03 (load 4; --as-of 3 reads the data before it)" in err
    )
    assert query(ws, "select load_id, position, file from _load_files order by all") == [
        (1, 1, "in/entities.csv"),
        (2, 1, "in/q1a.csv"),
        (3, 1, "in/q1b.csv"),
        (4, 1, read_workspace(ws).shown(tmp_path / "fix.csv")),
    ]
    assert query(ws, "select load_id, source, mode, rows_restated from _loads order by 1") == [
        (1, "entities", "append", 0),
        (2, "ledger", "append", 0),
        (3, "ledger", "append", 0),
        (4, "ledger", "replace", 2),
    ]
    # rows from before load ids are load 0: there as of any load
    assert _revenue(ws, "--as-of", "1") == {"A": 300.0, "B": 600.0, "G": 900.0}
    assert _revenue(ws) == {"A": 750.0, "B": 600.0, "G": 1350.0}
    assert run(ws, "check")[0] == 0
    code, out, err = run(ws, "report", "--cycle", "FY2026-Q1")
    assert code == 0, err
    code, out, err = run(ws, "verify", out.strip())
    assert code == 0, out + err


# ------------------------------------------- property: as of each load = a replay of the loads

Row = tuple[str, date, int]
MONTH_DAYS = [date(2026, m, d) for m in (1, 2, 3) for d in (1, 15)]
_rows = st.lists(
    st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(MONTH_DAYS), st.integers(-5, 5)),
    max_size=5,
)
_loads = st.lists(st.tuples(st.sampled_from(["append", "replace"]), _rows), min_size=1, max_size=6)


def _csv(header: str, rows: list[tuple[Any, ...]]) -> str:
    return header + "".join(",".join(str(v) for v in row) + "\n" for row in rows)


def _files(header: str, loads: list[tuple[str, list[Any]]]) -> list[tuple[str, str, int | None]]:
    """(mode, CSV text, load id or None) per load: each row carries its load's position
    (``seq``), so files differ unless they are empty; an append of a text seen before in
    the source is refused and takes no id."""
    seen: set[str] = set()
    out: list[tuple[str, str, int | None]] = []
    next_id = 1
    for seq, (mode, rows) in enumerate(loads, start=1):
        text = _csv(header, [(*r, seq) for r in rows])
        if mode == "append" and text in seen:
            out.append((mode, text, None))
            continue
        seen.add(text)
        out.append((mode, text, next_id))
        next_id += 1
    return out


def _run_loads(root: Path, source: str, files: list[tuple[str, str, int | None]]) -> None:
    ws = read_workspace(root)
    catalogue = load_catalogue(ws)
    for n, (mode, text, load_id) in enumerate(files, start=1):
        path = write(root.parent / f"f{n}.csv", text)
        if load_id is None:
            with pytest.raises(InputError, match="this content was already loaded"):
                load_files(ws, catalogue, source, [path], mode)
        else:
            assert load_files(ws, catalogue, source, [path], mode).load_id == load_id


def _replay_readings(
    loads: list[tuple[str, list[Row]]], files: list[tuple[str, str, int | None]]
) -> dict[int, tuple[list[Any], int, tuple[str, ...]]]:
    """Load id → the table's rows after it (sorted), the rows it restated and their months."""
    table: list[tuple[Any, ...]] = []
    states = {}
    for seq, ((mode, rows), (_, _, load_id)) in enumerate(zip(loads, files, strict=True), 1):
        if load_id is None:
            continue
        restated: list[tuple[Any, ...]] = []
        if mode == "replace":
            pairs = {(e, p.replace(day=1)) for e, p, _ in rows}
            restated = [r for r in table if (r[0], r[1].replace(day=1)) in pairs]
            table = [r for r in table if (r[0], r[1].replace(day=1)) not in pairs]
        table = table + [(e, p, v, seq) for e, p, v in rows]
        months = tuple(sorted({f"{r[1]:%Y-%m}" for r in restated}))
        states[load_id] = (sorted(table), len(restated), months)
    return states


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_loads)
def test_readings_as_of_each_load_equal_a_replay(loads: list[tuple[str, list[Row]]]) -> None:
    with tempfile.TemporaryDirectory() as name:
        root = catalogue_workspace(Path(name) / "ws", CATALOGUE)
        files = _files("entity_id,period,value,seq\n", loads)
        _run_loads(root, "readings", files)
        expected = _replay_readings(loads, files)
        ws = read_workspace(root)
        for load_id, (state, restated, months) in expected.items():
            with sandbox(ws, as_of=load_id) as con:
                got = con.execute("select entity_id, period, value, seq from readings").fetchall()
                record = list_loads(con)[-1]
            assert sorted(got) == state, (load_id, loads)
            assert (record.id, record.restated, record.restated_months) == (
                load_id,
                restated,
                months,
            )
        with sandbox(ws) as con:
            now = con.execute("select * from readings").fetchall()
        assert sorted(now) == expected[max(expected)][0]


def _replay_things(
    loads: list[tuple[str, list[tuple[str, int]]]], files: list[tuple[str, str, int | None]]
) -> dict[int, list[tuple[Any, ...]]]:
    """Load id → the rows of the keyed table after it. A key already in the table and every
    row of a key the file has twice are rejected; a replace first removes the table's rows
    of the file's keys."""
    table: dict[str, tuple[Any, ...]] = {}
    states = {}
    for seq, ((mode, rows), (_, _, load_id)) in enumerate(zip(loads, files, strict=True), 1):
        if load_id is None:
            continue
        keys = [k for k, _ in rows]
        if mode == "replace":
            table = {k: v for k, v in table.items() if k not in keys}
        for key, weight in rows:
            if keys.count(key) == 1 and key not in table:
                table[key] = (key, weight, seq)
        states[load_id] = sorted(table.values())
    return states


_things = st.lists(
    st.tuples(
        st.sampled_from(["append", "replace"]),
        st.lists(st.tuples(st.sampled_from(["k1", "k2", "k3"]), st.integers(0, 9)), max_size=4),
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_things)
def test_keyed_rows_as_of_each_load_equal_a_replay(
    loads: list[tuple[str, list[tuple[str, int]]]],
) -> None:
    with tempfile.TemporaryDirectory() as name:
        root = catalogue_workspace(Path(name) / "ws", CATALOGUE)
        files = _files("thing_id,weight,seq\n", loads)
        _run_loads(root, "things", files)
        ws = read_workspace(root)
        for load_id, state in _replay_things(loads, files).items():
            with sandbox(ws, as_of=load_id) as con:
                got = con.execute("select thing_id, weight, seq from things").fetchall()
            assert sorted(got) == state, (load_id, loads)


def test_a_failed_load_takes_no_load_id(workspace: Path, tmp_path: Path) -> None:
    ws = read_workspace(workspace)
    catalogue = load_catalogue(ws)
    good = write(tmp_path / "a.csv", "entity_id,period,value,seq\nA,2026-01-01,1,1\n")
    load_files(ws, catalogue, "readings", [good])
    with pytest.raises(InputError):
        load_files(ws, catalogue, "readings", [write(tmp_path / "b.csv", "nope\n1\n")])
    summary = load_files(
        ws, catalogue, "readings", [write(tmp_path / "c.csv", "entity_id,period\nB,2026-02-01\n")]
    )
    assert summary.load_id == 2
    with sandbox(ws, as_of=1) as con:
        assert con.execute("select entity_id from readings").fetchall() == [("A",)]
