"""Fixtures of the Spark tests: ONE local SparkSession for the whole run (skipped, with the
reason, when pyspark or Java 17+ is missing; see spark_twins.py)."""

from __future__ import annotations

from typing import Any

import pytest
from spark_twins import spark_missing


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
