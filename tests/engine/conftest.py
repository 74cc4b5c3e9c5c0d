"""Fixtures of the engine tests: the golden warehouse (tests/golden_workspace.py), computed
once."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden_workspace import GOLDEN_CYCLES, build_golden

from soekpi.base.calendar import parse_cycle
from soekpi.catalogue.model import Catalogue
from soekpi.engine import KpiResult, compute
from soekpi.workspace import Workspace


@pytest.fixture(scope="session")
def golden(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Catalogue]:
    """The golden workspace and its catalogue (the warehouse is filled)."""
    return build_golden(Path(tmp_path_factory.mktemp("golden")) / "ws")


@pytest.fixture(scope="session")
def result(golden: tuple[Workspace, Catalogue]) -> KpiResult:
    """Every KPI of the golden catalogue for every entity and GOLDEN_CYCLES."""
    ws, catalogue = golden
    return compute(ws, catalogue, [parse_cycle(c) for c in GOLDEN_CYCLES])
