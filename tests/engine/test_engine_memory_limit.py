"""soekpi.yaml ``warehouse.memory_limit``: DuckDB keeps to it (spilling to a temporary
folder of the process) and no number changes."""

from __future__ import annotations

import os
import tempfile
from dataclasses import replace
from pathlib import Path

from soekpi.calendar import parse_cycle
from soekpi.catalogue.model import Catalogue
from soekpi.engine import compute
from soekpi.warehouse.sandbox import sandbox
from soekpi.workspace import Workspace


def test_the_limit_is_set_and_the_values_are_the_same(golden: tuple[Workspace, Catalogue]) -> None:
    ws, catalogue = golden
    limited = replace(ws, warehouse=replace(ws.warehouse, memory_limit="64MB"))
    with sandbox(limited) as con:
        [(limit, spill)] = con.sql(
            "SELECT current_setting('memory_limit'), current_setting('temp_directory')"
        ).fetchall()
    assert limit == "61.0 MiB"  # DuckDB shows 64,000,000 bytes in MiB
    assert Path(spill) == Path(tempfile.gettempdir()) / f"soekpi-{os.getpid()}"
    with sandbox(ws) as con:
        [(default,)] = con.sql("SELECT current_setting('memory_limit')").fetchall()
    assert default != limit

    cycles = [parse_cycle("FY2026-Q1"), parse_cycle("FY2026-Q2")]
    assert compute(limited, catalogue, cycles).values.equals(
        compute(ws, catalogue, cycles).values, null_equal=True
    )
