"""Check the SQL of a catalogue without touching any data.

Two steps. Structure, with sqlglot (DuckDB dialect): a measure's ``expr`` / ``filter`` must be
ONE row-level scalar expression (no second statement, no subquery, no table function, no
aggregate or window function); a view's ``sql`` must be one SELECT reading only other
catalogue sources. Then binding, in a throw-away in-memory DuckDB with external access off:
empty tables are created from the contracts, the views on top of them, and each expression
is bound with ``DESCRIBE SELECT ...`` so unknown columns, unknown functions and type errors
are found while nothing runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from soekpi.base.sqltext import quote, sql_type
from soekpi.base.text import did_you_mean
from soekpi.catalogue.model import Measure, Source

# Functions that read files, the environment or the database's own metadata have no place in
# a KPI expression, whatever the sandbox would say.
_BANNED_PREFIXES = ("read_", "parquet_", "duckdb_", "pragma_", "sniff_", "iceberg_", "delta_")
_BANNED_FUNCTIONS = frozenset(
    {
        "glob",
        "getenv",
        "current_setting",
        "query",
        "query_table",
        "load",
        "install",
        "sql_auto_complete",
        "which_secret",
        "icu_collate",
        "checkpoint",
    }
)
_VIEW_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
_NUMERIC = re.compile(
    r"^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT"
    r"|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\)|\"NULL\")$"
)
_AGG_SQL = {
    "sum": "sum",
    "mean": "avg",
    "min": "min",
    "max": "max",
    "closing": "sum",
    "average": "sum",
}


@dataclass(frozen=True)
class SqlProblem:
    """One SQL mistake: in ``field`` (expr, filter or sql) of a measure or a view source."""

    kind: str  # "measure" or "source"
    id: str
    field: str
    message: str


@dataclass(frozen=True)
class SqlCheckResult:
    """Problems found, and the columns (name → type) of every view that bound."""

    problems: list[SqlProblem]
    view_columns: dict[str, dict[str, str]]


def catalogue_type(duckdb_name: str) -> str:
    """A DuckDB type as the catalogue writes it (``DECIMAL(38,2)`` → ``decimal(38,2)``)."""
    lowered = duckdb_name.lower()
    return lowered.replace(" ", "") if lowered.startswith("decimal") else lowered


def _function_name(node: Any) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return str(node.sql_name()).lower()


def _banned(name: str) -> bool:
    return name in _BANNED_FUNCTIONS or name.startswith(_BANNED_PREFIXES)


def _first_line(message: str) -> str:
    """DuckDB's message without its 'X Error: ' prefix, caret lines and candidates."""
    line = message.strip().splitlines()[0] if message.strip() else message
    line = re.sub(r"^[A-Za-z ]*Error: ", "", line).strip()
    return line.rstrip("!")


def _syntax_message(text: str, wrapped: str, parse_error: Exception) -> str:
    """The clearest syntax message: DuckDB's parser when it also fails, else sqlglot's."""
    import duckdb

    try:
        duckdb.connect(":memory:").extract_statements(wrapped)
    except duckdb.Error as exc:
        return f"syntax error in {text!r}: {_first_line(str(exc))}"
    first = str(parse_error).splitlines()[0] if str(parse_error) else "cannot parse it"
    return f"cannot check {text!r}: {first}"


def scalar_structure_problem(text: str) -> str | None:
    """Why ``text`` is not ONE row-level scalar expression, or None when it is."""
    import sqlglot
    from sqlglot import exp

    try:
        trees = [t for t in sqlglot.parse(text, read="duckdb") if t is not None]
    except sqlglot.errors.SqlglotError as exc:
        return _syntax_message(text, f"SELECT {text}", exc)
    if len(trees) != 1:
        return "must be one expression, not several statements"
    root = trees[0]
    if not isinstance(root, exp.Condition | exp.Star | exp.Query):
        return f"must be one expression over the source's columns, not {_statement(root.key)}"
    for node in root.walk():
        if isinstance(node, exp.Query | exp.Subquery | exp.Exists | exp.Table):
            return "must not contain a subquery; refer to the source's columns directly"
        if isinstance(node, exp.Window):
            return "must not contain a window function"
        if isinstance(node, exp.AggFunc):
            return (
                f"must be a row-level expression, not the aggregate "
                f"'{_function_name(node)}()'; the aggregation comes from 'agg'"
            )
        if isinstance(node, exp.Func) and _banned(_function_name(node)):
            return f"must not call '{_function_name(node)}()': it reads outside the source"
    return None


