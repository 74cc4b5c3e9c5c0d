"""The demo group's report for its latest quarter is identical — kpis.json byte for byte —
whether computed on DuckDB or on Spark local mode; ``verify`` and ``check`` work on Spark."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import demo_workspace
from spark_twins import copy_to_spark, spark_twin
from typer.testing import CliRunner

from soekpi.cli import app

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_runs(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The demo (small scale) reported on DuckDB and on Spark: (duck run, spark run, cycle)."""
    root = Path(tmp_path_factory.mktemp("spark_demo"))
    runner = CliRunner()
    demo_workspace(root / "duck", scale="0.05")
    copy_to_spark(spark, root / "duck" / "data" / "warehouse.duckdb", "demo", root / "parquet")
    spark_ws = spark_twin(root / "duck", root / "spark", "demo")
    runs = []
    for ws in (root / "duck", spark_ws):
        done = runner.invoke(app, ["-w", str(ws), "report", "--cycle", "latest"])
        assert done.exit_code == 0, done.output
        runs.append(Path(done.stdout.strip()))
    assert runs[0].name == runs[1].name
    return runs[0], runs[1], runs[0].name


def test_latest_quarter_kpis_json_is_byte_identical(demo_runs: tuple[Path, Path, str]) -> None:
    duck, spark_run, _ = demo_runs
    assert (spark_run / "kpis.json").read_bytes() == (duck / "kpis.json").read_bytes()
    assert (spark_run / "kpis.csv").read_bytes() == (duck / "kpis.csv").read_bytes()


def test_verify_recomputes_a_spark_run_on_spark(demo_runs: tuple[Path, Path, str]) -> None:
    _, spark_run, _ = demo_runs
    ws = spark_run.parents[1]
    done = CliRunner().invoke(app, ["-w", str(ws), "verify", str(spark_run)])
    assert done.exit_code == 0, done.output
