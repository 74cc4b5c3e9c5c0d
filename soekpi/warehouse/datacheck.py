"""``soekpi check``, second half: the warehouse's data against the contracts.

Per table source: schema drift (a contract change the table cannot take); rows that break
a column check of the contract as it stands now (required, allowed, min, max, unique — the
contract may have changed since the rows were loaded); orphans (values missing from the
referenced source); gaps in monthly returns (months with no rows for an entity that has
rows before and after). Each finding says how many rows and shows a few examples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from soekpi.base.errors import Location, Problem
from soekpi.base.sqltext import literal, quote, sql_type
from soekpi.warehouse.schema import existing_tables, table_drift

if TYPE_CHECKING:
    import duckdb

    from soekpi.catalogue.model import Catalogue, Column, Source
    from soekpi.workspace import Workspace

_EXAMPLES = 3


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _examples(values: list[Any], total: int) -> str:
    shown = ", ".join(f"'{v}'" for v in values[:_EXAMPLES])
    more = ", …" if total > _EXAMPLES else ""
    return f" (e.g. {shown}{more})"


def _typed(value: Any, column: Column) -> str:
    target = sql_type(column.type)
    return literal(value) if target == "VARCHAR" else f"CAST({literal(value)} AS {target})"


class _SourceCheck:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        catalogue: Catalogue,
        source: Source,
        where: Location,
        tables: set[str],
    ) -> None:
        self.con = con
        self.catalogue = catalogue
        self.source = source
        self.where = where
        self.tables = tables
        self.table = quote(source.table_name)
        self.problems: list[Problem] = []

    def add(self, message: str) -> None:
        self.problems.append(Problem(self.where, f"source '{self.source.id}': {message}"))

    def bad_values(self, bad: str) -> tuple[int, list[str]]:
        """How many rows the query ``bad`` (one column ``v``, VARCHAR) returns, and its first
        few distinct non-null values in plain string order. Portable SQL, so that the same
        check runs on every engine (the Spark reader transpiles it)."""
        rows = self.con.execute(
            f"WITH bad AS ({bad}) SELECT 'n' AS k, CAST(count(*) AS VARCHAR) AS v FROM bad "
            f"UNION ALL SELECT * FROM (SELECT DISTINCT 'e' AS k, v FROM bad "
            f"WHERE v IS NOT NULL ORDER BY v LIMIT {_EXAMPLES + 1})"
        ).fetchall()
        count = next(int(v) for k, v in rows if k == "n")
        return count, sorted(str(v) for k, v in rows if k == "e")

    def violations(self, condition: str, column: str, what: str) -> None:
        """Count rows where ``condition`` holds, with a few distinct example values."""
        count, values = self.bad_values(
            f"SELECT CAST({quote(column)} AS VARCHAR) AS v FROM {self.table} WHERE {condition}"
        )
        if count:
            suffix = _examples(values, len(values)) if values else ""
            self.add(f"{count} row(s) where {column} {what}{suffix}")

    def keys(self) -> None:
        """Rows sharing a primary key (for engines that do not enforce keys)."""
        key = self.source.primary_key
        if not key:
            return
        text = " || ' / ' || ".join(f"CAST({quote(c)} AS VARCHAR)" for c in key)
        count, examples = self.bad_values(
            f"SELECT {text} AS v FROM {self.table} GROUP BY {', '.join(quote(c) for c in key)} "
            "HAVING count(*) > 1"
        )
        if count:
            self.add(
                f"{count} key(s) ({', '.join(key)}) appear on more than one row "
                f"(primary key){_examples(examples, count)}"
            )

    def columns(self) -> None:
        for column in self.source.columns.values():
            col = quote(column.name)
            if column.required:
                self.violations(f"{col} IS NULL", column.name, "is missing (required)")
            if column.allowed is not None:
                options = ", ".join(_typed(a, column) for a in column.allowed)
                listed = ", ".join(str(a) for a in column.allowed)
                self.violations(f"{col} NOT IN ({options})", column.name, f"is not one of {listed}")
            if column.min is not None:
                self.violations(
                    f"{col} < {_number(column.min)}",
                    column.name,
                    f"is below the minimum {_number(column.min)}",
                )
            if column.max is not None:
                self.violations(
                    f"{col} > {_number(column.max)}",
                    column.name,
                    f"is above the maximum {_number(column.max)}",
                )
            if column.unique and (column.name,) != tuple(self.source.primary_key):
                count, examples = self.bad_values(
                    f"SELECT CAST({col} AS VARCHAR) AS v FROM {self.table} "
                    f"WHERE {col} IS NOT NULL GROUP BY 1 HAVING count(*) > 1"
                )
                if count:
                    self.add(
                        f"{count} value(s) of {column.name} appear on more than one row "
                        f"(unique){_examples(examples, count)}"
                    )
            if column.references is not None:
                self.orphans(column)

    def orphans(self, column: Column) -> None:
        assert column.references is not None
        ref_source, ref_column = column.references
        target = self.catalogue.sources.get(ref_source)
        if target is None or target.is_view:
            return
        col = quote(column.name)
        if target.table_name in self.tables:
            found = (
                f"EXISTS (SELECT 1 FROM {quote(target.table_name)} p "
                f"WHERE p.{quote(ref_column)} = t.{col})"
            )
        else:
            found = "false"
        count, values = self.bad_values(
            f"SELECT CAST(t.{col} AS VARCHAR) AS v FROM {self.table} t "
            f"WHERE t.{col} IS NOT NULL AND NOT ({found})"
        )
        if count:
            self.add(
                f"{count} orphan row(s): {column.name} not in {ref_source}.{ref_column}"
                f"{_examples(values, len(values))}"
            )

    def gaps(self) -> None:
        source = self.source
        if source.cadence != "monthly" or not source.time_column or not source.entity_column:
            return
        t, e = quote(source.time_column), quote(source.entity_column)
        rows = self.con.execute(
            f"WITH m AS (SELECT DISTINCT CAST({e} AS VARCHAR) AS entity, "
            f"CAST(date_trunc('month', {t}) AS DATE) AS month FROM {self.table} "
            f"WHERE {t} IS NOT NULL AND {e} IS NOT NULL), "
            "bounds AS (SELECT entity, min(month) AS lo, max(month) AS hi FROM m "
            "GROUP BY entity), "
            "span AS (SELECT entity, CAST(unnest(generate_series(lo, hi, INTERVAL 1 MONTH)) "
            "AS DATE) AS month FROM bounds) "
            "SELECT entity, month FROM span WHERE NOT EXISTS (SELECT 1 FROM m "
            "WHERE m.entity = span.entity AND m.month = span.month) ORDER BY entity, month"
        ).fetchall()
        missing: dict[str, list[Any]] = {}
        for entity, month in rows:
            missing.setdefault(str(entity), []).append(month)
        for entity, months in sorted(missing.items()):
            months.sort()
            shown = ", ".join(str(m)[:7] for m in months[:6])
            more = f" and {len(months) - 6} more" if len(months) > 6 else ""
            self.add(
                f"entity '{entity}' has no rows for {len(months)} month(s) between its first "
                f"and last return: {shown}{more}"
            )


def check_data(ws: Workspace, catalogue: Catalogue) -> list[Problem]:
    """Findings in the warehouse's data against the catalogue's contracts (empty when clean
    or when there is no warehouse yet). Located as ``data/warehouse.duckdb: source 'x': …``
    (on Spark: ``spark database 'lake': source 'x': …``).

    The checks run on the sandbox (read-only), so the same SQL runs on DuckDB and, through
    the Spark reader, on Spark. Spark tables have no primary key: there the drift check
    leaves the key out and the rows are checked for duplicate keys instead.

    Example::

        for problem in check_data(ws, catalogue):
            print(problem)
    """
    from dataclasses import replace

    from soekpi.warehouse.sandbox import sandbox
    from soekpi.warehouse.schema import table_sources

    enforces_keys = ws.warehouse.engine == "duckdb"
    if enforces_keys:
        if not ws.warehouse_path.is_file():
            return []
        where = Location(ws.shown(ws.warehouse_path))
    else:
        where = Location(f"spark database '{ws.warehouse.database}'")
    problems: list[Problem] = []
    with sandbox(ws) as con:
        tables = existing_tables(con)
        for source in table_sources(catalogue):
            if source.table_name not in tables:
                continue
            contract = source if enforces_keys else replace(source, primary_key=())
            drift = table_drift(con, contract, where)
            if drift:
                problems.extend(drift)
                continue
            check = _SourceCheck(con, catalogue, source, where, tables)
            if not enforces_keys:
                check.keys()
            check.columns()
            check.gaps()
            problems.extend(check.problems)
    return problems
