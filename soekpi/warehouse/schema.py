"""Tables from the data contracts (SPEC §4): one function writes every DDL statement.

Source tables get the declared column types, ``NOT NULL`` for required columns and their
primary key; ``references`` are checked by ``load`` and ``check`` rather than declared as
foreign keys (DuckDB's foreign keys would forbid restating entities and self references).
The system tables are described as contracts too, so their DDL comes from the same place.
A contract change that an existing table cannot take is reported by :func:`schema_drift`
(and so by ``soekpi check``), never applied silently.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from soekpi.base.errors import Location, Problem
from soekpi.base.sqltext import quote, sql_type
from soekpi.warehouse.ledger import LOAD_COLUMN, SUPERSEDED_COLUMN, history_table

if TYPE_CHECKING:
    import duckdb

    from soekpi.catalogue.model import Catalogue, Source


# name → (columns as (name, type, required), primary key); see docs/architecture.md
_SYSTEM_TABLES: dict[str, tuple[list[tuple[str, str, bool]], tuple[str, ...]]] = {
    "_rejected": (
        [
            ("load_id", "bigint", True),
            ("source", "varchar", True),
            ("file", "varchar", True),
            ("row_number", "bigint", False),
            ("column_name", "varchar", False),
            ("reason", "varchar", True),
            ("raw", "json", False),
            ("rejected_at", "timestamp", True),
        ],
        (),
    ),
    # one row per load (``load`` call or ``init --demo`` table); warehouse/ledger.py
    "_loads": (
        [
            ("load_id", "bigint", True),
            ("source", "varchar", True),
            ("mode", "varchar", True),
            ("rows_read", "bigint", True),
            ("rows_loaded", "bigint", True),
            ("rows_rejected", "bigint", True),
            ("rows_restated", "bigint", True),
            ("restated_months", "varchar", True),  # "YYYY-MM,YYYY-MM", sorted; "" for none
            ("loaded_at", "timestamp", True),
            ("loaded_by", "varchar", True),
        ],
        ("load_id",),
    ),
    # the files of each load, in the order given
    "_load_files": (
        [
            ("load_id", "bigint", True),
            ("position", "integer", True),
            ("file", "varchar", True),
            ("sha256", "varchar", True),
            ("rows_read", "bigint", True),
            ("rows_loaded", "bigint", True),
            ("rows_rejected", "bigint", True),
            ("rows_restated", "bigint", True),
        ],
        ("load_id", "position"),
    ),
    "_closed_cycles": (
        [
            ("cycle", "varchar", True),
            ("start_date", "date", True),
            ("end_date", "date", True),
            ("closed_by", "varchar", False),
            ("closed_at", "timestamp", False),
            ("manifest_sha256", "varchar", False),
        ],
        ("cycle",),
    ),
    "_audit_log": (
        [
            ("id", "bigint", True),
            ("at", "timestamp", True),
            ("who", "varchar", False),
            ("action", "varchar", True),
            ("cycle", "varchar", False),
            ("reason", "varchar", False),
        ],
        (),
    ),
    # every pin of a closed cycle (audit/closing.py, read by warehouse/pins.py): what the
    # cycle is computed with from its close on; a reopen marks the pin, never deletes it
    "_pins": (
        [
            ("cycle", "varchar", True),
            ("pinned_at", "timestamp", True),
            ("pinned_by", "varchar", False),
            ("as_of_load", "bigint", True),
            ("definitions", "json", True),
            ("manifest_sha256", "varchar", False),
            ("reopened_at", "timestamp", False),
            ("reopen_reason", "varchar", False),
        ],
        (),
    ),
    # each source table's content-hash sums as of the write that last changed it (hashing.py)
    "_fingerprints": (
        [
            ("table_name", "varchar", True),
            ("columns", "varchar", True),
            ("rows", "bigint", True),
            ("upper", "varchar", True),
            ("lower", "varchar", True),
        ],
        ("table_name",),
    ),
}
SYSTEM_TABLES = tuple(_SYSTEM_TABLES)


def system_sources() -> dict[str, Source]:
    """The system tables as contracts (``_rejected``, ``_loads``, ``_closed_cycles``,
    ``_audit_log``, ``_pins``, ``_fingerprints``)."""
    from soekpi.catalogue.model import Column, Source

    return {
        name: Source(
            id=name,
            primary_key=key,
            columns={c: Column(name=c, type=t, required=r) for c, t, r in columns},
        )
        for name, (columns, key) in _SYSTEM_TABLES.items()
    }


def table_ddl(source: Source) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for a source's contract (the only DDL writer)."""
    lines = []
    for column in source.columns.values():
        not_null = " NOT NULL" if column.required or column.name in source.primary_key else ""
        lines.append(f"{quote(column.name)} {sql_type(column.type)}{not_null}")
    if source.primary_key:
        lines.append(f"PRIMARY KEY ({', '.join(quote(c) for c in source.primary_key)})")
    body = ",\n  ".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {quote(source.table_name)} (\n  {body}\n)"


