"""Helpers of the Spark tests: whether Spark can run here, and the copy of a DuckDB workspace's
tables to Parquet registered as Spark tables (the ``spark`` fixture is in conftest.py).

The tests that need Spark are skipped, with the reason, when pyspark (``pip install
'soekpi[spark]'``) or Java 17+ is missing.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any


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
