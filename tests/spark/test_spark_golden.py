"""The engine's golden suite (tests/engine) on Spark local mode: the same warehouse written as
Parquet and registered as Spark tables must give identical values and statuses, and every
golden test that reads the computed result must pass on the Spark result too."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from golden_workspace import GOLDEN_CYCLES, build_golden
from spark_twins import copy_to_spark, spark_twin

from soekpi.base.calendar import parse_cycle
from soekpi.catalogue import load_catalogue
from soekpi.engine import KpiResult, compute
from soekpi.workspace import read_workspace

pytestmark = pytest.mark.spark

ENGINE_TESTS = Path(__file__).resolve().parents[1] / "engine"
GOLDEN_MODULES = ("test_engine_measures", "test_engine_kpis", "test_engine_completeness")
CYCLES = GOLDEN_CYCLES


@pytest.fixture(scope="module")
def both(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[KpiResult, KpiResult]:
    """The golden KPIs computed on DuckDB and on Spark from the same rows."""
    root = Path(tmp_path_factory.mktemp("spark_golden"))
    ws, catalogue = build_golden(root / "duck")
    copy_to_spark(spark, ws.warehouse_path, "golden", root / "parquet")
    twin = read_workspace(
        spark_twin(root / "duck", root / "spark", "golden", "fiscal_year: {start_month: 4}\n")
    )
    cycles = [parse_cycle(c) for c in CYCLES]
    on_duckdb = compute(ws, catalogue, cycles)
    on_spark = compute(twin, load_catalogue(twin), cycles)
    return on_duckdb, on_spark


def test_spark_gives_identical_values_and_statuses(both: tuple[KpiResult, KpiResult]) -> None:
    on_duckdb, on_spark = both
    assert on_spark.values.height == on_duckdb.values.height > 0
    assert on_spark.values.to_dicts() == on_duckdb.values.to_dicts()
    assert on_spark.missing.to_dicts() == on_duckdb.missing.to_dicts()
    assert on_spark.components.to_dicts() == on_duckdb.components.to_dicts()
    assert on_spark.hierarchy.to_dicts() == on_duckdb.hierarchy.to_dicts()


def _golden_tests() -> list[tuple[str, Callable[[KpiResult], None]]]:
    found = []
    for name in GOLDEN_MODULES:
        path = ENGINE_TESTS / f"{name}.py"
        if not path.is_file():
            continue
        # loaded from its file under a name of its own: whether or not pytest also collects
        # tests/engine in this run, and without putting tests/engine on sys.path
        spec = importlib.util.spec_from_file_location(f"spark_golden_{name}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        for test_name, fn in inspect.getmembers(module, inspect.isfunction):
            params = list(inspect.signature(fn).parameters)
            if test_name.startswith("test_") and params == ["result"]:
                found.append((f"{name}.{test_name}", fn))
    return sorted(found, key=lambda item: item[0])


GOLDEN = _golden_tests()


@pytest.mark.parametrize("golden_test", [fn for _, fn in GOLDEN], ids=[n for n, _ in GOLDEN])
def test_golden_suite_on_spark(
    golden_test: Callable[[KpiResult], None], both: tuple[KpiResult, KpiResult]
) -> None:
    golden_test(both[1])


def test_the_golden_suite_was_found() -> None:
    assert len(GOLDEN) >= 10
