"""The API behind ``soekpi load`` and ``soekpi cycles``: one call each, plus their tables.

The warehouse work is in :mod:`soekpi.warehouse`; this module loads the catalogue, calls it,
and turns the results into rich tables for the CLI to show.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from soekpi.base.calendar import NO_COMPLETE_QUARTER
from soekpi.base.errors import UsageError

if TYPE_CHECKING:
    from rich.table import Table

    from soekpi.base.calendar import Cycle
    from soekpi.warehouse.coverage import QuarterCoverage
    from soekpi.warehouse.load import LoadSummary, ProgressFn
    from soekpi.workspace import Workspace


def load_extracts(
    ws: Workspace,
    source_id: str,
    files: list[Path],
    mode: str = "append",
    wait: float = 0,
    progress: ProgressFn | None = None,
) -> LoadSummary:
    """Load extract files into a source (SPEC §4); see :func:`soekpi.warehouse.load.load_files`.

    Example: ``load_extracts(ws, "financials", [Path("ledger_2025_q1.csv")])``
    """
    from soekpi.catalogue import load_catalogue
    from soekpi.warehouse.load import load_files

    return load_files(ws, load_catalogue(ws), source_id, files, mode, wait, progress)


def render_text(renderable: Any, width: int = 110) -> str:
    """A rich renderable as plain text (for stderr messages)."""
    import io

    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True, highlight=False, force_terminal=False).print(
        renderable
    )
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())


def load_summary_table(summary: LoadSummary) -> Table:
    """Per file: rows read, loaded, rejected (by column and reason) and replaced."""
    from rich.table import Table

    replace = summary.mode == "replace"
    table = Table(title=f"load into {summary.source} ({summary.mode})", title_justify="left")
    table.add_column("file")
    table.add_column("read", justify="right")
    table.add_column("loaded", justify="right")
    table.add_column("rejected", justify="right")
    if replace:
        table.add_column("replaced", justify="right")
    table.add_column("rejected rows by reason")
    for item in summary.files:
        reasons = "\n".join(f"{reason}: {n}" for reason, n in item.rejected_by_reason) or "-"
        cells = [item.file, str(item.rows_read), str(item.rows_loaded), str(item.rows_rejected)]
        if replace:
            cells.append(str(item.rows_replaced))
        table.add_row(*cells, reasons)
    return table


def cycle_overview(ws: Workspace) -> list[QuarterCoverage]:
    """The fiscal quarters that have data, with the coverage of each source (oldest first)."""
    from soekpi.catalogue import load_catalogue
    from soekpi.warehouse.coverage import quarter_coverage
    from soekpi.warehouse.sandbox import sandbox

    catalogue = load_catalogue(ws)
    with sandbox(ws) as con:  # read-only; a Spark reader on a Spark workspace
        return quarter_coverage(con, catalogue, ws.fiscal)


def latest_complete_quarter(ws: Workspace) -> Cycle:
    """SPEC §2 ``latest``; a UsageError when no quarter is complete yet."""
    from soekpi.catalogue import load_catalogue
    from soekpi.warehouse.coverage import latest_quarter
    from soekpi.warehouse.sandbox import sandbox

    catalogue = load_catalogue(ws)
    with sandbox(ws) as con:
        found = latest_quarter(con, catalogue, ws.fiscal)
    if found is None:
        raise UsageError(NO_COMPLETE_QUARTER)
    return found


def cycles_table(quarters: list[QuarterCoverage]) -> Table:
    """One row per quarter: dates, each source's coverage, closed or not.

    Monthly sources show ``entities reporting/expected · months complete/3``; the other
    sources the number of rows in the quarter."""
    from rich.table import Table

    table = Table()
    table.add_column("cycle")
    table.add_column("dates")
    names = [s.source for s in quarters[0].sources] if quarters else []
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("closed")
    for quarter in quarters:
        cells = [quarter.cycle.name, f"{quarter.start}..{quarter.end}"]
        for cov in quarter.sources:
            if cov.entities_expected is None:
                cells.append(f"{cov.rows} rows")
            elif cov.entities_expected == 0:
                cells.append("-")
            else:
                cells.append(
                    f"{cov.entities_reporting}/{cov.entities_expected} · "
                    f"{cov.months_complete}/{cov.months} mo"
                )
        if quarter.fully_closed:
            closed = "closed"
        elif quarter.closed:
            closed = "partly: " + ", ".join(quarter.closed)
        else:
            closed = "open"
        cells.append(closed)
        table.add_row(*cells)
    return table
