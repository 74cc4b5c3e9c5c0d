"""`soekpi load`: every bad row lands in _rejected with its reason, every good row in its
table, and the counts add up to the file's rows."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from helpers import Invoke, query, rejected, write
from wh_data import HEADER


def test_good_rows_load_and_bad_rows_are_rejected_with_their_reason(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    ledger = write(
        tmp_path / "ledger.csv",
        HEADER
        + "A,2025-01-01,revenue,100.00\n"  # line 2: good
        + "A,2025/13/01,revenue,5\n"  # line 3: bad date
        + "Z,2025-01-01,revenue,5\n"  # line 4: unknown entity
        + "A,2025-01-01,revnue,5\n"  # line 5: account not allowed
        + "A,2025-02-01,revenue,12.345\n"  # line 6: more decimals than the scale
        + "A,2025-02-01,cost,\n"  # line 7: required amount missing
        + "B,2025-01-01,cost,40.5\n"  # line 8: good
        + "B,2025-02-01,cost,abc\n",  # line 9: not a number
    )
    result = soekpi("load", "ledger", ledger)
    assert result.exit_code == 1, result.output
    assert rejected(with_entities) == [
        (3, "period", "period: '2025/13/01' is not a date"),
        (4, "entity_id", "entity_id: 'Z' is not in entities.entity_id"),
        (5, "account", "account: 'revnue' is not one of revenue, cost"),
        (6, "amount", "amount: '12.345' is not a decimal(18,2)"),
        (7, "amount", "amount: required value is missing"),
        (9, "amount", "amount: 'abc' is not a decimal(18,2)"),
    ]
    assert query(with_entities, "select * exclude (_load_id) from ledger order by all") == [
        ("A", date(2025, 1, 1), "revenue", Decimal("100.00"), None),
        ("B", date(2025, 1, 1), "cost", Decimal("40.50"), None),
    ]
    # 8 rows read = 2 loaded + 6 rejected
    assert query(
        with_entities,
        "select file, mode, f.rows_read, f.rows_loaded, f.rows_rejected from _loads "
        "join _load_files f using (load_id) where source = 'ledger'",
    ) == [(str(ledger), "append", 8, 2, 6)]
    assert "6 row(s) rejected; see the table _rejected" in result.stderr
    assert "period: not a date: 1" in result.stderr


def test_the_raw_row_is_kept_as_json(with_entities: Path, soekpi: Invoke, tmp_path: Path) -> None:
    ledger = write(tmp_path / "l.csv", HEADER + 'A,2025-01-01,revenue,"1,5"\n')
    assert soekpi("load", "ledger", ledger).exit_code == 1
    assert query(with_entities, "select source, raw::VARCHAR from _rejected") == [
        ("ledger", '{"entity_id":"A","period":"2025-01-01","account":"revenue","amount":"1,5"}')
    ]


def test_integers_ranges_booleans_and_timestamps(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    staff = write(
        tmp_path / "staff.csv",
        "entity_id,period,headcount,ratio\n"
        "A,2025-01-01,10,0.5\n"  # 2 good
        "B,2025-01-01,-3,0.5\n"  # 3 below minimum
        "A,2025-02-01,1.5,\n"  # 4 not an integer (TRY_CAST would round it)
        "B,2025-02-01,4,1.25\n"  # 5 above maximum
        "A,2025-03-01,7,nan\n",  # 6 not a number
    )
    assert soekpi("load", "staff", staff).exit_code == 1
    assert rejected(with_entities) == [
        (3, "headcount", "headcount: -3 is below the minimum 0"),
        (4, "headcount", "headcount: '1.5' is not an integer"),
        (5, "ratio", "ratio: 1.25 is above the maximum 1"),
        (6, "ratio", "ratio: 'nan' is not a number"),
    ]
    events = write(
        tmp_path / "events.csv",
        "event_id,entity_id,occurred_at,severity,open\n"
        "e1,A,2025-01-05 10:00:00,3,true\n"
        "e2,A,2025-01-06T11:30:00,1,maybe\n"
        "e3,B,yesterday,5,false\n",
    )
    assert soekpi("load", "events", events).exit_code == 1
    assert query(
        with_entities,
        "select row_number, reason from _rejected where source = 'events' order by all",
    ) == [
        (3, "open: 'maybe' is not a boolean (true/false)"),
        (4, "occurred_at: 'yesterday' is not a timestamp"),
        (4, "severity: 5 is above the maximum 4"),
    ]
    assert query(with_entities, "select event_id, severity, open from events") == [("e1", 3, True)]
    # rows_rejected counts rows, not reasons: 3 read = 1 loaded + 2 rejected
    assert query(
        with_entities,
        "select rows_read, rows_loaded, rows_rejected from _loads where source = 'events'",
    ) == [(3, 1, 2)]


def test_duplicate_keys_in_the_file_and_against_the_table(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    first = write(tmp_path / "a.csv", HEADER + "A,2025-01-01,revenue,1\n")
    assert soekpi("load", "ledger", first).exit_code == 0
    second = write(
        tmp_path / "b.csv",
        HEADER
        + "A,2025-01-01,revenue,2\n"  # 2: already in the table
        + "B,2025-01-01,cost,3\n"  # 3: duplicated on line 4
        + "B,2025-01-01,cost,4\n"  # 4
        + "B,2025-02-01,cost,5\n",  # 5: good
    )
    assert soekpi("load", "ledger", second).exit_code == 1
    assert rejected(with_entities) == [
        (
            2,
            "entity_id, period, account",
            "primary key (entity_id, period, account) = (A, 2025-01-01, revenue) is already "
            "in the table; load with --mode replace to restate it",
        ),
        (
            3,
            "entity_id, period, account",
            "primary key (entity_id, period, account) = (B, 2025-01-01, cost) appears on 2 "
            "rows of the file: 3, 4",
        ),
        (
            4,
            "entity_id, period, account",
            "primary key (entity_id, period, account) = (B, 2025-01-01, cost) appears on 2 "
            "rows of the file: 3, 4",
        ),
    ]
    # 1 + 1 rows in the table; amounts 1 + 5 = 6
    assert query(with_entities, "select count(*), sum(amount) from ledger") == [
        (2, Decimal("6.00"))
    ]


def test_unique_column_and_self_reference(workspace: Path, soekpi: Invoke, tmp_path: Path) -> None:
    # parent B appears later in the same file: self references count the file's own rows
    entities = write(
        tmp_path / "e.csv",
        "entity_id,name,parent_id\nA,Unit A,B\nB,Unit B,\nC,Unit C,X\n",
    )
    assert soekpi("load", "entities", entities).exit_code == 1
    assert rejected(workspace) == [(4, "parent_id", "parent_id: 'X' is not in entities.entity_id")]
    things = write(tmp_path / "t.csv", "thing_id,code,weight\nt1,K,1\nt2,K,2\nt3,L,3\n")
    assert soekpi("load", "things", things).exit_code == 1
    assert query(
        workspace, "select row_number, reason from _rejected where source = 'things' order by all"
    ) == [
        (2, "unique column (code) = (K) appears on 2 rows of the file: 2, 3"),
        (3, "unique column (code) = (K) appears on 2 rows of the file: 2, 3"),
    ]


def test_optional_columns_may_be_left_out_and_quoted_fields_keep_commas(
    with_entities: Path, soekpi: Invoke, tmp_path: Path
) -> None:
    ledger = write(
        tmp_path / "l.csv",
        "entity_id,period,account,amount,note\n"
        'A,2025-01-01,revenue,10,"one, two"\n'
        "A,2025-02-01,revenue,20,\n",
    )
    assert soekpi("load", "ledger", ledger).exit_code == 0
    assert query(with_entities, "select note from ledger order by period") == [
        ("one, two",),
        (None,),
    ]
    no_ratio = write(tmp_path / "s.csv", "entity_id,period,headcount\nA,2025-01-01,3\n")
    assert soekpi("load", "staff", no_ratio).exit_code == 0
    assert query(with_entities, "select headcount, ratio from staff") == [(3, None)]
