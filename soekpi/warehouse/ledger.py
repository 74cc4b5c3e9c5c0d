"""The load ledger: which loads there were, and which data each brought (issue 17).

Every ``soekpi load`` call (and ``init --demo``) is one load with an increasing integer id:
one ``_loads`` row (source, mode, the call's row counts, the rows it restated and their
months, when and by whom) and one ``_load_files`` row per file (position, name, SHA-256,
counts). Each fact row carries the id of the load that brought it in ``_load_id`` (NULL:
loaded before load ids existed, read as load 0); a ``replace`` load moves the rows it
supersedes into ``_history_<table>`` with ``_superseded_by`` set to its id. So the data as of
load L is the table's rows with ``_load_id <= L`` and the history rows with
``_load_id <= L < _superseded_by`` (:func:`as_of_sql`, what the sandbox shadows each table
with).

A warehouse written before load ids (``_loads`` with one row per file) is read here as it is
(each old row one load) and migrated by ``schema.ensure_schema`` on its next write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from soekpi.base.errors import UsageError
from soekpi.base.sqltext import quote

if TYPE_CHECKING:
    import duckdb

LOAD_COLUMN = "_load_id"
SUPERSEDED_COLUMN = "_superseded_by"
HISTORY_PREFIX = "_history_"


@dataclass(frozen=True)
class LoadRecord:
    """One load as the ledger records it (``soekpi loads`` lists these)."""

    id: int
    time: datetime
    source: str
    mode: str
    files: tuple[tuple[str, str], ...]  # (name, sha256) in the order given
    read: int
    loaded: int
    rejected: int
    restated: int
    restated_months: tuple[str, ...] = ()  # "YYYY-MM", sorted


def history_table(table: str) -> str:
    """The name of the table that keeps ``table``'s superseded rows."""
    return HISTORY_PREFIX + table


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Base tables and views of the connection's main schemas (temp views included)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall()
    return {str(r[0]) for r in rows}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ?",
        [table],
    ).fetchall()
    return {str(r[0]) for r in rows}


def is_v1_ledger(con: duckdb.DuckDBPyConnection) -> bool:
    """True when ``_loads`` still has the layout before load ids (one row per file)."""
    return "file" in _columns(con, "_loads")


def last_load_id(con: duckdb.DuckDBPyConnection) -> int:
    """The highest load id (0 when nothing was loaded). On a sandbox opened ``as_of`` a
    load, that load."""
    if "_loads" not in _tables(con):
        return 0
    ((last,),) = con.execute("SELECT coalesce(max(load_id), 0) FROM _loads").fetchall()
    return int(last)


def checked_load_id(con: duckdb.DuckDBPyConnection, load_id: int) -> int:
    """``load_id`` when the ledger has it; else :class:`UsageError` (exit 2) naming the last
    load."""
    known = "_loads" in _tables(con) and bool(
        con.execute("SELECT 1 FROM _loads WHERE load_id = ?", [load_id]).fetchall()
    )
    if not known:
        last = last_load_id(con)
        raise UsageError(f"--as-of: load {load_id} does not exist; the last load is {last}")
    return load_id


def list_loads(con: duckdb.DuckDBPyConnection, source: str | None = None) -> list[LoadRecord]:
    """Every load (of ``source`` when given), by id."""
    return _records(con, "source = ?" if source is not None else "true", _params(source))


def loads_after(con: duckdb.DuckDBPyConnection, load_id: int) -> list[LoadRecord]:
    """The loads after ``load_id``, by id."""
    return _records(con, "load_id > ?", [load_id])


def _params(source: str | None) -> list[Any]:
    return [source] if source is not None else []


def _records(con: duckdb.DuckDBPyConnection, where: str, params: list[Any]) -> list[LoadRecord]:
    if "_loads" not in _tables(con):
        return []
    if is_v1_ledger(con):  # before load ids: each row is a file and a load
        rows = con.execute(
            "SELECT load_id, loaded_at, source, mode, rows_read, rows_loaded, rows_rejected, "
            f"0, '', [file], [sha256] FROM _loads WHERE {where} ORDER BY load_id",
            params,
        ).fetchall()
    else:
        rows = con.execute(
            "SELECT l.load_id, l.loaded_at, l.source, l.mode, l.rows_read, l.rows_loaded, "
            "l.rows_rejected, l.rows_restated, l.restated_months, "
            "list(f.file ORDER BY f.position) FILTER (WHERE f.file IS NOT NULL), "
            "list(f.sha256 ORDER BY f.position) FILTER (WHERE f.file IS NOT NULL) "
            f"FROM _loads l LEFT JOIN _load_files f USING (load_id) WHERE {where} "
            "GROUP BY ALL ORDER BY l.load_id",
            params,
        ).fetchall()
    return [_record(row) for row in rows]


