"""Fingerprints recorded when the data is written (``_fingerprints``) and reused by ``report``.

Every check compares the recorded entry with the rows as they are: the entry's sums are
turned into the documented hash here (as in test_hashing.py) and must equal a fresh
computation, and ``source_fingerprints(recorded=True)`` must give the same hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from helpers import Invoke, query, warehouse, write
from wh_data import ENTITIES, HEADER

from soekpi.api import init as init_workspace
from soekpi.catalogue import load_catalogue
from soekpi.warehouse.connection import open_warehouse
from soekpi.warehouse.demo import DEMO_TABLES, build_demo
from soekpi.warehouse.hashing import source_fingerprints
from soekpi.warehouse.load import load_files
from soekpi.workspace import read_workspace

LEDGER_COLUMNS = [
    ["account", "VARCHAR"],
    ["amount", "DECIMAL(18,2)"],
    ["entity_id", "VARCHAR"],
    ["note", "VARCHAR"],
    ["period", "DATE"],
]


def prints(root: Path, recorded: bool) -> dict[str, dict[str, Any]]:
    ws = read_workspace(root)
    with open_warehouse(ws, write=False) as con:
        return source_fingerprints(con, load_catalogue(ws), recorded=recorded)


def entries(root: Path) -> dict[str, tuple[Any, ...]]:
    """``_fingerprints`` as {table: (columns, rows, upper, lower)}."""
    rows = query(root, "select table_name, columns, rows, upper, lower from _fingerprints")
    return {r[0]: (json.loads(r[1]), r[2], int(r[3]), int(r[4])) for r in rows}


def document_hash(source: str, columns: list[list[str]], rows: int, sums: list[int]) -> str:
    """The documented summary document's SHA-256 (hashing.py, step 4)."""
    document = {"source": source, "columns": columns, "rows": rows, "sums": [str(s) for s in sums]}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def row_sums(texts: list[list[str | None]]) -> list[int]:
    """Upper and lower 64-bit sums of the rows' MD5 digests, worked out in Python."""
    upper = lower = 0
    for values in texts:
        digest = hashlib.md5(json.dumps(values, separators=(",", ":")).encode()).digest()
        number = int.from_bytes(digest, "little")
        upper += number >> 64
        lower += number & (2**64 - 1)
    return [upper, lower]


def assert_recorded_equals_rows(root: Path, tables: set[str]) -> dict[str, dict[str, Any]]:
    """Every table in ``tables`` has an entry whose sums give the hash computed from the rows;
    ``recorded=True`` answers the same. Returns the fresh fingerprints."""
    fresh = prints(root, recorded=False)
    recorded = entries(root)
    assert set(recorded) == tables
    for table in tables:
        columns, rows, upper, lower = recorded[table]
        assert rows == fresh[table]["rows"]
        assert document_hash(table, columns, rows, [upper, lower]) == fresh[table]["sha256"]
    assert prints(root, recorded=True) == fresh
    return fresh


