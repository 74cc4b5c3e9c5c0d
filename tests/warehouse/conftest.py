"""Fixtures of the warehouse tests: the workspace of wh_data.py (the ``workspace`` and
``soekpi`` fixtures themselves are tests/conftest.py's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import load_csvs
from wh_data import CATALOGUE, ENTITIES


@pytest.fixture
def workspace_catalogue() -> str:
    return CATALOGUE


@pytest.fixture
def with_entities(workspace: Path, tmp_path: Path) -> Path:
    """The workspace with G, A, B loaded."""
    return load_csvs(workspace, [("entities", "entities.csv", ENTITIES)], tmp_path)
