"""Fixtures shared by every folder of the test suite.

pytest loads this file before any test module under tests/, whatever subset of folders it
collects, so it also puts tests/ on ``sys.path``: test modules import the plain helpers with
``from helpers import ...`` (and the engine's golden data with ``from golden_workspace import
...``). No test module imports a conftest by name; folder conftests add fixtures of their own.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import Result

TESTS = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from helpers import Invoke, catalogue_workspace, demo_workspace, invoke  # noqa: E402


@pytest.fixture
def workspace(tmp_path: Path, workspace_catalogue: str) -> Path:
    """An empty workspace at ``tmp_path / "ws"`` (catalogue only, no warehouse yet): the
    calendar-year settings and the folder's ``workspace_catalogue`` fixture as its catalogue."""
    return catalogue_workspace(tmp_path / "ws", workspace_catalogue)


@pytest.fixture
def soekpi(workspace: Path) -> Invoke:
    """Run the CLI in-process in the ``workspace`` fixture: ``soekpi("load", "ledger", path)``
    gives the click Result (exit code, stdout, stderr, output)."""

    def bound(*args: str | Path) -> Result:
        return invoke(workspace, *args)

    return bound


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One scale-1 demo workspace (``SOEKPI_TODAY`` = helpers.DEMO_TODAY) for the whole run.
    Shared: read it, or copy it before writing into it."""
    return demo_workspace(tmp_path_factory.mktemp("demo") / "acme")