def test_a_load_records_the_hash_of_the_rows_it_leaves(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    ledger = write(tmp_path / "l.csv", HEADER + "A,2025-01-01,cost,1.5\nB,2025-01-01,revenue,20\n")
    assert soekpi("load", "ledger", ledger).exit_code == 0
    # columns in name order: account, amount, entity_id, note, period
    assert entries(with_entities)["ledger"] == (
        LEDGER_COLUMNS,
        2,
        *row_sums(
            [
                ["cost", "1.50", "A", None, "2025-01-01"],
                ["revenue", "20.00", "B", None, "2025-01-01"],
            ]
        ),
    )
    assert_recorded_equals_rows(with_entities, {"entities", "ledger"})

    # a restatement of A's January replaces its cost row: 2 rows, A's now 7.25
    restated = write(tmp_path / "r.csv", HEADER + "A,2025-01-01,cost,7.25\n")
    result = soekpi("load", "ledger", restated, "--mode", "replace")
    assert result.exit_code == 0, result.output
    assert entries(with_entities)["ledger"] == (
        LEDGER_COLUMNS,
        2,
        *row_sums(
            [
                ["cost", "7.25", "A", None, "2025-01-01"],
                ["revenue", "20.00", "B", None, "2025-01-01"],
            ]
        ),
    )
    assert_recorded_equals_rows(with_entities, {"entities", "ledger"})


def test_a_change_behind_soekpis_back_keeps_the_recorded_hash_until_the_count_changes(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    import duckdb

    ledger = write(tmp_path / "l.csv", HEADER + "A,2025-01-01,cost,1\nB,2025-01-01,cost,2\n")
    assert soekpi("load", "ledger", ledger).exit_code == 0
    loaded = assert_recorded_equals_rows(with_entities, {"entities", "ledger"})

    con = duckdb.connect(str(warehouse(with_entities)))
    con.execute("update ledger set amount = 3 where entity_id = 'B'")
    con.close()
    fresh = prints(with_entities, recorded=False)
    recorded = prints(with_entities, recorded=True)
    # the row count is still 2: the recorded hash stands, only a recomputation sees the edit
    assert recorded["ledger"] == loaded["ledger"]
    assert fresh["ledger"]["rows"] == 2
    assert fresh["ledger"]["sha256"] == document_hash(
        "ledger",
        LEDGER_COLUMNS,
        2,
        row_sums(
            [["cost", "1.00", "A", None, "2025-01-01"], ["cost", "3.00", "B", None, "2025-01-01"]]
        ),
    )
    assert fresh["ledger"] != loaded["ledger"]
    assert recorded["entities"] == fresh["entities"]

    con = duckdb.connect(str(warehouse(with_entities)))
    con.execute("delete from ledger where entity_id = 'A'")
    con.close()
    # 1 row now, the entry says 2: computed from the rows
    after = prints(with_entities, recorded=True)
    assert after["ledger"] == {
        "rows": 1,
        "sha256": document_hash(
            "ledger", LEDGER_COLUMNS, 1, row_sums([["cost", "3.00", "B", None, "2025-01-01"]])
        ),
    }
    assert after == prints(with_entities, recorded=False)


def test_a_warehouse_without_the_table_computes_and_its_next_load_creates_it(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    import duckdb

    ledger = write(tmp_path / "l.csv", HEADER + "A,2025-01-01,cost,1\n")
    assert soekpi("load", "ledger", ledger).exit_code == 0
    con = duckdb.connect(str(warehouse(with_entities)))
    con.execute("drop table _fingerprints")  # as a warehouse written before it existed
    con.execute("update ledger set amount = 4")  # so a stale hash could not pass for fresh
    con.close()
    fresh = prints(with_entities, recorded=False)
    assert fresh["ledger"]["sha256"] == document_hash(
        "ledger", LEDGER_COLUMNS, 1, row_sums([["cost", "4.00", "A", None, "2025-01-01"]])
    )
    assert prints(with_entities, recorded=True) == fresh

    more = write(tmp_path / "m.csv", HEADER + "A,2025-02-01,cost,5\n")
    assert soekpi("load", "ledger", more).exit_code == 0
    # only the table this load wrote has an entry; entities is computed
    assert_recorded_equals_rows(with_entities, {"ledger"})
    assert entries(with_entities)["ledger"][1] == 2


def test_a_load_failing_after_it_recorded_leaves_table_and_entry_as_they_were(
    with_entities: Path, soekpi: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import soekpi.warehouse.load as load_module

    ledger = write(tmp_path / "l.csv", HEADER + "A,2025-01-01,cost,1\n")
    assert soekpi("load", "ledger", ledger).exit_code == 0
    before = entries(with_entities)
    real = load_module.record_fingerprints

    def record_then_fail(con: Any, tables: Any) -> None:
        real(con, tables)
        assert con.execute(
            "select rows from _fingerprints where table_name = 'ledger'"
        ).fetchall() == [(2,)]
        raise OSError("injected: disk full before the commit")

    monkeypatch.setattr(load_module, "record_fingerprints", record_then_fail)
    ws = read_workspace(with_entities)
    more = write(tmp_path / "m.csv", HEADER + "B,2025-01-01,cost,2\n")
    with pytest.raises(OSError, match="injected"):
        load_files(ws, load_catalogue(ws), "ledger", [more])
    assert entries(with_entities) == before
    assert query(with_entities, "select entity_id from ledger") == [("A",)]
    assert_recorded_equals_rows(with_entities, {"entities", "ledger"})


def test_init_demo_records_every_table(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "demo")
    counts = build_demo(ws, seed=7, scale=0.25)
    fresh = assert_recorded_equals_rows(ws.root, set(DEMO_TABLES))
    assert {t: fresh[t]["rows"] for t in DEMO_TABLES} == counts


def test_entities_written_by_a_load_are_recorded_too(
    workspace: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    # the first load creates every table; only the one it wrote gets an entry
    assert soekpi("load", "entities", write(tmp_path / "e.csv", ENTITIES)).exit_code == 0
    assert entries(workspace)["entities"][1] == 3  # G, A, B
    assert_recorded_equals_rows(workspace, {"entities"})
