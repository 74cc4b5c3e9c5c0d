"""SQL text helpers: identifiers and literals quoted, contract types as DuckDB types.

Pure string functions, shared by the catalogue's SQL checks, the warehouse and the plan.
"""

from __future__ import annotations

import re

_SQL_TYPES = {
    "varchar": "VARCHAR",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "double": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "json": "JSON",
}
_DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


def quote(name: str) -> str:
    """A SQL identifier, double-quoted."""
    return '"' + name.replace('"', '""') + '"'


def literal(value: object) -> str:
    """A SQL string literal."""
    return "'" + str(value).replace("'", "''") + "'"


def sql_type(type_name: str) -> str:
    """The DuckDB type of a contract type: ``decimal(18,2)`` → ``DECIMAL(18,2)``."""
    match = _DECIMAL.match(type_name.strip().lower())
    if match:
        return f"DECIMAL({int(match.group(1))},{int(match.group(2))})"
    try:
        return _SQL_TYPES[type_name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown column type {type_name!r}") from None