def view_structure_problem(sql: str, source_ids: set[str]) -> tuple[str | None, set[str]]:
    """Why a view's ``sql`` is not one SELECT over catalogue sources (or None), and the
    source ids it reads."""
    import sqlglot
    from sqlglot import exp

    try:
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except sqlglot.errors.SqlglotError as exc:
        return _syntax_message(sql, sql, exc), set()
    if len(trees) != 1:
        return "must be one SELECT, not several statements", set()
    root = trees[0]
    if not isinstance(root, exp.Query) or isinstance(root, exp.Subquery):
        return f"must be a SELECT, not {_statement(root.key)}", set()
    ctes = {cte.alias_or_name for cte in root.find_all(exp.CTE)}
    reads: set[str] = set()
    for node in root.walk():
        if isinstance(node, exp.Table):
            if isinstance(node.this, exp.Func):
                name = _function_name(node.this)
                allowed = name in _VIEW_TABLE_FUNCTIONS or isinstance(node.this, exp.GenerateSeries)
                if not allowed:
                    return (
                        f"must not read the table function '{name}()'; only other sources, "
                        "range, generate_series and unnest",
                        set(),
                    )
                continue
            if node.args.get("db") or node.args.get("catalog"):
                return f"must not name a schema or database: '{node.sql(dialect='duckdb')}'", set()
            if node.name in ctes:
                continue
            if node.name not in source_ids:
                hint = did_you_mean(node.name, source_ids)
                return (
                    f"reads '{node.name}', which is not a source of the catalogue{hint}",
                    set(),
                )
            reads.add(node.name)
        elif isinstance(node, exp.Func) and _banned(_function_name(node)):
            return f"must not call '{_function_name(node)}()': it reads outside the sources", set()
    return None, reads


def _binder_message(message: str, source: str, columns: list[str]) -> str:
    """One readable line from a DuckDB binder/catalog error."""
    column = re.search(r'Referenced column "([^"]+)" not found', message)
    if column:
        name = column[1]
        return f"column '{name}' does not exist in source '{source}'{did_you_mean(name, columns)}"
    function = re.search(r"Function with name (\S+) does not exist", message)
    if function:
        hint = re.search(r'Did you mean "([^"]+)"', message)
        tail = f" (did you mean '{hint[1]}'?)" if hint else ""
        return f"function '{function[1]}' does not exist{tail}"
    table = re.search(r'Referenced table "([^"]+)" not found', message)
    if table:
        return (
            f"'{table[1]}' is not available here; write the columns of source '{source}' "
            "without a table prefix"
        )
    types = re.search(r"argument types '([^']+)'", message)
    if types:
        return f"no function matches {types[1]}; add an explicit cast such as CAST(x AS DOUBLE)"
    return _first_line(message)


def _view_message(message: str) -> str:
    """One readable line from DuckDB's error about a view's SQL."""
    column = re.search(r'Referenced column "([^"]+)" not found', message)
    if column:
        candidate = re.search(r'Candidate bindings: "([^"]+)"', message)
        hint = f" (did you mean '{candidate[1]}'?)" if candidate else ""
        return f"column '{column[1]}' does not exist in the sources it reads{hint}"
    return _first_line(message)


class _Binder:
    """An in-memory DuckDB holding empty tables and views of the catalogue, locked down."""

    def __init__(self) -> None:
        import duckdb

        self.error = duckdb.Error
        self.con = duckdb.connect(
            ":memory:",
            config={"autoinstall_known_extensions": False, "autoload_known_extensions": False},
        )

    def lock(self) -> None:
        self.con.execute("SET enable_external_access=false")
        self.con.execute("SET lock_configuration=true")

    def describe(self, query: str) -> list[tuple[str, str]]:
        rows = self.con.execute(f"DESCRIBE {query}").fetchall()
        return [(str(r[0]), str(r[1])) for r in rows]


