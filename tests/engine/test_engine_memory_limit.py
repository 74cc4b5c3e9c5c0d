"""DuckDB's memory limit: soekpi.yaml ``warehouse.memory_limit``, else soekpi's own for the
measure queries (run again at DuckDB's default when it is too small). DuckDB keeps to it
(spilling to a temporary folder of the process) and no number changes."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import soekpi.engine.measures as measures_module
import soekpi.warehouse.sandbox as sandbox_module
from soekpi.base.calendar import parse_cycle
from soekpi.catalogue.model import Catalogue
from soekpi.cli import app
from soekpi.engine import compute
from soekpi.warehouse.sandbox import sandbox
from soekpi.workspace import Workspace

compute_module = sys.modules["soekpi.engine.compute"]


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


def test_measure_queries_run_under_soekpis_limit_and_again_without_it_when_short(
    golden: tuple[Workspace, Catalogue], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without warehouse.memory_limit the measure queries run under MEASURE_MEMORY_LIMIT;
    a query that runs out of it is run again on a connection with DuckDB's own limit."""
    ws, catalogue = golden
    cycles = [parse_cycle("FY2026-Q1")]
    expected = compute(ws, catalogue, cycles).values
    limits: list[str | None] = []
    real = sandbox_module.sandbox

    @contextmanager
    def spy(
        ws: Workspace, wait: float = 0, memory_limit: str | None = None, as_of: int | None = None
    ) -> Iterator[Any]:
        limits.append(memory_limit)
        with real(ws, wait, memory_limit, as_of) as con:
            yield con

    monkeypatch.setattr(sandbox_module, "sandbox", spy)
    assert compute(ws, catalogue, cycles).values.equals(expected, null_equal=True)
    assert limits == [compute_module.MEASURE_MEMORY_LIMIT]

    limits.clear()
    monkeypatch.setattr(compute_module, "MEASURE_MEMORY_LIMIT", "1MB")  # DuckDB fails at once
    assert compute(ws, catalogue, cycles).values.equals(expected, null_equal=True)
    assert limits == ["1MB", None]


def test_a_limit_set_in_soekpi_yaml_is_kept_and_the_error_says_to_raise_it(
    golden: tuple[Workspace, Catalogue], tmp_path: Path
) -> None:
    ws, _ = golden
    root = tmp_path / "ws"
    root.mkdir()
    (root / "soekpi.yaml").write_text(
        f"warehouse: {{path: '{ws.warehouse_path}', memory_limit: 1MB}}\n"
        f"catalogue: '{ws.root / 'metrics'}'\n"
        "fiscal_year: {start_month: 4}\n",
        encoding="utf-8",
    )
    got = CliRunner().invoke(
        app, ["-w", str(root), "compute", "--cycle", "FY2026-Q1", "--format", "json"]
    )
    assert got.exit_code == 3
    assert got.stdout == ""
    [line] = got.stderr.strip().splitlines()
    assert "Out of Memory" in line
    assert line.endswith("raise warehouse.memory_limit in soekpi.yaml (now 1MB)")


def test_the_values_wait_on_disk_until_the_connection_is_closed(
    golden: tuple[Workspace, Catalogue], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each source's values go to a temporary folder while DuckDB runs the next queries,
    come back after the connection is closed, and the folder is gone afterwards, also
    when the queries run a second time (out of memory under soekpi's limit)."""
    ws, catalogue = golden
    cycles = [parse_cycle("FY2026-Q1")]
    expected = compute(ws, catalogue, cycles).values
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    events: list[str] = []
    real_sandbox, real_load = sandbox_module.sandbox, measures_module.PendingMeasures.load

    @contextmanager
    def spy(
        ws: Workspace, wait: float = 0, memory_limit: str | None = None, as_of: int | None = None
    ) -> Iterator[Any]:
        events.append("open")
        with real_sandbox(ws, wait, memory_limit, as_of) as con:
            yield con
        events.append("closed")

    def load(self: Any) -> Any:
        on_disk = [p for p in self.files if p.is_file() and temp in p.parents]
        events.append(f"load {len(on_disk)} of {len(self.files)} files")
        return real_load(self)

    monkeypatch.setattr(sandbox_module, "sandbox", spy)
    monkeypatch.setattr(measures_module.PendingMeasures, "load", load)
    files = len(catalogue.sources) - 1  # a file per source of the golden catalogue's KPIs
    assert compute(ws, catalogue, cycles).values.equals(expected, null_equal=True)
    assert events == ["open", "closed", f"load {files} of {files} files"]
    assert list(temp.iterdir()) == []

    events.clear()
    monkeypatch.setattr(compute_module, "MEASURE_MEMORY_LIMIT", "1MB")  # DuckDB fails at once
    assert compute(ws, catalogue, cycles).values.equals(expected, null_equal=True)
    assert events == ["open", "open", "closed", f"load {files} of {files} files"]
    assert list(temp.iterdir()) == []
