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
    "_loads": (
        [
            ("load_id", "bigint", True),
            ("source", "varchar", True),
            ("file", "varchar", True),
            ("sha256", "varchar", True),
            ("mode", "varchar", True),
            ("rows_read", "bigint", True),
            ("rows_loaded", "bigint", True),
            ("rows_rejected", "bigint", True),
            ("loaded_at", "timestamp", True),
            ("loaded_by", "varchar", True),
        ],
        ("load_id",),
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
    are (a contract change they cannot take is reported by :func:`schema_drift`)."""
    for source in [*table_sources(catalogue), *system_sources().values()]:
        con.execute(table_ddl(source))


def existing_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    """Names of the base tables in the warehouse's main schema."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = 'main' and table_type = 'BASE TABLE'"
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
        "select column_name, data_type from information_schema.columns "
        "where table_schema = 'main' and table_name = ? order by ordinal_position",
        [name],
    ).fetchall()
    if not rows:
        return []
    actual = {c: _normalise_type(t) for c, t in rows}
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
        "select constraint_column_names from duckdb_constraints() "
        "where schema_name = 'main' and table_name = ? and constraint_type = 'PRIMARY KEY'",
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