def check_sql(
    sources: dict[str, Source],
    measures: dict[str, Measure],
    defined: set[str] | None = None,
) -> SqlCheckResult:
    """Check the SQL of every view source and measure; nothing reads any data.

    Only sources and measures that parsed cleanly should be passed. ``defined`` names every
    source the catalogue defines, broken ones included: a view may read those, but one that
    reads a broken source (or a failed view) is skipped, as is a measure over either; the
    broken definition is reported already.
    """
    problems: list[SqlProblem] = []
    binder = _Binder()
    try:
        for source in sorted(sources.values(), key=lambda s: s.id):
            if not source.is_view:
                columns = ", ".join(
                    f"{quote(c.name)} {sql_type(c.type)}" for c in source.columns.values()
                )
                binder.con.execute(f"CREATE TABLE {quote(source.id)} ({columns})")
        binder.lock()
        view_columns = _create_views(binder, sources, defined or set(sources), problems)
        columns_of: dict[str, list[str]] = {
            s.id: sorted(s.columns) for s in sources.values() if not s.is_view
        }
        columns_of.update({v: sorted(cols) for v, cols in view_columns.items()})
        for measure in sorted(measures.values(), key=lambda m: m.id):
            if measure.source in columns_of:
                problems.extend(_check_measure(binder, measure, columns_of[measure.source]))
    finally:
        binder.con.close()
    return SqlCheckResult(problems=problems, view_columns=view_columns)


def _create_views(
    binder: _Binder, sources: dict[str, Source], defined: set[str], problems: list[SqlProblem]
) -> dict[str, dict[str, str]]:
    ids = set(sources) | defined
    tables = {s.id for s in sources.values() if not s.is_view}
    views = {s.id: s for s in sources.values() if s.is_view}
    reads: dict[str, set[str]] = {}
    for view_id in sorted(views):
        problem, deps = view_structure_problem(views[view_id].sql or "", ids - {view_id})
        if problem:
            problems.append(SqlProblem("source", view_id, "sql", problem))
        else:
            reads[view_id] = deps
    created: dict[str, dict[str, str]] = {}
    attempted: set[str] = set(views) - set(reads)  # views whose structure is wrong
    pending = dict(reads)
    while pending:
        ready = sorted(v for v, deps in pending.items() if not (deps & set(views)) - attempted)
        if not ready:
            break
        for view_id in ready:
            del pending[view_id]
            attempted.add(view_id)
            if any(d not in tables and d not in created for d in reads[view_id]):
                continue  # reads a broken source or a failed view, reported already
            try:
                binder.con.execute(f"CREATE VIEW {quote(view_id)} AS {views[view_id].sql}")
                created[view_id] = {
                    name: catalogue_type(kind)
                    for name, kind in binder.describe(f"SELECT * FROM {quote(view_id)}")
                }
            except binder.error as exc:
                problems.append(SqlProblem("source", view_id, "sql", _view_message(str(exc))))
    for view_id in sorted(pending):
        problems.append(
            SqlProblem(
                "source",
                view_id,
                "sql",
                "views read each other in a cycle: " + ", ".join(sorted(pending)),
            )
        )
    return created


def _check_measure(binder: _Binder, measure: Measure, columns: list[str]) -> list[SqlProblem]:
    found: list[SqlProblem] = []
    table = quote(measure.source)

    def problem(field: str, message: str) -> None:
        found.append(SqlProblem("measure", measure.id, field, message))

    if measure.expr != "*":
        structure = scalar_structure_problem(measure.expr)
        if structure:
            problem("expr", structure)
        else:
            try:
                [(_, kind)] = binder.describe(f"SELECT ({measure.expr}) AS v FROM {table}")
            except binder.error as exc:
                problem("expr", _binder_message(str(exc), measure.source, columns))
            else:
                numeric = bool(_NUMERIC.match(kind)) or (kind == "BOOLEAN" and measure.agg == "sum")
                if measure.agg in _AGG_SQL and not numeric:
                    problem(
                        "expr",
                        f"agg '{measure.agg}' needs a number, but {measure.expr!r} is {kind}",
                    )
    if measure.filter is not None:
        structure = scalar_structure_problem(measure.filter)
        if structure:
            problem("filter", structure)
        else:
            try:
                [(_, kind)] = binder.describe(f"SELECT ({measure.filter}) AS f FROM {table}")
            except binder.error as exc:
                problem("filter", _binder_message(str(exc), measure.source, columns))
            else:
                if kind not in ("BOOLEAN", '"NULL"'):
                    problem("filter", f"must be a condition (true or false), but it is {kind}")
    return found


def _statement(key: str) -> str:
    """``a COPY statement``, ``an ATTACH statement``."""
    kind = key.upper()
    return f"{'an' if kind[:1] in 'AEIOU' else 'a'} {kind} statement"