def _record(row: tuple[Any, ...]) -> LoadRecord:
    load_id, at, source, mode, read, loaded, rejected, restated, months, names, digests = row
    return LoadRecord(
        id=int(load_id),
        time=at,
        source=str(source),
        mode=str(mode),
        files=tuple(zip(names or [], digests or [], strict=True)),
        read=int(read),
        loaded=int(loaded),
        rejected=int(rejected),
        restated=int(restated),
        restated_months=tuple(m for m in str(months or "").split(",") if m),
    )


def contract_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """A fact table's columns as stored, without ``_load_id``, in table order."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = "
        "current_database() AND table_schema = 'main' AND table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [str(r[0]) for r in rows if r[0] != LOAD_COLUMN]


def as_of_sql(
    con: duckdb.DuckDBPyConnection, table: str, as_of: int | None, database: str | None = None
) -> str:
    """The SELECT of ``table``'s contract columns as they stood right after load ``as_of``
    (None: as they are now). ``database`` qualifies the tables (the sandbox's temp views
    shadow them under the same name)."""
    prefix = f"{quote(database)}.main." if database else ""
    stored = _stored_columns(con, table)
    columns = [c for c in stored if c != LOAD_COLUMN]
    current = f"SELECT {', '.join(quote(c) for c in columns)} FROM {prefix}{quote(table)}"
    if as_of is None or LOAD_COLUMN not in stored:
        return current  # rows without load ids are load 0: all there as of any load
    loaded = f"coalesce({LOAD_COLUMN}, 0)"
    current += f" WHERE {loaded} <= {int(as_of)}"
    history = history_table(table)
    kept = _stored_columns(con, history)
    if not kept:
        return current
    projected = ", ".join(quote(c) if c in kept else f"NULL AS {quote(c)}" for c in columns)
    return (
        f"{current} UNION ALL SELECT {projected} FROM {prefix}{quote(history)} "
        f"WHERE {loaded} <= {int(as_of)} AND {SUPERSEDED_COLUMN} > {int(as_of)}"
    )


def _stored_columns(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_catalog = "
        "current_database() AND table_schema = 'main' AND table_name = ? "
        "ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [str(r[0]) for r in rows]


def fact_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables that carry load ids (every source table written since load ids exist;
    not the history tables), sorted."""
    rows = con.execute(
        "SELECT DISTINCT table_name FROM information_schema.columns WHERE table_catalog = "
        "current_database() AND table_schema = 'main' AND column_name = ? "
        "AND NOT starts_with(table_name, ?) ORDER BY table_name",
        [LOAD_COLUMN, HISTORY_PREFIX],
    ).fetchall()
    return [str(r[0]) for r in rows]


def shadow_views(con: duckdb.DuckDBPyConnection, as_of: int | None) -> None:
    """Shadow every fact table with a temp view of its contract columns (so ``_load_id``
    never reaches catalogue SQL) and, with ``as_of``, of its rows as they stood right after
    that load; the ledger and ``_rejected`` then end at that load too. Works on the
    sandbox's read-only, locked-down connection (temp views live in memory)."""
    ((database,),) = con.execute("SELECT current_database()").fetchall()
    last = last_load_id(con)
    past = as_of if as_of is not None and as_of < last else None
    for table in fact_tables(con):
        body = as_of_sql(con, table, past, database=str(database))
        con.execute(f"CREATE TEMP VIEW {quote(table)} AS {body}")
    if past is None:
        return
    con.execute(f"CREATE TEMP VIEW {quote(_AS_OF_VIEW)} AS SELECT {int(past)} AS load_id")
    tables = _tables(con)
    for system in ("_loads", "_load_files", "_rejected"):
        if system in tables:
            con.execute(
                f"CREATE TEMP VIEW {quote(system)} AS SELECT * FROM "
                f"{quote(str(database))}.main.{quote(system)} WHERE load_id <= {int(past)}"
            )


_AS_OF_VIEW = "_soekpi_as_of"


def past_load(con: duckdb.DuckDBPyConnection) -> int | None:
    """The load a sandbox reads the data as of when that is not the last load (it was opened
    ``as_of`` an earlier load), else None: the data are current."""
    if _AS_OF_VIEW not in _tables(con):
        return None
    ((load_id,),) = con.execute(f"SELECT load_id FROM {quote(_AS_OF_VIEW)}").fetchall()
    return int(load_id)
