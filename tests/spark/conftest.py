"""Fixtures of the Spark tests: ONE local SparkSession for the whole run, and helpers that
copy a DuckDB workspace's tables to Parquet and register them as Spark tables.

The tests that need Spark are skipped, with the reason, when pyspark (``pip install
'soekpi[spark]'``) or Java 17+ is missing.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

# The engine's golden suite (tests/engine) is run again on Spark: make its modules importable.
ENGINE_TESTS = Path(__file__).resolve().parents[1] / "engine"
if str(ENGINE_TESTS) not in sys.path:
    sys.path.insert(0, str(ENGINE_TESTS))


def _java_major() -> int | None:
    java = shutil.which("java")
    if java is None:
        return None
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if match is None:
        return None
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("pyarrow") is None:
        return "pyspark/pyarrow not installed (pip install -e '.[spark]')"
    major = _java_major()
    if major is None:
        return "no Java found (Spark needs Java 17+)"
    if major < 17:
        return f"Java {major} found; Spark 4 needs Java 17+"
    return None


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The one local SparkSession of the test run (soekpi's own defaults; its warehouse
    folder in a temporary directory, not the checkout)."""
    reason = spark_missing()
    if reason:
        pytest.skip(reason)
    from soekpi.warehouse.spark import spark_session

    folder = tmp_path_factory.mktemp("spark-warehouse")
    return spark_session("local[2]", {"spark.sql.warehouse.dir": str(folder)})


def copy_to_spark(spark: Any, duckdb_file: Path, database: str, folder: Path) -> None:
    """Write every source table of a DuckDB warehouse to Parquet under ``folder`` and
    register them as tables of the Spark ``database`` (system tables stay behind)."""
    import duckdb

    from soekpi.warehouse.spark import register_parquet

    con = duckdb.connect(str(duckdb_file), read_only=True)
    folders = {}
    try:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'main' "
            "order by 1"
        ).fetchall()
        for (table,) in tables:
            if table.startswith("_"):
                continue
            target = folder / table
            target.mkdir(parents=True)
            con.execute(f"copy \"{table}\" to '{target / 'part.parquet'}' (format parquet)")
            folders[table] = str(target)
    finally:
        con.close()
    register_parquet(spark, database, folders)


def spark_twin(source_ws: Path, target: Path, database: str, settings: str = "") -> Path:
    """A workspace at ``target`` with the catalogue of ``source_ws`` and a Spark warehouse."""
    shutil.copytree(source_ws / "metrics", target / "metrics")
    (target / "soekpi.yaml").write_text(
        f"warehouse: {{engine: spark, master: 'local[2]', database: {database}}}\n{settings}",
        encoding="utf-8",
    )
    return target
