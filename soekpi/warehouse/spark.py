"""The Spark executor: the same measure plan, run on Apache Spark instead of DuckDB.

soekpi writes its SQL once, in DuckDB's dialect (:mod:`soekpi.engine.plan`, the coverage and
report queries). On a workspace whose ``warehouse:`` names ``engine: spark``,
:func:`soekpi.warehouse.sandbox.sandbox` hands out a :class:`SparkReader` instead of a DuckDB
connection. It offers the read-only part of DuckDB's connection API that the engine uses
(``sql``/``execute`` → ``fetchall``/``fetchone``, Arrow export for ``pl.DataFrame``), and for
every statement it:

1. **checks the syntax tree** — Spark has no read-only sandbox connection like DuckDB's, so
   only ONE query (SELECT, WITH, UNION) is sent; it may read only unqualified tables of the
   configured database and its own CTEs (no ``parquet.`/path```, no other database, no table
   functions) and call only the functions in :data:`ALLOWED_FUNCTIONS`;
2. **transpiles** it with sqlglot (``read="duckdb"``, ``write="spark"``) after rewriting what
   sqlglot cannot map faithfully: DuckDB's ``range``/``generate_series`` over months, ``AVG``
   (a DOUBLE in DuckDB, a DECIMAL of another scale in Spark), DuckDB's cast of a DOUBLE to a
   DECIMAL (round half away from zero of ``x * 10^scale``), ``information_schema.tables`` and
   ``?`` parameters;
3. runs it and brings the (small, aggregated) result back through Arrow.

Everything after that — KPI algebra, targets, status, reports, diff — is the same code.
Only ``load`` and ``close`` need DuckDB (they write); they refuse a Spark workspace.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from soekpi.base.errors import InputError, RuntimeFailure, UsageError
from soekpi.base.sqltext import literal, sql_type

if TYPE_CHECKING:
    from soekpi.catalogue.model import Catalogue
    from soekpi.workspace import Workspace

#: Functions a statement sent to Spark may call (sqlglot names, lower case): the scalar
#: functions catalogue SQL may use, the aggregates and window functions of views and of the
#: measure plan. Anything else is refused before the statement reaches Spark.
ALLOWED_FUNCTIONS = frozenset(
    {
        # logic, comparison, conditionals
        "and", "or", "not", "case", "if", "coalesce", "nullif", "greatest", "least",
        "in", "between", "like", "ilike", "exists",
        # casts and numbers
        "cast", "try_cast", "abs", "round", "floor", "ceil", "sign", "sqrt", "pow", "power",
        "ln", "log", "log10", "exp", "mod",
        # text
        "lower", "upper", "trim", "ltrim", "rtrim", "length", "substring", "concat",
        "replace", "starts_with", "strpos", "left", "right", "lpad", "rpad",
        # dates and times
        "date_trunc", "timestamp_trunc", "datetrunc", "datediff", "date_diff", "date_add",
        "date_sub", "dateadd", "datesub", "extract", "year", "quarter", "month", "day",
        "dayofweek", "last_day", "make_date", "to_date", "date", "timestamp_diff",
        # aggregates and windows (views and the measure plan)
        "sum", "count", "min", "max", "avg", "arg_max", "arg_min", "max_by", "min_by",
        "countif", "count_if", "row_number", "rank", "dense_rank", "lag", "lead",
        "first_value", "last_value",
        # month spines of views: unnest(range(...)) / generate_series
        "generate_series", "explode", "unnest", "sequence", "array",
    }
)  # fmt: skip

#: CTEs of the measure plan that are the same in every statement of a run (the entity
#: closure, :func:`soekpi.engine.plan.closure_sql`): Spark computes them once per reader
#: instead of once per reference (see :func:`to_spark_sql`'s ``share``).
SHARED_CTES = frozenset({"__closure"})

_SYSTEM_SCHEMA = "information_schema"
_CURRENT_DATABASE = re.compile(r"\bcurrent_database\(\s*\)", re.IGNORECASE)
_TABLES_VIEW = "__soekpi_information_schema_tables"
_COLUMNS_VIEW = "__soekpi_information_schema_columns"
_CONSTRAINTS_VIEW = "__soekpi_duckdb_constraints"
#: DuckDB's catalogue relations a statement may read, as the reader's temporary views.
_SYSTEM_VIEWS = {"tables": _TABLES_VIEW, "columns": _COLUMNS_VIEW}
#: Spark's type names as DuckDB prints them (information_schema.columns.data_type).
_DUCKDB_TYPES = {
    "string": "VARCHAR",
    "int": "INTEGER",
    "integer": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "tinyint": "TINYINT",
    "double": "DOUBLE",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamp_ntz": "TIMESTAMP",
    "binary": "BLOB",
}
_VIEW_NUMBERS = itertools.count(1)
_DEFAULT_CONF = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "true",
    # Adaptive execution coalesces the small shuffles of the aggregated measure queries.
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
}


def default_conf(master: str) -> dict[str, str]:
    """soekpi's Spark settings for ``master`` (``conf`` in soekpi.yaml overrides them).

    In local mode a run is dominated by fixed per-query costs, not by data (docs/scale-out.md,
    benchmark): two shuffle partitions per core (2..8), and the driver JVM compiles with the
    quick C1 compiler only (``-XX:TieredStopAtLevel=1``), which halves the CPU spent warming
    up a fresh JVM on many small queries. On a cluster the cluster's own settings stand.
    """
    conf = dict(_DEFAULT_CONF)
    if master.startswith("local"):
        threads = master.partition("[")[2].partition("]")[0].split(",")[0].strip() or "1"
        cores = (
            (os.cpu_count() or 2) if threads == "*" else int(threads) if threads.isdigit() else 2
        )
        conf["spark.sql.shuffle.partitions"] = str(min(8, max(2, 2 * cores)))
        conf["spark.driver.extraJavaOptions"] = (
            "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
        )
    return conf


# ----------------------------------------------------------------------------- SQL → Spark


def _function_name(node: Any) -> str:
    from sqlglot import exp

    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return str(node.sql_name()).lower()


def statement_problem(tree: Any, tables: set[str]) -> str | None:
    """Why the parsed statement ``tree`` may not be sent to Spark, or None when it may."""
    from sqlglot import exp

    if not isinstance(tree, exp.Query) or isinstance(tree, exp.Subquery):
        return f"only a query is sent to Spark, not a {tree.key.upper()} statement"
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    for node in tree.walk():
        if isinstance(node, exp.Table):
            if isinstance(node.this, exp.Func):
                if _function_name(node.this) == "duckdb_constraints" and not node.this.expressions:
                    continue
                return f"table function '{_function_name(node.this)}()' is not allowed on Spark"
            db = node.args.get("db")
            if node.args.get("catalog") or (
                db is not None
                and not (db.name.lower() == _SYSTEM_SCHEMA and node.name in _SYSTEM_VIEWS)
            ):
                return f"reads '{node.sql(dialect='duckdb')}': name tables without a database"
            if db is None and node.name not in ctes and node.name not in tables:
                return f"reads '{node.name}', which is not a table of the Spark database"
        elif (
            isinstance(node, exp.Func)
            and not isinstance(node, exp.Connector | exp.Not)
            and not isinstance(node.parent, exp.Table)
        ):  # table functions: checked above
            name = _function_name(node)
            if name not in ALLOWED_FUNCTIONS:
                return f"function '{name}()' is not allowed on Spark"
    return None


def _literal(value: Any) -> Any:
    from sqlglot import exp

    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float | Decimal):
        return exp.Literal.number(str(value))
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
    return exp.Literal.string(str(value))


def _bind(sql: str, params: list[Any]) -> str:
    """``sql`` with its ``?`` markers replaced, in the order they are written, by literals."""
    import sqlglot
    from sqlglot.tokenizer_core import TokenType

    markers = [
        t for t in sqlglot.tokenize(sql, read="duckdb") if t.token_type == TokenType.PLACEHOLDER
    ]
    if len(markers) != len(params):
        raise InputError(
            f"SQL for Spark: {len(markers)} '?' marker(s) but {len(params)} parameter(s)"
        )
    for token, value in reversed(list(zip(markers, params, strict=True))):
        sql = sql[: token.start] + _literal(value).sql(dialect="duckdb") + sql[token.end + 1 :]
    return sql


def _avg(node: Any, where: Any | None) -> Any:
    """DuckDB's AVG (a DOUBLE: the exact sum over the count) written for Spark, whose AVG of a
    DECIMAL is a DECIMAL of another scale."""
    from sqlglot import exp

    def agg(a: Any) -> Any:
        return exp.Filter(this=a, expression=where.copy()) if where is not None else a

    value = node.this
    total = exp.cast(agg(exp.Sum(this=value.copy())), "DOUBLE")
    return exp.Div(this=total, expression=agg(exp.Count(this=value.copy())))


def _decimal_from_double(value: Any, precision: int, scale: int) -> Any:
    """DuckDB's cast of a DOUBLE to DECIMAL(p,s): ``x * 10^s`` rounded half away from zero
    (Spark's own cast rounds the shortest decimal text of ``x`` instead)."""
    from sqlglot import exp

    factor = exp.Literal.number(str(10**scale))
    scaled = exp.Round(this=exp.Mul(this=exp.paren(value), expression=exp.cast(factor, "DOUBLE")))
    digits = min(precision, 38 - scale - 1)
    whole = exp.cast(scaled, f"DECIMAL({digits},0)")
    divided = exp.Div(this=whole, expression=exp.cast(factor, f"DECIMAL({scale + 1},0)"))
    return exp.cast(divided, f"DECIMAL({precision},{scale})")


def _date_diff(unit: Any, start: Any, end: Any) -> Any:
    """DuckDB's ``date_diff(unit, start, end)``: the number of unit boundaries crossed (Spark's
    ``timestampdiff`` counts whole units elapsed instead)."""
    import sqlglot

    name = (unit.name if unit is not None else "day").lower().rstrip("s")
    a, b = start.sql(dialect="spark"), end.sql(dialect="spark")
    seconds = {"second": 1, "minute": 60, "hour": 3600}
    if name in seconds:

        def at(x: str) -> str:
            return f"unix_seconds(CAST(date_trunc('{name}', {x}) AS TIMESTAMP))"

        text = f"(({at(b)} - {at(a)}) DIV {seconds[name]})"
    elif name == "day":
        text = f"datediff(CAST({b} AS DATE), CAST({a} AS DATE))"
    elif name in ("month", "quarter", "year"):
        size = {"month": 1, "quarter": 3, "year": 12}[name]

        def index(x: str) -> str:
            return f"(year({x}) * 12 + month({x}) - 1) DIV {size}"

        text = f"({index(b)} - {index(a)})"
    else:
        raise InputError(f"date_diff('{name}', ...) is not supported on Spark")
    return sqlglot.parse_one(text, read="spark")


def _sequence(node: Any) -> Any:
    """DuckDB's ``range(a, b, step)`` (end excluded) / ``generate_series`` (end included) as
    Spark's ``sequence``, empty when the end is before the start, as in DuckDB."""
    from sqlglot import exp

    start, end, step = node.args["start"], node.args["end"], node.args.get("step")
    step = step or exp.Literal.number(1)
    if node.args.get("is_end_exclusive"):
        end = exp.Sub(this=exp.paren(end.copy()), expression=step.copy())
    sequence = exp.Anonymous(this="SEQUENCE", expressions=[start.copy(), end.copy(), step.copy()])
    empty = exp.Anonymous(this="ARRAY", expressions=[])
    return exp.If(
        this=exp.LT(this=exp.paren(end.copy()), expression=exp.paren(start.copy())),
        true=empty,
        false=sequence,
    )


def to_spark_sql(
    sql: str,
    params: Sequence[Any] | None = None,
    tables: set[str] | None = None,
    share: Callable[[str], str] | None = None,
) -> str:
    """``sql`` (DuckDB dialect) as the Spark SQL that computes the same thing.

    ``params`` fill ``?`` markers in order; with ``tables`` (the database's tables) the
    statement is first checked (:func:`statement_problem`) and an :class:`InputError` raised
    when it may not be sent. With ``share``, the body of every CTE named in
    :data:`SHARED_CTES` is handed to it as Spark SQL, and the CTE reads the table whose
    name it returns instead (the reader computes such a CTE once for all its statements).

    Example::

        to_spark_sql("select x::varchar from t where d < ?", [date(2026, 1, 1)], {"t"})
    """
    tree = _one_statement(sql, params)
    if tables is not None:
        problem = statement_problem(tree, tables)
        if problem:
            raise InputError(f"refused to send SQL to Spark: {problem}")
    out = tree.transform(_rewrite, copy=True)
    if share is not None:
        _share_ctes(out, share)
    return str(out.sql(dialect="spark"))


def _one_statement(sql: str, params: Sequence[Any] | None) -> Any:
    """The syntax tree of ``sql`` (DuckDB dialect) with ``params`` bound; one statement only."""
    import sqlglot

    try:
        sql = _bind(sql, list(params or []))
        trees = [t for t in sqlglot.parse(sql, read="duckdb") if t is not None]
    except sqlglot.errors.SqlglotError as exc:
        first = (str(exc).splitlines() or ["cannot parse it"])[0]
        raise InputError(f"cannot translate SQL for Spark: {first}") from None
    if len(trees) != 1:
        raise InputError("only one statement at a time is sent to Spark")
    return trees[0]


def _rewrite(node: Any) -> Any:
    """One node of the DuckDB tree as Spark computes the same thing (see the module doc)."""
    from sqlglot import exp

    if isinstance(node, exp.Table) and node.args.get("db") is not None:
        return exp.to_table(_SYSTEM_VIEWS[node.name]).as_(node.alias_or_name)
    if isinstance(node, exp.Table) and isinstance(node.this, exp.Func):
        # duckdb_constraints(): Spark tables declare no constraints (an empty view)
        return exp.to_table(_CONSTRAINTS_VIEW).as_(node.alias_or_name or "constraints")
    if isinstance(node, exp.Cast) and isinstance(node.this, exp.Explode):
        # Spark cannot cast a generator's output: cast the array it explodes instead.
        to = exp.DataType(this=exp.DataType.Type.ARRAY, expressions=[node.to.copy()], nested=True)
        return exp.Explode(this=exp.Cast(this=node.this.this.transform(_rewrite), to=to))
    if isinstance(node, exp.GenerateSeries):
        # sqlglot does not visit the children of a replaced node: rewrite them first
        for key in ("start", "end", "step"):
            if node.args.get(key) is not None:
                node.set(key, node.args[key].transform(_rewrite))
        return _sequence(node)
    if isinstance(node, exp.Cast) and node.to.is_type(exp.DataType.Type.DECIMAL):
        decimal_avg = _decimal_avg(node)
        if decimal_avg is not None:
            return decimal_avg
    if isinstance(node, exp.Div) and not node.args.get("typed"):
        # DuckDB's '/' divides as DOUBLE whatever the operands; Spark keeps DECIMALs.
        return exp.Div(
            this=exp.cast(exp.paren(node.this.transform(_rewrite)), "DOUBLE"),
            expression=node.expression.transform(_rewrite),
        )
    if isinstance(node, exp.DateDiff):
        return _date_diff(
            node.args.get("unit"),
            node.expression.transform(_rewrite),
            node.this.transform(_rewrite),
        )
    if isinstance(node, exp.Filter) and isinstance(node.this, exp.Avg):
        return _avg(node.this, node.expression)
    if isinstance(node, exp.Avg) and not isinstance(node.parent, exp.Filter):
        return _avg(node, None)
    return node


def _decimal_avg(node: Any) -> Any | None:
    """A cast of an AVG (filtered or not) to DECIMAL as DuckDB rounds it, or None for
    another cast to DECIMAL."""
    from sqlglot import exp

    inner = node.this
    is_avg = isinstance(inner, exp.Avg) or (
        isinstance(inner, exp.Filter) and isinstance(inner.this, exp.Avg)
    )
    if not is_avg:
        return None
    params_ = [int(p.this.name) for p in node.to.expressions]
    precision, scale = [*params_, 18, 3][:2] if params_ else (18, 3)
    avg = _avg(inner.this, inner.expression) if isinstance(inner, exp.Filter) else _avg(inner, None)
    return _decimal_from_double(avg, precision, scale)


def _share_ctes(out: Any, share: Callable[[str], str]) -> None:
    """Replace the body of every CTE in :data:`SHARED_CTES` by a read of the table ``share``
    names for it."""
    from sqlglot import exp

    for cte in out.find_all(exp.CTE):
        if cte.alias_or_name in SHARED_CTES:
            name = share(cte.this.sql(dialect="spark"))
            cte.set("this", exp.select("*").from_(exp.to_table(name)))


# ----------------------------------------------------------------------------- the reader


class SparkResult:
    """The result of one statement, fully fetched as an Arrow table."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row as a tuple of Python values."""
        columns = [c.to_pylist() for c in self.table.columns]
        return list(zip(*columns, strict=True)) if columns else []

    def fetchone(self) -> tuple[Any, ...] | None:
        """The first row, or None."""
        rows = self.fetchall()
        return rows[0] if rows else None

    def __arrow_c_stream__(self, requested_schema: Any = None) -> Any:
        """The Arrow PyCapsule stream, so that ``pl.DataFrame(result)`` works."""
        return self.table.__arrow_c_stream__(requested_schema)


class SparkReader:
    """A read-only, DuckDB-connection-like view of one Spark database (see the module doc)."""

    engine = "spark"

    def __init__(self, session: Any, database: str) -> None:
        self.session = session
        self.database = database
        self.tables = {
            str(t.name)
            for t in session.catalog.listTables(database)
            if not getattr(t, "isTemporary", False)
        }
        rows = [(database, name, "main", "BASE TABLE") for name in sorted(self.tables)]
        session.createDataFrame(
            rows or [("", "", "", "")],
            "table_catalog string, table_name string, table_schema string, table_type string",
        ).where("table_name != ''" if not rows else "true").createOrReplaceTempView(_TABLES_VIEW)
        self._shared: dict[str, tuple[str, Any]] = {}  # Spark SQL → (temp view, cached frame)
        self._catalogue_views: set[str] = set()

    def _catalogue_view(self, query: str) -> None:
        """Create the views of DuckDB's catalogue relations that ``query`` reads, on first
        use: ``information_schema.columns`` (with DuckDB's type names) and
        ``duckdb_constraints()`` (empty: Spark tables declare no keys)."""
        text = query.lower()
        if "information_schema.columns" in text and _COLUMNS_VIEW not in self._catalogue_views:
            rows = []
            for table in sorted(self.tables):
                for position, column in enumerate(
                    self.session.catalog.listColumns(f"`{self.database}`.`{table}`"), start=1
                ):
                    spark_type = str(column.dataType).lower()
                    duck_type = _DUCKDB_TYPES.get(spark_type, spark_type.upper())
                    rows.append(
                        (self.database, table, "main", str(column.name), duck_type, position)
                    )
            schema = (
                "table_catalog string, table_name string, table_schema string, "
                "column_name string, data_type string, ordinal_position int"
            )
            frame = self.session.createDataFrame(rows or [("", "", "", "", "", 0)], schema)
            frame.where("table_name != ''").createOrReplaceTempView(_COLUMNS_VIEW)
            self._catalogue_views.add(_COLUMNS_VIEW)
        if "duckdb_constraints" in text and _CONSTRAINTS_VIEW not in self._catalogue_views:
            schema = (
                "database_name string, schema_name string, table_name string, "
                "constraint_type string, "
                "constraint_column_names array<string>"
            )
            self.session.createDataFrame([], schema).createOrReplaceTempView(_CONSTRAINTS_VIEW)
            self._catalogue_views.add(_CONSTRAINTS_VIEW)

    def _share(self, spark_sql: str) -> str:
        """A cached temporary view of ``spark_sql``'s result, made on first use."""
        if spark_sql not in self._shared:
            name = f"__soekpi_shared_{next(_VIEW_NUMBERS)}"
            try:
                frame = self.session.sql(spark_sql).cache()
                frame.count()
            except Exception as exc:
                raise spark_failure(exc) from None
            frame.createOrReplaceTempView(name)
            self._shared[spark_sql] = (name, frame)
        return self._shared[spark_sql][0]

    def run_spark(self, spark_sql: str) -> SparkResult:
        """Run Spark SQL as it is (soekpi's own statements only); errors become located
        soekpi errors."""
        try:
            return SparkResult(self.session.sql(spark_sql).toArrow())
        except Exception as exc:
            raise spark_failure(exc) from None

    def sql(self, query: str, params: Sequence[Any] | None = None) -> SparkResult:
        """Check, transpile and run one DuckDB-dialect query. ``current_database()`` (what
        the catalogue look-ups filter on) is the reader's Spark database."""
        query = _CURRENT_DATABASE.sub(literal(self.database), query)
        self._catalogue_view(query)
        return self.run_spark(to_spark_sql(query, params, self.tables, share=self._share))

    def execute(self, query: str, params: Sequence[Any] | None = None) -> SparkResult:
        """Same as :meth:`sql` (DuckDB's two spellings)."""
        return self.sql(query, params)

    def close(self) -> None:
        """Drop the reader's cached views (the Spark session lives as long as the process)."""
        for name, frame in self._shared.values():
            self.session.catalog.dropTempView(name)
            frame.unpersist()
        self._shared.clear()


def spark_failure(exc: Exception) -> InputError | RuntimeFailure:
    """A Spark error as a soekpi error: a missing table or column is an input problem."""
    text = str(exc).strip()
    first = (text.splitlines() or [type(exc).__name__])[0]
    if "SQLSTATE: 42" in first or "AnalysisException" in type(exc).__name__:
        return InputError(
            f"the Spark database does not match the catalogue ({first}); run 'soekpi check'"
        )
    return RuntimeFailure(f"Spark failed: {first}")


def spark_session(master: str, conf: dict[str, str]) -> Any:
    """The process's SparkSession (created on first use with soekpi's defaults and ``conf``).

    A local master binds to 127.0.0.1 and needs no network. Without pyspark this is a
    :class:`UsageError` naming the extra to install; without Java a :class:`RuntimeFailure`.
    """
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise UsageError(
            "the workspace names warehouse engine 'spark', which needs pyspark and Java 17+: "
            "pip install 'soekpi[spark]'"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    if master.startswith("local"):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    builder = SparkSession.builder.appName("soekpi")
    remote = master.startswith("sc://")  # Spark Connect: the server has its own settings
    builder = builder.remote(master) if remote else builder.master(master)
    for key, value in {**({} if remote else default_conf(master)), **conf}.items():
        builder = builder.config(key, value)
    try:
        session = builder.getOrCreate()
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RuntimeFailure(
            f"cannot start Spark (master '{master}'): {first}; is Java 17+ installed (JAVA_HOME)?"
        ) from None
    if not remote:
        # Failures reach the user as soekpi errors; Spark's own log would repeat them at length.
        session.sparkContext.setLogLevel("FATAL")
    return session


@contextmanager
def spark_reader(ws: Workspace) -> Iterator[SparkReader]:
    """A :class:`SparkReader` on the workspace's Spark database (``warehouse.database``)."""
    settings = ws.warehouse
    session = spark_session(settings.master, dict(settings.conf))
    try:
        exists = session.catalog.databaseExists(settings.database)
    except Exception as exc:
        raise spark_failure(exc) from None
    if not exists:
        raise InputError(
            f"warehouse.database: Spark has no database '{settings.database}'; create it and "
            "register the source tables in it (docs/scale-out.md)"
        )
    session.catalog.setCurrentDatabase(settings.database)
    reader = SparkReader(session, settings.database)
    try:
        yield reader
    finally:
        reader.close()


# ----------------------------------------------------------------------------- fingerprints


def spark_fingerprints(reader: SparkReader, catalogue: Catalogue) -> dict[str, dict[str, Any]]:
    """:func:`soekpi.warehouse.hashing.source_fingerprints` on Spark: the same multiset hash
    (row SHA-256s summed as two 64-bit halves), over Spark's text of each value. Stable on
    one engine; not comparable with a DuckDB fingerprint (the engines print values
    differently)."""
    from soekpi.warehouse.schema import table_sources

    def backtick(name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    result: dict[str, dict[str, Any]] = {}
    for source in table_sources(catalogue):
        names = sorted(source.columns)
        rows, upper, lower = 0, 0, 0
        if source.table_name in reader.tables and names:
            values = ", ".join(f"CAST({backtick(n)} AS STRING)" for n in names)
            half = "CAST(conv(substr(h, {0}, 16), 16, 10) AS DECIMAL(38,0))"
            found = reader.run_spark(
                f"SELECT count(*), coalesce(sum({half.format(1)}), 0), "
                f"coalesce(sum({half.format(17)}), 0) FROM (SELECT "
                f"sha2(to_json(array({values})), 256) AS h FROM "
                f"{backtick(reader.database)}.{backtick(source.table_name)})"
            ).fetchone()
            assert found is not None
            rows, upper, lower = found
        document = {
            "source": source.id,
            "columns": [[n, sql_type(source.columns[n].type)] for n in names],
            "rows": int(rows),
            "sums": [str(int(upper)), str(int(lower))],
            "engine": "spark",
        }
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        result[source.id] = {"rows": int(rows), "sha256": hashlib.sha256(text.encode()).hexdigest()}
    return result


def register_parquet(session: Any, database: str, folders: dict[str, str]) -> None:
    """Register Parquet folders as tables of ``database`` (created when missing):
    ``{table: folder}``. For tests and for trying soekpi on Spark without a metastore."""
    # The database's own folder sits beside the Parquet folders, not in the current folder.
    home = os.path.join(os.path.dirname(sorted(folders.values())[0]), f"{database}.db")
    session.sql(f"CREATE DATABASE IF NOT EXISTS `{database}` LOCATION '{home}'")
    for table, folder in sorted(folders.items()):
        session.sql(f"DROP TABLE IF EXISTS `{database}`.`{table}`")
        session.sql(f"CREATE TABLE `{database}`.`{table}` USING parquet LOCATION '{folder}'")
