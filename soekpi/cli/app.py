"""The ``soekpi`` command line: a thin layer over the library.

Each command parses its options, calls one API function and shows the result. Errors from
the core are mapped to the exit codes of SPEC §5 in one place (:func:`_handled`).
"""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from soekpi import __version__, api
from soekpi.audit.render import (
    render_json,
    render_markdown,
    verification_json,
    verification_markdown,
)
from soekpi.base import console
from soekpi.base.errors import ExitCode, SoekpiError, UsageError
from soekpi.base.text import LANGUAGES
from soekpi.cli import tables
from soekpi.report.run import FAIL_ON
from soekpi.workspace import Workspace, find_workspace

app = typer.Typer(
    name="soekpi",
    help="Measure a digital-transformation programme: KPI catalogue in YAML, data in DuckDB, "
    "reproducible compliance reports per fiscal cycle.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@dataclass
class _State:
    workspace: Path | None = None
    debug: bool = False


_state = _State()
F = TypeVar("F", bound=Callable[..., Any])


def _handled(func: F) -> F:
    """Map core errors to one plain stderr message and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except SoekpiError as exc:
            if _state.debug:
                raise
            console.error(str(exc))
            raise typer.Exit(int(exc.exit_code)) from None
        except KeyboardInterrupt:
            console.error("interrupted; nothing was written")
            raise typer.Exit(130) from None
        except OSError as exc:
            if _state.debug:
                raise
            if exc.errno == errno.ENOSPC:
                where = f" while writing {exc.filename}" if exc.filename else ""
                console.error(f"disk full{where}; nothing was written")
            elif exc.errno == errno.EPIPE:
                # The reader went away (`soekpi compute | head`): what it read is a prefix.
                # Later flushes of stdout go nowhere instead of failing again at exit.
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
                console.error("stdout was closed before the output was complete (broken pipe)")
            else:
                console.error(f"{exc.filename or 'I/O'}: {exc.strerror or exc}")
            raise typer.Exit(int(ExitCode.RUNTIME)) from None
        except Exception as exc:  # the last line of defence: never a traceback without --debug
            if _state.debug:
                raise
            console.error(
                f"unexpected failure: {type(exc).__name__}: {exc} (run with --debug for details)"
            )
            raise typer.Exit(int(ExitCode.RUNTIME)) from None

    return wrapper  # type: ignore[return-value]


def _version(value: bool) -> None:
    if value:
        console.write(f"soekpi {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    workspace: Annotated[
        Path | None,
        typer.Option(
            "--workspace",
            "-w",
            help="The workspace folder (else $SOEKPI_WORKSPACE, "
            "else the nearest folder upwards holding soekpi.yaml).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks of errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors on stderr.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    _state.workspace = workspace
    _state.debug = debug
    console.set_quiet(quiet)


def _workspace() -> Workspace:
    return find_workspace(_state.workspace)


# Shared options, defined once.
CycleOpt = Annotated[
    str,
    typer.Option(
        "--cycle", "-c", help="FY2026, FY2026-H1, FY2026-Q3, FY2026-M07, latest or previous."
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", "-f", help="table, json or csv.")]


def _choice(value: str, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise UsageError(f"{option}: '{value}' is not one of {', '.join(allowed)}")
    return value


@app.command()
@_handled
def init(
    directory: Annotated[Path, typer.Argument(help="The new workspace folder.")],
    demo: Annotated[
        bool, typer.Option("--demo", help="Fill the warehouse with a synthetic SOE group.")
    ] = False,
    seed: Annotated[int, typer.Option("--seed", help="Demo seed: same seed, same data.")] = 42,
    scale: Annotated[float, typer.Option("--scale", help="Demo size multiplier.")] = 1.0,
) -> None:
    """Create a workspace with the default catalogue.

    Example: soekpi init acme --demo
    """
    with console.progress("building the demo group") as bar:
        ws = api.init(directory, demo=demo, seed=seed, scale=scale, progress=bar)
    console.info(f"workspace ready: {ws.root}")


@app.command()
@_handled
def load(
    source: Annotated[str, typer.Argument(help="The source to load into, e.g. financials.")],
    files: Annotated[
        list[Path],
        typer.Argument(help="CSV, TSV, Parquet, JSON/NDJSON or XLSX files (by extension)."),
    ],
    mode: Annotated[
        str,
        typer.Option(
            "--mode",
            help="append, or replace: restate the (entity, month) pairs (or keys) in the files.",
        ),
    ] = "append",
    wait: Annotated[
        float, typer.Option("--wait", help="Wait up to SECONDS for another writer to finish.")
    ] = 0.0,
) -> None:
    """Load extract files into a source, checking every row against its contract.

    Good rows go into the table, bad rows into _rejected with their reason; all files in
    one transaction. Exit 0 when every row loaded, 1 when some were rejected, 2 when a file
    cannot be read (nothing written), 3 when the warehouse is locked.
    Example: soekpi load financials ledger_2025_q1.csv ledger_2025_q2.xlsx
    """
    _choice(mode, ("append", "replace"), "--mode")
    with console.progress(f"loading {source}") as bar:
        summary = api.load(_workspace(), source, files, mode=mode, wait=wait, progress=bar)
    console.info(tables.render_text(tables.load_summary_table(summary)))
    restated = summary.restated_line()
    if restated is not None:
        console.info(restated)
    if summary.rows_rejected:
        console.info(f"{summary.rows_rejected} row(s) rejected; see the table _rejected")
        raise typer.Exit(int(ExitCode.FINDINGS))


@app.command()
@_handled
def loads(
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Only the loads into this source.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table or json.")] = "table",
) -> None:
    """List every load: id, time, source, mode, files (name and SHA-256), rows read, loaded,
    rejected and restated. An id is what --as-of takes.

    json: one array of {id, time, source, mode, files: [{name, sha256}], read, loaded,
    rejected, restated}, by id. Example: soekpi loads --source financials --format json
    """
    _choice(fmt, ("table", "json"), "--format")
    records = api.loads(_workspace(), source)
    if fmt == "json":
        console.write(api.loads_json(records))
        return
    console.print_table(tables.loads_table(records))


@app.command()
@_handled
def check() -> None:
    """Validate the catalogue, then the warehouse against the contracts.

    Exit 0 when clean, 1 with findings, 2 when the catalogue cannot be read.
    Example: soekpi check
    """
    problems = api.check(_workspace())
    for problem in problems:
        console.write(str(problem))
    if problems:
        console.info(f"{len(problems)} finding(s)")
        raise typer.Exit(int(ExitCode.FINDINGS))
    console.info("catalogue and warehouse are clean")


@app.command()
@_handled
def kpis(
    kpi: Annotated[str | None, typer.Argument(help="One KPI id to show in full.")] = None,
) -> None:
    """List the KPI catalogue, or show one KPI in full with its resolved formula.

    Example: soekpi kpis revenue_per_employee
    """
    console.print_table(tables.kpi_table(api.kpis(_workspace(), kpi)))


@app.command()
@_handled
def cycles(
    latest: Annotated[
        bool, typer.Option("--latest", help="Print only the name of the latest complete quarter.")
    ] = False,
) -> None:
    """List the fiscal quarters that have data, with each source's coverage and whether the
    quarter is closed. Monthly sources show entities reporting/expected and months complete.

    Example: soekpi cycles; soekpi cycles --latest
    """
    if latest:
        console.write(api.latest_cycle(_workspace()).name)
    else:
        console.print_table(tables.cycles_table(api.cycles(_workspace())))


@app.command()
@_handled
def compute(
    cycle: CycleOpt,
    entity: Annotated[
        list[str] | None,
        typer.Option(
            "--entity",
            "-e",
            help="Only this entity (repeatable; default: every entity of the hierarchy).",
        ),
    ] = None,
    kpi: Annotated[
        list[str] | None,
        typer.Option("--kpi", "-k", help="Only this KPI (repeatable; default: every KPI)."),
    ] = None,
    fmt: FormatOpt = "table",
    as_of: Annotated[
        int | None,
        typer.Option(
            "--as-of",
            metavar="LOAD_ID",
            help="The data as they stood right after this load ('soekpi loads' lists them; "
            "default: the data as they are).",
        ),
    ] = None,
) -> None:
    """Compute KPI values for one cycle and print them to stdout.

    json: one array of {kpi, entity, cycle, value, status, green, amber, unit}, sorted by
    entity then kpi; csv: the same columns with a header; table: grouped by entity.
    Example: soekpi compute --cycle FY2026-Q3 --entity G01 --format json --as-of 7
    """
    _choice(fmt, ("table", "json", "csv"), "--format")
    ws = _workspace()
    if fmt in ("json", "csv"):  # written entity batch by entity batch: large groups fit
        with console.progress("computing") as bar:
            text = api.compute_encoded(
                ws, cycle, fmt, entity, kpi, progress=bar, notice=console.info, as_of=as_of
            )
        console.write_chunks(text)
        return
    with console.progress("computing") as bar:
        catalogue, result = api.compute(
            ws, cycle, entity, kpi, progress=bar, notice=console.info, as_of=as_of
        )
    console.print_table(tables.values_table(result, catalogue, ws.language))


@app.command()
@_handled
def report(
    cycle: CycleOpt,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Write the run under this folder (default: the workspace 'output')."
        ),
    ] = None,
    formats: Annotated[
        str, typer.Option("--format", "-f", help="Report files to write: html, md or html,md.")
    ] = "html,md",
    lang: Annotated[
        str | None, typer.Option("--lang", help="en or zh-CN (default: the workspace 'language').")
    ] = None,
    fail_on: Annotated[
        str | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when a KPI of the root entity is red (red), or red or amber (amber); "
            "the run is written either way.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing run (kept as <cycle>.prev).")
    ] = False,
    as_of: Annotated[
        int | None,
        typer.Option(
            "--as-of",
            metavar="LOAD_ID",
            help="The data as they stood right after this load ('soekpi loads' lists them; "
            "default: the last load).",
        ),
    ] = None,
) -> None:
    """Write one report run: <output>/<cycle>/ with report.html, report.md, kpis.csv,
    kpis.json, definitions.json and manifest.json (with as_of_load, the last load it saw),
    published atomically. Prints the run folder.

    Example: soekpi report --cycle previous --fail-on red
    """
    if lang is not None:
        _choice(lang, LANGUAGES, "--lang")
    if fail_on is not None:
        _choice(fail_on, FAIL_ON, "--fail-on")
    with console.progress("computing") as bar:
        run = api.report(
            _workspace(), cycle, out, formats.split(","), lang, force, progress=bar, as_of=as_of
        )
    if run.notice is not None:  # a closed cycle computed with its pin
        console.info(run.notice)
    console.write(str(run.path))
    if run.fails(fail_on):
        console.info(
            f"--fail-on {fail_on}: a KPI of the root entity is {fail_on}"
            + (" or red" if fail_on == "amber" else "")
        )
        raise typer.Exit(int(ExitCode.FINDINGS))


@app.command()
@_handled
def diff(
    run_a: Annotated[Path, typer.Argument(help="The earlier run folder (e.g. out/FY2026-Q3).")],
    run_b: Annotated[Path, typer.Argument(help="The later run folder.")],
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="Relative change to ignore (0.001 = 0.1 %).")
    ] = 0.0,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or md.")] = "table",
    entity: Annotated[str | None, typer.Option("--entity", "-e", help="Only this entity.")] = None,
    kpi: Annotated[str | None, typer.Option("--kpi", "-k", help="Only this KPI.")] = None,
) -> None:
    """Compare two report runs by entity and KPI: values, statuses, definitions, sources.

    Exit 0 when nothing differs, 1 when something does, 2 when a folder is not a run.
    Example: soekpi diff archive/FY2026-Q3 out/FY2026-Q3 --format md > restatement.md
    """
    _choice(fmt, ("table", "json", "md"), "--format")
    result = api.diff(run_a, run_b, tolerance, entity, kpi)
    if fmt == "json":
        console.write(render_json(result))
    elif fmt == "md":
        console.write(render_markdown(result))
    else:
        console.print_table(tables.diff_table(result))
    if result.has_differences:
        raise typer.Exit(int(ExitCode.FINDINGS))


@app.command()
@_handled
def verify(
    run: Annotated[Path, typer.Argument(help="The run folder to verify (e.g. out/FY2026-Q3).")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="table, json or md.")] = "table",
    current: Annotated[
        bool,
        typer.Option(
            "--current",
            help="Compare with today's data and catalogue: exit 1 when the run has been "
            "restated or its definitions changed since.",
        ),
    ] = False,
) -> None:
    """Rebuild a run as of the load it recorded, with its own definitions.json, and compare
    every file byte for byte; then say whether it is still current (the later loads that
    changed the rows it read, and the value and status changes they make).

    Exit 0 reproducible, 1 not (naming the files and values), 2 when the folder is not a
    run. --current: exit 0 still current, 1 restated or redefined. A run written before
    as_of_load existed is recomputed from today's warehouse and catalogue.
    Example: soekpi verify out/FY2026-Q3 --current
    """
    _choice(fmt, ("table", "json", "md"), "--format")
    result = api.verify(_workspace(), run, current)
    if fmt == "json":
        console.write(verification_json(result))
    elif fmt == "md":
        console.write(verification_markdown(result))
    else:
        console.print_table(tables.verification_table(result))
    if not result.ok:
        raise typer.Exit(int(ExitCode.FINDINGS))


@app.command()
@_handled
def close(
    cycle: Annotated[str, typer.Argument(help="The cycle to close, e.g. FY2026-Q3.")],
    reopen: Annotated[bool, typer.Option("--reopen", help="Reopen a closed cycle.")] = False,
    reason: Annotated[
        str | None,
        typer.Option("--reason", help="Why (required with --reopen; kept in the audit log)."),
    ] = None,
) -> None:
    """Close a fiscal cycle: loads touching its periods are refused until it is reopened.

    Example: soekpi close FY2026-Q3; soekpi close FY2026-Q3 --reopen --reason "late ERP fix"
    """
    ws = _workspace()
    if reopen:
        was = api.reopen(ws, cycle, reason)
        console.info(f"reopened {was.cycle} ({was.start_date}..{was.end_date}): {reason}")
    else:
        done = api.close(ws, cycle, reason)
        manifest = f"; manifest sha256 {done.manifest_sha256}" if done.manifest_sha256 else ""
        dates = f"{done.start_date}..{done.end_date}"
        console.info(f"closed {done.cycle} ({dates}) by {done.closed_by}{manifest}")


@app.command("catalogue-docs")
@_handled
def catalogue_docs(
    catalogue: Annotated[
        Path, typer.Option("--catalogue", help="The catalogue folder (*.yaml, *.yml).")
    ] = Path("metrics"),
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the page here (default: stdout).")
    ] = None,
) -> None:
    """Render the catalogue's reference page (Markdown): KPIs, sources, targets.

    Example: soekpi catalogue-docs --catalogue metrics --out docs/catalogue.md
    """
    page = api.catalogue_docs(catalogue)
    if out is None:
        console.write(page)
    else:
        out.write_text(page, encoding="utf-8")
        console.info(f"wrote {out}")


def main() -> None:
    """Console-script entry point."""
    if os.environ.get("NO_COLOR") is not None:
        os.environ.setdefault("TERM", "dumb")
    app()
