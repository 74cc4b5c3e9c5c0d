"""``soekpi check``, second half: the warehouse's data against the contracts.

Per table source: schema drift (a contract change the table cannot take); rows that break
a column check of the contract as it stands now (required, allowed, min, max, unique — the
contract may have changed since the rows were loaded); orphans (values missing from the
referenced source); gaps in monthly returns (months with no rows for an entity that has
rows before and after). Each finding says how many rows and shows a few examples.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from soekpi.errors import Location, Problem
from soekpi.warehouse.schema import existing_tables, literal, quote, sql_type, table_drift

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

    def violations(self, condition: str, column: str, what: str) -> None:
        """Count rows where ``condition`` holds, with a few distinct example values."""
        col = quote(column)
        count, examples = self.con.execute(
            f"SELECT count(*), list_sort(list(DISTINCT {col}::VARCHAR))[1:{_EXAMPLES + 1}] "
            f"FROM {self.table} WHERE {condition}"
        ).fetchall()[0]
        if count:
            values = [e for e in (examples or []) if e is not None]
            suffix = _examples(values, len(values)) if values else ""
            self.add(f"{count} row(s) where {column} {what}{suffix}")

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
                count, examples = self.con.execute(
                    f"SELECT count(*), list_sort(list(v))[1:{_EXAMPLES + 1}] FROM ("
                    f"SELECT {col}::VARCHAR AS v FROM {self.table} WHERE {col} IS NOT NULL "
                    "GROUP BY ALL HAVING count(*) > 1)"
                ).fetchall()[0]
                if count:
                    self.add(
                        f"{count} value(s) of {column.name} appear on more than one row "
                        f"(unique){_examples(list(examples), count)}"
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
        count, examples = self.con.execute(
            f"SELECT count(*), list_sort(list(DISTINCT t.{col}::VARCHAR))[1:{_EXAMPLES + 1}] "
            f"FROM {self.table} t WHERE t.{col} IS NOT NULL AND NOT ({found})"
        ).fetchall()[0]
        if count:
            values = list(examples or [])
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
            f"WITH m AS (SELECT DISTINCT {e}::VARCHAR AS entity, "
            f"date_trunc('month', {t})::DATE AS month FROM {self.table} "
            f"WHERE {t} IS NOT NULL AND {e} IS NOT NULL), "
            "span AS (SELECT entity, unnest(generate_series(min(month), max(month), "
            "INTERVAL 1 MONTH))::DATE AS month FROM m GROUP BY entity) "
            "SELECT entity, list_sort(list(month)) FROM span "
            "WHERE NOT EXISTS (SELECT 1 FROM m WHERE m.entity = span.entity "
            "AND m.month = span.month) GROUP BY entity ORDER BY entity"
        ).fetchall()
        for entity, months in rows:
            shown = ", ".join(str(m)[:7] for m in months[:6])
            more = f" and {len(months) - 6} more" if len(months) > 6 else ""
            self.add(
                f"entity '{entity}' has no rows for {len(months)} month(s) between its first "
                f"and last return: {shown}{more}"
            )


def check_data(ws: Workspace, catalogue: Catalogue) -> list[Problem]:
    """Findings in the warehouse's data against the catalogue's contracts (empty when clean
    or when there is no warehouse yet). Located as ``data/warehouse.duckdb: source 'x': …``.

    Example::

        for problem in check_data(ws, catalogue):
            print(problem)
    """
    from soekpi.warehouse.connection import open_warehouse
    from soekpi.warehouse.schema import table_sources

    if not ws.warehouse_path.is_file():
        return []
    where = Location(ws.shown(ws.warehouse_path))
    problems: list[Problem] = []
    with open_warehouse(ws, write=False) as con:
        tables = existing_tables(con)
        for source in table_sources(catalogue):
            if source.table_name not in tables:
                continue
            drift = table_drift(con, source, where)
            if drift:
                problems.extend(drift)
                continue
            check = _SourceCheck(con, catalogue, source, where, tables)
            check.columns()
            check.gaps()
            problems.extend(check.problems)
    return problems
