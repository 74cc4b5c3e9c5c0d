"""What is sent to Spark: the statement check and the DuckDB → Spark rewrites (no Spark
needed), and the refusals of load and close on a Spark workspace."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from helpers import catalogue_workspace, write
from typer.testing import CliRunner

from soekpi.base.errors import InputError
from soekpi.cli import app
from soekpi.warehouse.spark import to_spark_sql

TABLES = {"ledger", "tickets"}


def refused(sql: str) -> str:
    with pytest.raises(InputError) as info:
        to_spark_sql(sql, None, TABLES)
    return info.value.message


def test_only_one_query_over_the_databases_tables_is_sent() -> None:
    assert refused("drop table ledger") == (
        "refused to send SQL to Spark: only a query is sent to Spark, not a DROP statement"
    )
    assert refused("select 1; select 2") == "only one statement at a time is sent to Spark"
    assert refused("select * from other.ledger") == (
        "refused to send SQL to Spark: reads 'other.ledger': name tables without a database"
    )
    assert refused("select * from secrets") == (
        "refused to send SQL to Spark: reads 'secrets', which is not a table of the Spark database"
    )
    assert refused("select * from read_parquet('/etc/x.parquet')") == (
        "refused to send SQL to Spark: table function 'read_parquet()' is not allowed on Spark"
    )
    assert refused("select getenv('HOME') from ledger") == (
        "refused to send SQL to Spark: function 'getenv()' is not allowed on Spark"
    )


def test_ctes_and_allowed_functions_pass() -> None:
    sql = to_spark_sql(
        "with t as (select abs(amount) as a from ledger) select coalesce(sum(a), 0) from t",
        None,
        TABLES,
    )
    assert (
        sql == "WITH t AS (SELECT ABS(amount) AS a FROM ledger) SELECT COALESCE(SUM(a), 0) FROM t"
    )


def test_parameters_fill_markers_in_written_order() -> None:
    sql = to_spark_sql(
        "select * from (select amount from ledger where period >= ?) where amount <= ? limit ?",
        [date(2025, 4, 1), 10.5, 3],
        TABLES,
    )
    assert sql == (
        "SELECT * FROM (SELECT amount FROM ledger WHERE period >= CAST('2025-04-01' AS DATE)) "
        "WHERE amount <= 10.5 LIMIT 3"
    )
    with pytest.raises(InputError) as info:
        to_spark_sql("select ? from ledger", [], TABLES)
    assert info.value.message == "SQL for Spark: 1 '?' marker(s) but 0 parameter(s)"


def test_division_is_a_double_division_as_in_duckdb() -> None:
    # DuckDB: 7 / 2.0 = 3.5 as DOUBLE; Spark would keep DECIMAL(…, 6)
    assert to_spark_sql("select amount / 2.0 from ledger") == (
        "SELECT CAST((amount) AS DOUBLE) / 2.0 FROM ledger"
    )


def test_date_diff_counts_boundaries_as_in_duckdb() -> None:
    # DuckDB: date_diff('minute', 10:00:59, 10:01:00) = 1 (a boundary crossed); Spark's
    # timestampdiff would say 0, so minutes are counted on truncated timestamps.
    assert to_spark_sql("select date_diff('minute', a, b) from tickets") == (
        "SELECT ((UNIX_SECONDS(CAST(DATE_TRUNC('MINUTE', b) AS TIMESTAMP)) - "
        "UNIX_SECONDS(CAST(DATE_TRUNC('MINUTE', a) AS TIMESTAMP))) DIV 60) FROM tickets"
    )
    assert to_spark_sql("select date_diff('month', a, b) from tickets") == (
        "SELECT ((YEAR(b) * 12 + MONTH(b) - 1) DIV 1 - (YEAR(a) * 12 + MONTH(a) - 1) DIV 1) "
        "FROM tickets"
    )


def test_average_cast_to_decimal_rounds_like_duckdb() -> None:
    sql = to_spark_sql("select cast(avg(x) filter (where n > 0) as decimal(38,10)) from ledger")
    assert sql == (
        "SELECT CAST(CAST(ROUND((CAST(SUM(x) FILTER(WHERE n > 0) AS DOUBLE) "
        "/ COUNT(x) FILTER(WHERE n > 0)) * CAST(10000000000 AS DOUBLE)) AS DECIMAL(27, 0)) / "
        "CAST(10000000000 AS DECIMAL(11, 0)) AS DECIMAL(38, 10)) FROM ledger"
    )


def test_month_ranges_become_sequences_without_the_end() -> None:
    sql = to_spark_sql(
        "select cast(unnest(range(a, b, interval 1 month)) as date) as m from tickets"
    )
    assert sql == (
        "SELECT EXPLODE(CAST(IF(((b) - INTERVAL '1' MONTH) < (a), ARRAY(), "
        "SEQUENCE(a, (b) - INTERVAL '1' MONTH, INTERVAL '1' MONTH)) AS ARRAY<DATE>)) AS m "
        "FROM tickets"
    )


@pytest.fixture()
def spark_ws(tmp_path: Path) -> Path:
    sources = (
        "sources:\n  ledger:\n    time_column: period\n    columns:\n"
        "      period: {type: date, required: true}\n"
    )
    settings = "warehouse: {engine: spark, database: lake}\n"
    catalogue_workspace(tmp_path, {"sources.yaml": sources}, settings=settings)
    write(tmp_path / "ledger.csv", "period\n2025-01-01\n")
    return tmp_path


@pytest.mark.parametrize(
    "args", [["load", "ledger", "ledger.csv"], ["close", "FY2025-Q1"]], ids=["load", "close"]
)
def test_load_and_close_refuse_a_spark_workspace(spark_ws: Path, args: list[str]) -> None:
    if args[0] == "load":
        args = [*args[:2], str(spark_ws / args[2])]
    result = CliRunner().invoke(app, ["-w", str(spark_ws), *args])
    assert result.exit_code == 2, result.output
    assert result.stderr.strip() == (
        f"error: this command needs a DuckDB warehouse; {spark_ws / 'soekpi.yaml'} names "
        "engine 'spark', which soekpi only reads: load its tables with the lake's own "
        "pipelines (docs/scale-out.md)"
    )


def test_catalogue_lookups_read_the_readers_views() -> None:
    sql = to_spark_sql(
        "select column_name, data_type from information_schema.columns where table_name = ?",
        ["ledger"],
        TABLES,
    )
    assert sql == (
        "SELECT column_name, data_type FROM __soekpi_information_schema_columns AS columns "
        "WHERE table_name = 'ledger'"
    )
    sql = to_spark_sql("select constraint_column_names from duckdb_constraints()", None, TABLES)
    assert sql == ("SELECT constraint_column_names FROM __soekpi_duckdb_constraints AS constraints")
    assert refused("select * from duckdb_settings()") == (
        "refused to send SQL to Spark: table function 'duckdb_settings()' is not allowed on Spark"
    )


def test_the_entity_closure_is_shared_between_statements() -> None:
    seen: list[str] = []

    def share(body: str) -> str:
        seen.append(body)
        return "__shared_1"

    sql = to_spark_sql(
        "with __closure as (select a, b from ledger), x as (select a from ledger) "
        "select * from __closure join x using (a)",
        None,
        TABLES,
        share=share,
    )
    assert seen == ["SELECT a, b FROM ledger"]  # only the closure, not the other CTE
    assert sql == (
        "WITH __closure AS (SELECT * FROM __shared_1), x AS (SELECT a FROM ledger) "
        "SELECT * FROM __closure JOIN x USING (a)"
    )


def test_local_mode_defaults() -> None:
    from soekpi.warehouse.spark import default_conf

    local = default_conf("local[2]")
    assert local["spark.sql.shuffle.partitions"] == "4"  # two per core
    assert default_conf("local[16]")["spark.sql.shuffle.partitions"] == "8"  # at most 8
    assert default_conf("local")["spark.sql.shuffle.partitions"] == "2"  # one core: 2
    assert local["spark.driver.extraJavaOptions"] == (
        "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=256m"
    )
    assert local["spark.sql.adaptive.enabled"] == "true"
    cluster = default_conf("yarn")
    assert "spark.sql.shuffle.partitions" not in cluster
    assert "spark.driver.extraJavaOptions" not in cluster
