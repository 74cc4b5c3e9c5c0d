"""Fixtures of the audit tests: the workspace of audit_data.py, loaded and published (the
``workspace`` and ``soekpi`` fixtures themselves are tests/conftest.py's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from audit_data import CATALOGUE, ENTITIES, LEDGER_WITHOUT_LATE_COST, Q1_LEDGER
from helpers import Invoke, load_csvs


@pytest.fixture
def workspace_catalogue() -> str:
    return CATALOGUE


@pytest.fixture
def loaded(workspace: Path, tmp_path: Path) -> Path:
    """The workspace with entities and the FY2026-Q1 ledger loaded."""
    loads = [("entities", "entities.csv", ENTITIES), ("financials", "financials.csv", Q1_LEDGER)]
    return load_csvs(workspace, loads, tmp_path)


@pytest.fixture
def published(
    workspace: Path, soekpi: Invoke, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The workspace with Q1 loaded (B's March cost still missing) and its report run written
    to out/FY2026-Q1; returns the run folder."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1775000000")
    ledger = LEDGER_WITHOUT_LATE_COST
    loads = [("entities", "entities.csv", ENTITIES), ("financials", "financials.csv", ledger)]
    load_csvs(workspace, loads, tmp_path)
    result = soekpi("report", "--cycle", "FY2026-Q1")
    assert result.exit_code == 0, result.output
    return workspace / "out" / "FY2026-Q1"
