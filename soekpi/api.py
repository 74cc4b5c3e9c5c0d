"""The use cases: one function per command, called by the CLI and by the tests alike.

Each takes the workspace (or what the command works on) and the parsed options, calls the
core, and returns typed results; it never prints (:mod:`soekpi.cli` shows the results).

Example::

    ws = find_workspace(None)
    catalogue, result = compute(ws, "latest", entities=["G01"])
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soekpi.audit.closing import ClosedCycle, close_cycle, reopen_cycle
from soekpi.audit.diff import RunDiff, diff_runs
from soekpi.audit.verify import Verification, verify_run
from soekpi.base.calendar import Cycle
from soekpi.base.errors import Problem, UsageError
from soekpi.base.resources import default_catalogue_dir
from soekpi.catalogue import load_catalogue
from soekpi.catalogue.describe import KPI_COLUMNS, find_kpi, kpi_fields, kpi_rows
from soekpi.catalogue.model import Catalogue
from soekpi.catalogue.reference import catalogue_reference
from soekpi.engine import KpiResult, compute_values, resolve
from soekpi.engine import compute as compute_kpis
from soekpi.output import values_csv_chunks, values_json_chunks
from soekpi.report.run import RunResult, build_run, write_report
from soekpi.warehouse.coverage import QuarterCoverage, quarter_coverage
from soekpi.warehouse.datacheck import check_data
from soekpi.warehouse.demo import build_demo, check_demo_options
from soekpi.warehouse.ledger import LoadRecord, list_loads
from soekpi.warehouse.load import LoadSummary, load_files, table_source
from soekpi.warehouse.pins import CycleInputs, cycle_inputs
from soekpi.warehouse.sandbox import sandbox
from soekpi.workspace import Workspace, check_new_workspace, create_workspace

Progress = Callable[..., Any]
#: Where a use case sends its one-line notice (a closed cycle computed with its pin).
Notice = Callable[[str], None]


def init(
    directory: Path,
    demo: bool = False,
    seed: int = 42,
    scale: float = 1.0,
    progress: Progress | None = None,
) -> Workspace:
    """``soekpi init``: a new workspace with the default catalogue; with ``demo`` its
    warehouse holds the synthetic group (same seed, same data). Nothing is written when
    the folder is already a workspace or not empty."""
    target = check_new_workspace(directory)
    if demo:
        check_demo_options(seed, scale)

    def fill(ws: Workspace) -> None:
        build_demo(ws, seed=seed, scale=scale, progress=progress)

    return create_workspace(target, default_catalogue_dir(), fill if demo else None)


def load(
    ws: Workspace,
    source: str,
    files: list[Path],
    mode: str = "append",
    wait: float = 0,
    progress: Progress | None = None,
) -> LoadSummary:
    """``soekpi load``: the extract ``files`` into ``source`` (SPEC §4; see
    :func:`soekpi.warehouse.load.load_files`)."""
    return load_files(ws, load_catalogue(ws), source, files, mode, wait, progress)


def loads(ws: Workspace, source: str | None = None) -> list[LoadRecord]:
    """``soekpi loads``: every load in the ledger (of ``source`` when given), by id. A source
    the catalogue does not have and the ledger never saw is a UsageError (exit 2)."""
    if ws.warehouse.engine == "spark":
        raise UsageError("loads: a Spark warehouse is not loaded by soekpi and has no ledger")
    with sandbox(ws) as con:
        records = list_loads(con, source)
    if source is not None and not records:
        table_source(load_catalogue(ws), source)  # an unknown source: did-you-mean
    return records


def loads_json(records: Sequence[LoadRecord]) -> str:
    """``soekpi loads --format json``: one array of {id, time, source, mode, files [{name,
    sha256}], read, loaded, rejected, restated}, by id; time in ISO 8601 (seconds)."""
    import json

    doc = [
        {
            "id": r.id,
            "time": r.time.isoformat(timespec="seconds"),
            "source": r.source,
            "mode": r.mode,
            "files": [{"name": name, "sha256": digest} for name, digest in r.files],
            "read": r.read,
            "loaded": r.loaded,
            "rejected": r.rejected,
            "restated": r.restated,
        }
        for r in records
    ]
    return json.dumps(doc, indent=2, ensure_ascii=False)


def check(ws: Workspace) -> list[Problem]:
    """``soekpi check``: the catalogue, then the warehouse data (a DuckDB file when it
    exists, or the Spark database of a Spark workspace) against the contracts.

    A broken catalogue raises CatalogueError (exit 2, every problem on its own line); the
    returned problems are findings in the data (exit 1); an empty list means all is clean."""
    catalogue = load_catalogue(ws)
    no_file = ws.warehouse.path is None or not ws.warehouse.path.exists()
    if ws.warehouse.engine == "duckdb" and no_file:
        return []
    return check_data(ws, catalogue)


@dataclass(frozen=True)
class KpiListing:
    """``soekpi kpis``: every KPI as a row of ``columns``, or one KPI's (field, text) rows."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]]
    detail: bool


