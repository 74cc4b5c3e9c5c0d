"""Content hashes of the sources' data, for run manifests, ``diff`` and ``verify``.

The hash must not depend on the order rows happen to be stored in, must be deterministic,
and must stay fast at 10 M rows on two cores — so it does not sort. It is a *multiset*
hash computed in one parallel scan in DuckDB:

1. each row becomes a canonical text: the JSON array of its values cast to VARCHAR, columns
   in name order, NULL as ``null`` (so ``'a'`` / ``null`` / ``''`` all differ);
2. the row's MD5 is taken as one 128-bit integer (``md5_number``: the digest's 16 bytes
   read little-endian, no hex text to build and parse) and split into its upper and lower
   64 bits;
3. each of the two is summed over all rows exactly (as HUGEINT, no wrap-around), so the
   result does not depend on row order and counts duplicate rows;
4. the fingerprint is the SHA-256 of a JSON document holding the source id, its columns
   and types, the row count and the two sums.

Any accidental change to a value, a row or the schema changes the fingerprint with
overwhelming probability (a collision needs two multisets of 128-bit digests with the same
sums and counts). It is not a signature — MD5 is not collision-resistant against someone
who sets out to forge a table, and neither would the sums be with SHA-256 digests —
auditors who need that guarantee keep the extract files, whose own SHA-256 the ``_loads``
ledger records. Measured at 10 M ledger rows on two cores: 3.3 s CPU (SHA-256 hex digests
read back as integers, the first version: 6.7 s). The Spark executor's fingerprints
(``spark.py``) are computed differently and do not equal these; compare runs of one engine.
System tables (``_loads``, ``_rejected`` …), the load ids (``_load_id``) and the superseded
rows (``_history_<table>``) are not part of it.

**Recorded at write time.** The data only changes when soekpi writes it (``load``, ``init
--demo``), so every writer calls :func:`record_fingerprints` for the tables it changed, in
the SAME transaction as the change: the system table ``_fingerprints(table_name, columns,
rows, upper, lower)`` holds the column list and types the sums were taken over (the
document's ``columns``, as JSON text), the row count and the two sums (as text). A rollback
or a ``kill -9`` therefore leaves table and record consistent. ``source_fingerprints(con,
catalogue, recorded=True)`` — what ``report`` uses — takes a table's recorded sums when its
entry has the contract's column list and the row count ``count(*)`` finds now, and builds the
same document from them, so the SHA-256 is byte-identical to a fresh computation; any other
case (no entry, a warehouse older than ``_fingerprints``, another column list or row count)
is computed from the rows as before. ``recorded=False`` (the default: ``verify``, ``diff``
inputs, anything an auditor runs) always computes from the rows, so a change made outside
soekpi that keeps the row count shows up there, not in the report's manifest. Recording
reads the whole table written (not only the file's rows) once per ``load`` call: at demo
scale 100 (0.84 M ledger rows, loaded machine) a two-row load into ``financials`` takes
≈0.25 s CPU more and ``init --demo`` ≈0.9 s more (3.4 → 4.3 s CPU), while ``report`` takes
≈0.9 s less (3.9 → 3.0 s CPU; the hashes of all 7 sources 1.3 s → 9 ms wall).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date
from typing import TYPE_CHECKING, Any

from soekpi.base.sqltext import quote, sql_type
from soekpi.warehouse.ledger import LOAD_COLUMN, past_load
from soekpi.warehouse.schema import existing_tables, table_sources

if TYPE_CHECKING:
    import duckdb

    from soekpi.catalogue.model import Catalogue, Source
    from soekpi.workspace import Workspace


_LOW_64_BITS = 2**64 - 1
RECORD_TABLE = "_fingerprints"


def _sums(con: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> tuple[int, int, int]:
    """(rows, upper sum, lower sum) of the per-row digests over ``names`` (sorted)."""
    if not names:
        return 0, 0, 0
    values = ", ".join(f"{quote(n)}::VARCHAR" for n in names)
    digest = f"md5_number(to_json(list_value({values})))"
    rows, upper, lower = con.execute(
        "SELECT count(*), coalesce(sum((h >> 64)::HUGEINT), 0), "
        f"coalesce(sum((h & {_LOW_64_BITS}::UHUGEINT)::HUGEINT), 0) "
        f"FROM (SELECT {digest} AS h FROM {quote(table)})"
    ).fetchall()[0]
    return int(rows), int(upper), int(lower)


def _columns(source: Source) -> list[list[str]]:
    """The document's ``columns``: the contract's names in name order, with their types."""
    return [[n, sql_type(source.columns[n].type)] for n in sorted(source.columns)]


def _columns_text(columns: list[list[str]]) -> str:
    return json.dumps(columns, separators=(",", ":"))


def _digest(source: Source, rows: int, upper: int, lower: int) -> dict[str, Any]:
    document = {
        "source": source.id,
        "columns": _columns(source),
        "rows": rows,
        "sums": [str(upper), str(lower)],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return {"rows": rows, "sha256": hashlib.sha256(text.encode()).hexdigest()}


def _fingerprint(con: duckdb.DuckDBPyConnection, source: Source, exists: bool) -> dict[str, Any]:
    names = sorted(source.columns)
    rows, upper, lower = _sums(con, source.table_name, names) if exists else (0, 0, 0)
    return _digest(source, rows, upper, lower)


def _recorded(
    con: duckdb.DuckDBPyConnection, source: Source, entry: tuple[Any, ...] | None
) -> dict[str, Any] | None:
    """The fingerprint from a ``_fingerprints`` entry, or None when it does not describe the
    table as it is now (another column list, another row count, no entry)."""
    if entry is None:
        return None
    columns, rows, upper, lower = entry
    if columns != _columns_text(_columns(source)):
        return None
    ((now,),) = con.execute(f"SELECT count(*) FROM {quote(source.table_name)}").fetchall()
    if int(now) != int(rows):
        return None
    return _digest(source, int(rows), int(upper), int(lower))


def source_fingerprints(
    con: duckdb.DuckDBPyConnection, catalogue: Catalogue, recorded: bool = False
) -> dict[str, dict[str, Any]]:
    """``{source_id: {"rows": n, "sha256": hex}}`` for every table source (views have no data
    of their own), sorted by id. A table not created yet counts as empty.

    With ``recorded=True`` a table whose ``_fingerprints`` entry has the contract's columns
    and the row count the table has now takes the recorded sums instead of reading every row
    (the same hash when nothing changed the table behind soekpi's back); what ``report``
    states. The default computes every hash from the rows (``verify``, auditors)."""
    if getattr(con, "engine", "duckdb") == "spark":
        from soekpi.warehouse.spark import spark_fingerprints

        return spark_fingerprints(con, catalogue)  # type: ignore[arg-type]
    tables = existing_tables(con)
    entries: dict[str, tuple[Any, ...]] = {}
    if recorded and RECORD_TABLE in tables and past_load(con) is None:
        for name, *entry in con.execute(
            f"SELECT table_name, columns, rows, upper, lower FROM {RECORD_TABLE}"
        ).fetchall():
            entries[str(name)] = tuple(entry)
    prints: dict[str, dict[str, Any]] = {}
    for source in table_sources(catalogue):
        exists = source.table_name in tables
        known = _recorded(con, source, entries.get(source.table_name)) if exists else None
        prints[source.id] = known or _fingerprint(con, source, exists)
    return prints


def table_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[list[str]]:
    """A table's columns as they are, in name order with their DuckDB types: the document's
    ``columns`` when the table has its contract (the types are written as ``sql_type``
    writes them)."""
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_catalog = "
        "current_database() AND table_schema = 'main' AND table_name = ? ORDER BY column_name",
        [table],
    ).fetchall()
    # the load id is soekpi's bookkeeping, not data: the hash never sees it (ledger.py)
    return [[str(n), str(t)] for n, t in rows if n != LOAD_COLUMN]


def record_fingerprints(con: duckdb.DuckDBPyConnection, tables: Iterable[str]) -> None:
    """Write the ``_fingerprints`` entry of each of ``tables`` from its rows as they are now.

    Call it inside the transaction that changed those tables, before its commit, so that
    the entry and the data are committed (or rolled back) together. The sums are taken over
    the table's own columns; :func:`source_fingerprints` uses them only while those are the
    contract's columns and the row count still matches. ``_fingerprints`` must exist
    (``ensure_schema``)."""
    for table in sorted(set(tables)):
        columns = table_columns(con, table)
        rows, upper, lower = _sums(con, table, [n for n, _ in columns])
        con.execute(f"DELETE FROM {RECORD_TABLE} WHERE table_name = ?", [table])
        con.execute(
            f"INSERT INTO {RECORD_TABLE} VALUES (?, ?, ?, ?, ?)",
            [table, _columns_text(columns), rows, str(upper), str(lower)],
        )


def warehouse_fingerprints(ws: Workspace, catalogue: Catalogue) -> dict[str, dict[str, Any]]:
    """:func:`source_fingerprints` on a read-only connection to the workspace's warehouse."""
    from soekpi.warehouse.connection import open_warehouse

    with open_warehouse(ws, write=False) as con:
        return source_fingerprints(con, catalogue)


def source_facts(
    con: duckdb.DuckDBPyConnection, catalogue: Catalogue, recorded: bool = False
) -> dict[str, tuple[int, str]]:
    """Every table source's (row count, data hash), sorted by id; ``recorded``: the hashes
    recorded at load time where they still describe the table (what a report states;
    ``verify`` recomputes from the rows)."""
    fingerprints = source_fingerprints(con, catalogue, recorded=recorded)
    return {str(k): (int(v["rows"]), str(v["sha256"])) for k, v in sorted(fingerprints.items())}


#: A span of months a run read: (first day of its first month, first day after its last).
Span = tuple[date, date]


def window_fingerprints(
    con: duckdb.DuckDBPyConnection,
    catalogue: Catalogue,
    windows: Mapping[str, Sequence[Span] | None],
    recorded: bool = False,
    only: Collection[str] | None = None,
) -> dict[str, tuple[int, str]]:
    """Every table source's (or ``only`` those sources') (row count, data hash) over exactly
    the rows a run read, sorted by id: for a source with spans in ``windows``
    (``output.windows_read``), the rows whose time column falls in one of them; for any
    other (None or absent: a dimension table, a source read through another time column or
    none, or only through a view), every row, as :func:`source_facts` hashes it
    (``recorded`` as there).

    The multiset hash is the one of :func:`source_fingerprints`, taken over the filtered rows;
    its document also holds the spans, so a hash of some months never equals a hash of the
    whole table. A table not created yet counts as empty."""
    if getattr(con, "engine", "duckdb") == "spark":
        return source_facts(con, catalogue, recorded=recorded)  # Spark hashes whole tables
    chosen = [s for s in table_sources(catalogue) if only is None or s.id in only]
    tables = existing_tables(con)
    facts = source_facts(con, catalogue, recorded=recorded) if only is None else {}
    for source in chosen:
        spans = windows.get(source.id)
        exists = source.table_name in tables
        if spans is None or source.time_column is None:
            if source.id not in facts:
                whole = _fingerprint(con, source, exists)
                facts[source.id] = (int(whole["rows"]), str(whole["sha256"]))
            continue
        merged = _merged_spans(spans)
        sums = (0, 0, 0)
        if exists:
            where = _span_filter(source.time_column, merged)
            sums = _window_sums(con, source.table_name, sorted(source.columns), where)
        facts[source.id] = _window_digest(source, sums, merged)
    return dict(sorted(facts.items()))


def _window_sums(
    con: duckdb.DuckDBPyConnection, table: str, names: list[str], where: str
) -> tuple[int, int, int]:
    """:func:`_sums` over the rows of ``table`` for which the SQL ``where`` holds."""
    values = ", ".join(f"{quote(n)}::VARCHAR" for n in names)
    digest = f"md5_number(to_json(list_value({values})))"
    rows, upper, lower = con.execute(
        "SELECT count(*), coalesce(sum((h >> 64)::HUGEINT), 0), "
        f"coalesce(sum((h & {_LOW_64_BITS}::UHUGEINT)::HUGEINT), 0) "
        f"FROM (SELECT {digest} AS h FROM {quote(table)} WHERE {where})"
    ).fetchall()[0]
    return int(rows), int(upper), int(lower)


def _merged_spans(spans: Iterable[Span]) -> list[Span]:
    """The spans sorted, overlapping or adjacent ones joined."""
    merged: list[Span] = []
    for first, end in sorted(spans):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((first, end))
    return merged


def _span_filter(column: str, spans: list[Span]) -> str:
    """SQL true for a row whose ``column`` (a date or timestamp) falls in one of ``spans``."""
    if not spans:
        return "false"
    return " OR ".join(
        f"({quote(column)} >= DATE '{first.isoformat()}' AND {quote(column)} < "
        f"DATE '{end.isoformat()}')"
        for first, end in spans
    )


def _window_digest(
    source: Source, sums: tuple[int, int, int], spans: list[Span]
) -> tuple[int, str]:
    rows, upper, lower = sums
    document = {
        "source": source.id,
        "columns": _columns(source),
        "rows": rows,
        "sums": [str(upper), str(lower)],
        "months": [[first.isoformat(), end.isoformat()] for first, end in spans],
    }
    text = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return rows, hashlib.sha256(text.encode()).hexdigest()
