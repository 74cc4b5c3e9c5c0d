"""``soekpi check``: the catalogue first, then the warehouse against the contracts."""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

from soekpi.base.errors import Problem
from soekpi.catalogue import load_catalogue

if TYPE_CHECKING:
    from soekpi.workspace import Workspace


def run_checks(ws: Workspace) -> list[Problem]:
    """Validate the catalogue, then the warehouse data (a DuckDB file when it exists, or the
    Spark database of a Spark workspace).

    A broken catalogue raises CatalogueError (exit 2, every problem on its own line); the
    returned problems are findings in the data (exit 1). An empty list means all is clean.
    """
    catalogue = load_catalogue(ws)
    if ws.warehouse.engine == "duckdb" and (
        ws.warehouse.path is None or not ws.warehouse.path.exists()
    ):
        return []
    if importlib.util.find_spec("soekpi.warehouse.datacheck") is None:
        return []
    datacheck = importlib.import_module("soekpi.warehouse.datacheck")
    problems: list[Problem] = datacheck.check_data(ws, catalogue)
    return problems