def kpis(ws: Workspace, kpi: str | None = None) -> KpiListing:
    """``soekpi kpis [ID]``: the catalogue, or one KPI in full with its resolved formula."""
    catalogue = load_catalogue(ws)
    if kpi is None:
        rows = kpi_rows(catalogue, ws.language)
        return KpiListing(f"{len(catalogue.kpis)} KPIs", KPI_COLUMNS, rows, detail=False)
    found = find_kpi(catalogue, kpi)
    title = f"{found.id}: {found.label(ws.language)}"
    return KpiListing(
        title, ("field", "value"), list(kpi_fields(catalogue, kpi, ws.language)), True
    )


def cycles(ws: Workspace) -> list[QuarterCoverage]:
    """``soekpi cycles``: the fiscal quarters that have data, with the coverage of each
    source (oldest first)."""
    catalogue = load_catalogue(ws)
    with sandbox(ws) as con:  # read-only; a Spark reader on a Spark workspace
        return quarter_coverage(con, catalogue, ws.fiscal)


def latest_cycle(ws: Workspace) -> Cycle:
    """``soekpi cycles --latest``: SPEC §2 ``latest``; a UsageError when no quarter is
    complete yet."""
    return resolve(ws, load_catalogue(ws), "latest")


def _cycle_inputs(
    ws: Workspace, cycle: str, notice: Notice | None, as_of: int | None
) -> CycleInputs:
    """What ``cycle`` is computed with (a closed cycle: its pin; warehouse/pins.py decides);
    the notice of a closed cycle whose pinned definitions differ goes to ``notice``."""
    inputs = cycle_inputs(ws, load_catalogue(ws), cycle, as_of)
    if inputs.notice is not None and notice is not None:
        notice(inputs.notice)
    return inputs


def compute(
    ws: Workspace,
    cycle: str,
    entities: list[str] | None = None,
    kpis: list[str] | None = None,
    progress: Progress | None = None,
    notice: Notice | None = None,
    as_of: int | None = None,
) -> tuple[Catalogue, KpiResult]:
    """``soekpi compute --format table``: the catalogue and the KPI values of ``cycle`` (a
    closed cycle: with its pinned definitions and data, see ``notice``); ``as_of``: on the
    data as they stood right after that load (an unknown load id: UsageError, exit 2)."""
    inputs = _cycle_inputs(ws, cycle, notice, as_of)
    result = compute_kpis(
        inputs.workspace(ws),
        inputs.catalogue,
        [inputs.cycle],
        entities,
        kpis,
        progress,
        as_of=inputs.as_of,  # a closed cycle: its pinned load unless --as-of says otherwise
    )
    return inputs.catalogue, result


def compute_encoded(
    ws: Workspace,
    cycle: str,
    fmt: str,
    entities: list[str] | None = None,
    kpis: list[str] | None = None,
    progress: Progress | None = None,
    notice: Notice | None = None,
    as_of: int | None = None,
) -> Iterator[bytes]:
    """``soekpi compute --format json|csv``: the text in UTF-8 pieces, computed entity batch
    by entity batch (a large group is never held whole). The values are pulled from the
    warehouse now: errors are raised here, before the first piece. A closed cycle is
    computed with its pin (see :func:`compute`); ``as_of`` as there."""
    inputs = _cycle_inputs(ws, cycle, notice, as_of)
    pieces = compute_values(
        inputs.workspace(ws),
        inputs.catalogue,
        [inputs.cycle],
        entities,
        kpis,
        progress,
        as_of=inputs.as_of,  # a closed cycle: its pinned load unless --as-of says otherwise
    )
    return values_json_chunks(pieces) if fmt == "json" else values_csv_chunks(pieces)


def report(
    ws: Workspace,
    cycle: str,
    out: Path | None = None,
    formats: Sequence[str] = ("html", "md"),
    lang: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    as_of: int | None = None,
) -> RunResult:
    """``soekpi report``: one run folder, published atomically (SPEC §6.1); ``as_of``: the
    data as they stood right after that load (default: the last load)."""
    return write_report(
        ws, load_catalogue(ws), cycle, out, formats, lang, force, progress, as_of=as_of
    )


def diff(
    run_a: Path,
    run_b: Path,
    tolerance: float = 0.0,
    entity: str | None = None,
    kpi: str | None = None,
) -> RunDiff:
    """``soekpi diff``: two run folders compared by (entity, kpi) (SPEC §6.2)."""
    return diff_runs(run_a, run_b, tolerance, entity, kpi)


def verify(ws: Workspace, run: Path, current: bool = False) -> Verification:
    """``soekpi verify``: a run rebuilt as of its load with its own definitions and compared
    byte for byte, then against today's data; ``current``: against today's data and
    catalogue (a run written before issue 17: recomputed now and compared)."""
    return verify_run(ws, run, lambda spec: build_run(ws, spec), current)


def close(ws: Workspace, cycle: str, reason: str | None = None) -> ClosedCycle:
    """``soekpi close C``: the cycle closed (SPEC §6.3)."""
    return close_cycle(ws, cycle, reason)


def reopen(ws: Workspace, cycle: str, reason: str | None) -> ClosedCycle:
    """``soekpi close C --reopen --reason TEXT``: the closing record that was removed."""
    return reopen_cycle(ws, cycle, reason)


def catalogue_docs(folder: Path) -> str:
    """``soekpi catalogue-docs``: the catalogue's reference page (Markdown)."""
    return catalogue_reference(folder)
