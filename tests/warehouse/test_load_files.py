"""`soekpi load`: every format, the same file twice, --mode replace, and files that cannot
be read (nothing changes, exit 2)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from helpers import Invoke, query, warehouse, write
from wh_data import HEADER

ROWS = [
    ("A", "2025-01-01", "revenue", "100.50"),
    ("B", "2025-01-01", "cost", "-7"),
    ("B", "2025-13-01", "cost", "1"),
]  # the third row has a bad date
EXPECTED = [
    ("A", date(2025, 1, 1), "revenue", Decimal("100.50")),
    ("B", date(2025, 1, 1), "cost", Decimal("-7.00")),
]


def _csv(path: Path, delimiter: str) -> Path:
    lines = [delimiter.join(HEADER.strip().split(","))] + [delimiter.join(r) for r in ROWS]
    return write(path, "\n".join(lines) + "\n")


def _json(path: Path) -> Path:
    keys = HEADER.strip().split(",")
    return write(path, json.dumps([dict(zip(keys, r, strict=True)) for r in ROWS]))


def _ndjson(path: Path) -> Path:
    keys = HEADER.strip().split(",")
    return write(path, "".join(json.dumps(dict(zip(keys, r, strict=True))) + "\n" for r in ROWS))


def _parquet(path: Path) -> Path:
    import duckdb

    values = ", ".join(f"('{e}', '{p}', '{a}', '{m}')" for e, p, a, m in ROWS)
    con = duckdb.connect()
    con.execute(
        f"copy (select * from (values {values}) v(entity_id, period, account, amount)) "
        f"to '{path}' (format parquet)"
    )
    con.close()
    return path


def _xlsx(path: Path) -> Path:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("ledger")
    sheet.write_row(0, 0, HEADER.strip().split(","))
    for i, (entity, period, account, amount) in enumerate(ROWS, start=1):
        sheet.write_row(i, 0, [entity, period, account, float(amount)])
    book.close()
    return path


@pytest.mark.parametrize(
    ("name", "make", "bad_row"),
    [
        ("ledger.csv", lambda p: _csv(p, ","), 4),  # header is line 1: third data row = line 4
        ("ledger.tsv", lambda p: _csv(p, "\t"), 4),
        ("ledger.xlsx", _xlsx, 4),
        ("ledger.json", _json, 3),  # JSON and Parquet: the 1-based record index
        ("ledger.ndjson", _ndjson, 3),
        ("ledger.parquet", _parquet, 3),
    ],
)
def test_every_format_loads(
    with_entities: Path, soekpi: Invoke, tmp_path: Path, name: str, make: object, bad_row: int
) -> None:
    path = make(tmp_path / name)  # type: ignore[operator]
    result = soekpi("load", "ledger", path)
    assert result.exit_code == 1, result.output
    assert (
        query(with_entities, "select entity_id, period, account, amount from ledger order by all")
        == EXPECTED
    )
    assert query(with_entities, "select row_number, reason from _rejected") == [
        (bad_row, "period: '2025-13-01' is not a date")
    ]


def test_the_same_content_twice_is_refused_unless_replace(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    first = write(tmp_path / "jan.csv", HEADER + "A,2025-01-01,revenue,10\nA,2025-01-01,cost,4\n")
    assert soekpi("load", "ledger", first).exit_code == 0
    copy = write(tmp_path / "copy.csv", first.read_text())
    result = soekpi("load", "ledger", copy)
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: {copy}: this content was already loaded into 'ledger' (load 2, file {first}, "
    )
    assert result.stderr.endswith("); nothing was loaded. Pass --mode replace to load it again\n")
    assert query(with_entities, "select count(*) from _loads where source = 'ledger'") == [(1,)]
    result = soekpi("load", "ledger", copy, "--mode", "replace")
    assert result.exit_code == 0, result.output
    # replaced A's January rows with the same two rows: still 2 rows, 10 + 4 = 14
    assert query(with_entities, "select count(*), sum(amount) from ledger") == [
        (2, Decimal("14.00"))
    ]


def test_replace_restates_the_entity_months_in_the_file(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    base = write(
        tmp_path / "base.csv",
        HEADER
        + "A,2025-01-01,revenue,10\nA,2025-01-01,cost,4\n"
        + "A,2025-02-01,revenue,20\nB,2025-01-01,revenue,30\n",
    )
    assert soekpi("load", "ledger", base).exit_code == 0
    # restate A's January with revenue only: A/Jan cost goes, A/Feb and B/Jan stay
    fix = write(tmp_path / "fix.csv", HEADER + "A,2025-01-01,revenue,11\n")
    result = soekpi("load", "ledger", fix, "--mode", "replace")
    assert result.exit_code == 0, result.output
    assert query(
        with_entities, "select entity_id, period, account, amount from ledger order by all"
    ) == [
        ("A", date(2025, 1, 1), "revenue", Decimal("11.00")),
        ("A", date(2025, 2, 1), "revenue", Decimal("20.00")),
        ("B", date(2025, 1, 1), "revenue", Decimal("30.00")),
    ]
    assert query(with_entities, "select mode from _loads order by load_id desc limit 1") == [
        ("replace",)
    ]


def test_replace_without_time_column_upserts_by_key(
    workspace: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    assert (
        soekpi(
            "load", "things", write(tmp_path / "a.csv", "thing_id,weight\nt1,1\nt2,2\n")
        ).exit_code
        == 0
    )
    result = soekpi(
        "load",
        "things",
        write(tmp_path / "b.csv", "thing_id,weight\nt2,20\nt3,3\n"),
        "--mode",
        "replace",
    )
    assert result.exit_code == 0, result.output
    assert query(workspace, "select thing_id, weight from things order by 1") == [
        ("t1", 1),
        ("t2", 20),
        ("t3", 3),
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "{f}: the file is empty"),
        (
            "latin1.csv",
            "entity_id,period,account,amount\nA,2025-01-01,revenue,1\nÄ,x,y,z\n".encode("latin-1"),
            "{f}:3: not UTF-8 text; save the file as UTF-8 and load it again",
        ),
        (
            "binary.csv",
            bytes(range(256)) * 4,
            "{f}: not a text file (it holds NUL bytes)",
        ),
        (
            "ragged.csv",
            b"entity_id,period,account,amount\nA,2025-01-01,revenue,1\nA,1,2,3,4\n",
            "{f}:3: row has 5 fields, the header has 4; fix the row (quote values that contain "
            "the delimiter)",
        ),
        (
            "header.csv",
            b"entity_id,month,account,amount,colour\nA,2025-01-01,revenue,1,red\n",
            "{f}:1: header: missing required column(s) period; unknown column(s) colour, month "
            "(the contract of 'ledger' has: entity_id, period, account, amount, note); nothing "
            "was loaded",
        ),
        (
            "dupe.csv",
            b"entity_id,period,period,amount\n",
            "{f}:1: the header names column 'period' twice",
        ),
        ("broken.json", b'[{"entity_id": ', "{f}: cannot read the file: "),
        ("broken.xlsx", b"PK\x03\x04 not really a workbook", "{f}: cannot read the workbook: "),
        (
            "ledger.txt",
            b"entity_id\n",
            "{f}: cannot tell the format of this file by its "
            "extension (known: .csv, .json, .jsonl, .ndjson, .parquet, .tab, .tsv, .xlsx)",
        ),
    ],
)
def test_unreadable_files_change_nothing(
    with_entities: Path, soekpi: Invoke, tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    good = write(tmp_path / "good.csv", HEADER + "A,2025-01-01,revenue,1\n")
    bad = tmp_path / name
    bad.write_bytes(content)
    before = warehouse(with_entities).read_bytes()
    # the good file is first: it is not loaded either, the call is all or nothing
    result = soekpi("load", "ledger", good, bad)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: " + message.format(f=bad))
    assert len(result.stderr.splitlines()) == 1
    assert query(with_entities, "select count(*) from ledger") == [(0,)]
    assert query(with_entities, "select count(*) from _loads where source = 'ledger'") == [(0,)]
    assert warehouse(with_entities).read_bytes() == before


def test_a_missing_file_and_a_failed_first_load_leave_no_warehouse(
    workspace: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    result = soekpi("load", "ledger", tmp_path / "nope.csv")
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path / 'nope.csv'}: no such file\n"
    bad = write(tmp_path / "bad.csv", "colour\nred\n")
    assert soekpi("load", "ledger", bad).exit_code == 2
    assert not warehouse(workspace).exists()


def test_views_and_unknown_sources_are_usage_errors(
    workspace: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    path = write(tmp_path / "x.csv", HEADER)
    result = soekpi("load", "ledger_view", path)
    assert result.exit_code == 2
    assert result.stderr == (
        "error: source 'ledger_view' is a view defined by SQL and holds no data of its own; "
        "load the sources it reads instead\n"
    )
    result = soekpi("load", "ledgr", path)
    assert result.exit_code == 2
    assert result.stderr == "error: source 'ledgr' does not exist (did you mean 'ledger'?)\n"
    result = soekpi("load", "ledger", path, "--mode", "upsert")
    assert result.exit_code == 2
    assert result.stderr == "error: --mode: 'upsert' is not one of append, replace\n"


def test_a_load_touching_a_closed_cycle_is_refused_whole(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    import duckdb

    con = duckdb.connect(str(warehouse(with_entities)))
    con.execute(
        "insert into _closed_cycles values ('FY2025-Q1', '2025-01-01', '2025-03-31', "
        "'auditor', '2025-04-10 09:00:00', null)"
    )
    con.close()
    late = write(
        tmp_path / "late.csv",
        HEADER + "A,2025-04-01,revenue,1\nA,2025-03-01,revenue,2\nB,2025-02-01,cost,3\n",
    )
    result = soekpi("load", "ledger", late)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {late}: 2 row(s) dated 2025-02-01..2025-03-01 fall in closed cycle FY2025-Q1 "
        "(2025-01-01..2025-03-31); nothing was loaded. Leave those rows out, or reopen the "
        "cycle with 'soekpi close FY2025-Q1 --reopen --reason TEXT'\n"
    )
    assert query(with_entities, "select count(*) from ledger") == [(0,)]
    april = write(tmp_path / "april.csv", HEADER + "A,2025-04-01,revenue,1\n")
    assert soekpi("load", "ledger", april).exit_code == 0