def table_sources(catalogue: Catalogue) -> list[Source]:
    """The catalogue's sources that are tables (not views), sorted by id."""
    return [
        catalogue.sources[s] for s in sorted(catalogue.sources) if not catalogue.sources[s].is_view
    ]


def ensure_schema(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> None:
    """Create every missing source table and system table; existing tables are left as they
    are (a contract change they cannot take is reported by :func:`schema_drift`). A ledger
    from before load ids (``_loads`` with one row per file) becomes ``_loads`` +
    ``_load_files``, each old row one load with its id. Source tables get their ``_load_id``
    from the first soekpi write into them (:func:`ensure_load_column`), so that a table
    created here keeps exactly its contract's columns until then."""
    tables = existing_tables(con)
    if "_loads" in tables and "file" in _column_names(con, "_loads"):
        _migrate_loads(con)
    for source in [*table_sources(catalogue), *system_sources().values()]:
        con.execute(table_ddl(source))


def ensure_load_column(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Give a source table its ``_load_id`` column (the load that brought each row; NULL:
    before load ids, read as load 0) when it has none. Inside the writer's transaction."""
    if LOAD_COLUMN not in _column_names(con, table):
        con.execute(f"ALTER TABLE {quote(table)} ADD COLUMN {LOAD_COLUMN} BIGINT")


def _column_names(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_catalog = "
        "current_database() and table_schema = 'main' and table_name = ?",
        [table],
    ).fetchall()
    return {str(r[0]) for r in rows}


def _migrate_loads(con: duckdb.DuckDBPyConnection) -> None:
    """The ledger before load ids (one ``_loads`` row per file) in the layout of today."""
    system = system_sources()
    con.execute("ALTER TABLE _loads RENAME TO _loads_before_load_ids")
    con.execute(table_ddl(system["_loads"]))
    con.execute(table_ddl(system["_load_files"]))
    con.execute(
        "INSERT INTO _loads SELECT load_id, source, mode, rows_read, rows_loaded, "
        "rows_rejected, 0, '', loaded_at, loaded_by FROM _loads_before_load_ids"
    )
    con.execute(
        "INSERT INTO _load_files SELECT load_id, 1, file, sha256, rows_read, rows_loaded, "
        "rows_rejected, 0 FROM _loads_before_load_ids"
    )
    con.execute("DROP TABLE _loads_before_load_ids")


def ensure_history(con: duckdb.DuckDBPyConnection, source: Source) -> str:
    """The table that keeps ``source``'s superseded rows (its contract columns, nullable,
    then ``_load_id`` and ``_superseded_by``), created or given the contract's new columns;
    returns its quoted name. Inside the writer's transaction."""
    name = history_table(source.table_name)
    lines = [f"{quote(c.name)} {sql_type(c.type)}" for c in source.columns.values()]
    lines += [f"{LOAD_COLUMN} BIGINT", f"{SUPERSEDED_COLUMN} BIGINT NOT NULL"]
    con.execute(f"CREATE TABLE IF NOT EXISTS {quote(name)} ({', '.join(lines)})")
    have = _column_names(con, name)
    for column in source.columns.values():
        if column.name not in have:
            con.execute(
                f"ALTER TABLE {quote(name)} ADD COLUMN {quote(column.name)} {sql_type(column.type)}"
            )
    return quote(name)


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the base tables in the warehouse's main schema."""
    rows = con.execute(
        "select table_name from information_schema.tables where table_catalog = "
        "current_database() and table_schema = 'main' and table_type = 'BASE TABLE'"
    ).fetchall()
    return {r[0] for r in rows}


def _normalise_type(text: str) -> str:
    return re.sub(r"\s+", "", text.upper())


def table_drift(
    con: duckdb.DuckDBPyConnection, source: Source, where: Location | None = None
) -> list[Problem]:
    """What keeps an existing table from taking its source's contract (empty when it can,
    or when the table does not exist yet)."""
    name = source.table_name
    rows = con.execute(
        "select column_name, data_type from information_schema.columns where table_catalog = "
        "current_database() and table_schema = 'main' and table_name = ? "
        "order by ordinal_position",
        [name],
    ).fetchall()
    if not rows:
        return []
    # the load id is soekpi's, not the contract's (warehouse/ledger.py)
    actual = {c: _normalise_type(t) for c, t in rows if c != LOAD_COLUMN}
    prefix = f"source '{source.id}': table {name}"
    messages = _column_drift(source, actual, prefix)
    key = _key_drift(con, source, prefix)
    if key is not None:
        messages.append(key)
    if messages:
        messages.append(
            f"{prefix} cannot take its contract as it stands; "
            "rebuild the table (export, drop, reload) or revert "
            "the contract change"
        )
    return [Problem(where, message) for message in messages]


def _column_drift(source: Source, actual: dict[str, str], prefix: str) -> list[str]:
    """Columns the table lacks, has with another type, or has beyond the contract."""
    messages = []
    for column in source.columns.values():
        declared = sql_type(column.type)
        if column.name not in actual:
            messages.append(
                f"{prefix} has no column '{column.name}' (the contract declares it {column.type})"
            )
        elif actual[column.name] != _normalise_type(declared):
            messages.append(
                f"{prefix}: column '{column.name}' is "
                f"{actual[column.name]}, the contract declares "
                f"{declared}"
            )
    for column_name in sorted(set(actual) - set(source.columns)):
        messages.append(f"{prefix} has column '{column_name}' that the contract does not declare")
    return messages


def _key_drift(con: duckdb.DuckDBPyConnection, source: Source, prefix: str) -> str | None:
    """How the table's primary key differs from the contract's, or None when it does not."""
    key_rows = con.execute(
        "select constraint_column_names from duckdb_constraints() where database_name = "
        "current_database() and schema_name = 'main' and table_name = ? "
        "and constraint_type = 'PRIMARY KEY'",
        [source.table_name],
    ).fetchall()
    actual_key = tuple(key_rows[0][0]) if key_rows else ()
    if actual_key == tuple(source.primary_key):
        return None
    shown = ", ".join(actual_key) or "none"
    declared_key = ", ".join(source.primary_key) or "none"
    return f"{prefix} has primary key ({shown}), the contract declares ({declared_key})"


def schema_drift(
    con: duckdb.DuckDBPyConnection, catalogue: Catalogue, where: Location | None = None
) -> list[Problem]:
    """Every contract change an existing table cannot take: a missing or extra column, a
    different type, a different primary key. Nothing is altered."""
    problems: list[Problem] = []
    for source in table_sources(catalogue):
        problems.extend(table_drift(con, source, where))
    return problems
