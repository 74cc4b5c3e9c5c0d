"""A report run: compute a cycle, render it, and publish the run folder atomically.

``<output>/<cycle>/`` holds ``report.html``, ``report.md``, ``kpis.csv``, ``kpis.json`` and
``manifest.json`` (docs/architecture.md, "The run folder"). Everything is written into
``<output>/.<cycle>.tmp-<pid>`` first, fsynced, then renamed into place, so a failed or
killed run never leaves a half-written run folder and never touches the previous one.
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soekpi import __version__
from soekpi.base.errors import RuntimeFailure, UsageError
from soekpi.catalogue.definitions import DEFINITIONS_FILE, catalogue_definitions
from soekpi.engine import (
    Entities,
    KpiResult,
    MeasuresRead,
    kpi_result,
    on_warehouse,
    read_measures,
)
from soekpi.output import (
    MANIFEST,
    BuiltRun,
    Producer,
    RunSpec,
    definitions_text,
    manifest_inputs,
    manifest_text,
    result_csv_chunks,
    result_json_chunks,
    to_records,
    windows_read,
)
from soekpi.report.format import timestamp
from soekpi.report.render import (
    TREND_CYCLES,
    ReportData,
    build_context,
    load_messages,
    render_html,
    render_markdown,
)
from soekpi.warehouse.coverage import resolve_on
from soekpi.warehouse.hashing import window_fingerprints
from soekpi.warehouse.ledger import last_load_id
from soekpi.warehouse.pins import (
    REOPEN_HINT,
    CycleInputs,
    Pin,
    cycle_inputs,
    cycles_by_pin,
    inputs_of,
)
from soekpi.warehouse.queries import ProjectRisks, RejectedCount, project_risks, rejected_counts

Progress = Callable[..., Any]

if TYPE_CHECKING:
    from datetime import date

    from soekpi.base.calendar import Cycle
    from soekpi.catalogue.model import Catalogue
    from soekpi.workspace import Workspace

FORMATS = ("html", "md")
FAIL_ON = ("red", "amber")
_STALE = re.compile(r"^\.(?P<cycle>.+)\.tmp-(?P<pid>\d+)$")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@dataclass(frozen=True)
class RunResult:
    """A published run: where it is, its cycle, and the statuses of the root entity."""

    path: Path
    cycle: Cycle
    root_statuses: dict[str, str]  # "<entity>/<kpi>" → status, for the root entity(ies)
    notice: str | None = None  # a closed cycle computed with its pin (the CLI prints it)

    def fails(self, fail_on: str | None) -> bool:
        """Whether ``--fail-on red|amber`` is hit: a root KPI red (or, for amber, amber)."""
        if fail_on is None:
            return False
        hits = {"red"} if fail_on == "red" else {"red", "amber"}
        return any(status in hits for status in self.root_statuses.values())


def generation_epoch() -> int:
    """The generation time: ``$SOURCE_DATE_EPOCH`` when set, else now (UTC seconds)."""
    text = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if not text:
        return int(time.time())
    try:
        return int(text)
    except ValueError:
        raise UsageError(
            f"SOURCE_DATE_EPOCH={text!r} is not a number of seconds since 1970-01-01"
        ) from None


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def _check_formats(formats: Sequence[str]) -> list[str]:
    chosen: list[str] = []
    for f in formats:
        f = f.strip()
        if f not in FORMATS:
            raise UsageError(f"--format: '{f}' is not one of {', '.join(FORMATS)}")
        if f not in chosen:
            chosen.append(f)
    if not chosen:
        raise UsageError(f"--format: name at least one of {', '.join(FORMATS)}")
    return chosen


def _exists_message(shown: str, name: str) -> str:
    return (
        f"{shown} already exists; pass --force to replace it (the old run is kept as {name}.prev)"
    )


def write_report(
    ws: Workspace,
    catalogue: Catalogue,
    cycle: str | Cycle,
    out: Path | None = None,
    formats: Sequence[str] = FORMATS,
    lang: str | None = None,
    force: bool = False,
    progress: Progress | None = None,
    as_of: int | None = None,
) -> RunResult:
    """Compute ``cycle`` and publish its run folder under ``out`` (default: the workspace
    ``output``). Refuses to replace an existing run unless ``force`` (the old one is then
    kept as ``<cycle>.prev``). ``as_of``: the data as they stood right after that load
    (default: the last load when the run starts; the manifest records which).

    One straight path: :func:`build_run` makes the run's files, then they are published."""
    chosen = _check_formats(formats)
    language = lang or ws.language
    load_messages(language)  # an unknown language fails before anything is computed
    out_dir = (out if out is not None else ws.output).expanduser().absolute()

    def refuse_existing(resolved: Cycle) -> None:
        target = out_dir / resolved.name
        if target.exists() and not force:
            raise UsageError(_exists_message(ws.shown(target), resolved.name))

    inputs = cycle_inputs(ws, catalogue, cycle, as_of)  # a closed cycle: its pin
    _refuse_sealed(inputs, out_dir / inputs.cycle.name, ws.shown)
    spec = RunSpec(
        catalogue=inputs.catalogue,
        fiscal=inputs.fiscal,
        cycle=inputs.cycle,
        language=language,
        formats=tuple(chosen),
        generated_at=timestamp(generation_epoch()),
        as_of=inputs.as_of,
    )
    built = build_run(ws, spec, progress, refuse_existing)
    path = publish_run(out_dir, built.cycle.name, built.files, built.manifest, force, ws.shown)
    statuses = _root_statuses(built.result, built.roots)
    return RunResult(path=path, cycle=built.cycle, root_statuses=statuses, notice=inputs.notice)


def build_run(
    ws: Workspace,
    spec: RunSpec,
    progress: Progress | None = None,
    check: Callable[[Cycle], None] | None = None,
) -> BuiltRun:
    """Make a run without publishing it: resolve the cycle, compute it and its trend, read
    the warehouse facts as of ``spec.as_of`` (the last load when None) on one connection,
    then shape the files (rendered when their producers are called) and the manifest.
    ``check(cycle)`` runs once the cycle is resolved, before anything is computed (report:
    refuse an existing run). ``verify`` rebuilds an archived run through this."""
    catalogue = spec.catalogue
    at = ws if spec.fiscal == ws.fiscal else replace(ws, fiscal=spec.fiscal)
    run = on_warehouse(
        at,
        lambda con, folder: _read_run(con, folder, at, spec, check, progress),
        lambda read: read.finish(catalogue),
        as_of=spec.as_of,
    )
    run = _with_pinned_trend(run, at, catalogue, progress)
    read = run.read
    data = ReportData(
        catalogue=catalogue,
        result=run.result,
        cycle=read.cycle,
        fiscal=spec.fiscal,
        language=spec.language,
        generated_at=spec.generated_at,
        version=__version__,
        sources=read.sources,
        kpi_hashes={  # the definitions in force for the cycle, as in the manifest
            k: catalogue.for_cycle(read.cycle, spec.fiscal).kpi_hash(k)
            for k in sorted(catalogue.kpis)
        },
        rejected=read.rejected,
        projects=read.projects,
        root_entity=ws.root_entity,
    )
    manifest: dict[str, Any] = {
        **manifest_inputs(spec.fiscal, catalogue, read.cycle, read.sources, read.as_of_load),
        "language": spec.language,
        "generated_at": spec.generated_at,
    }
    definitions = catalogue_definitions(catalogue, spec.fiscal)
    files = _producers(data, run.own, list(spec.formats), ws.templates, definitions)
    return BuiltRun(read.cycle, files, manifest, run.own, read.windows, read.roots)


@dataclass(frozen=True)
class _RunRead:
    """What a run reads on its one connection; :meth:`finish` computes its KPIs after."""

    cycle: Cycle
    roots: list[str]
    own: MeasuresRead  # the cycle, every entity
    trend: MeasuresRead | None  # the open cycles before it in the trend, the root entities
    pinned: list[list[Pin]]  # the closed cycles before it, grouped by what their pins froze
    as_of_load: int  # the last load the connection sees
    windows: dict[str, tuple[tuple[date, date], ...] | None]  # the months read of each source
    sources: dict[str, tuple[int, str]]  # rows and hash of exactly what was read
    rejected: list[RejectedCount]
    projects: ProjectRisks | None

    def finish(self, catalogue: Catalogue) -> _RunInputs:
        """The KPI results of both passes (call it once the connection is closed)."""
        own = kpi_result(self.own, catalogue)
        trend = kpi_result(self.trend, catalogue) if self.trend is not None else None
        return _RunInputs(self, own, report_result(own, trend))


@dataclass(frozen=True)
class _RunInputs:
    """Everything a run renders: what was read, the cycle's own result (kpis.json is this
    one) and the result the report shows (the cycle with its trend)."""

    read: _RunRead
    own: KpiResult
    result: KpiResult


def _read_run(
    con: Any,
    folder: Path,
    ws: Workspace,
    spec: RunSpec,
    check: Callable[[Cycle], None] | None,
    progress: Progress | None,
) -> _RunRead:
    """On the run's one connection: resolve the cycle, ``check`` it, measure the cycle for
    every entity and the cycles before it in the trend for the root entities only (the only
    ones it charts), and read the warehouse facts: the rows and hash of exactly the months
    the measures read of each source, the rejected rows, the project risks."""
    catalogue, cycle = spec.catalogue, spec.cycle
    resolved = resolve_on(con, catalogue, ws.fiscal, cycle) if isinstance(cycle, str) else cycle
    if check is not None:
        check(resolved)
    entities = Entities.read(con, ws, catalogue)
    own = read_measures(con, folder, ws, catalogue, [resolved], progress=progress, known=entities)
    roots = entities.roots(ws.root_entity)
    trailing = [c for c in resolved.trailing(TREND_CYCLES) if c != resolved]
    earlier, pinned = cycles_by_pin(con, trailing)  # closed ones: computed with their pins
    trend = (
        read_measures(con, folder, ws, catalogue, earlier, roots, progress=progress, known=entities)
        if earlier and roots
        else None
    )
    windows = windows_read(catalogue, [own] if trend is None else [own, trend])
    return _RunRead(
        cycle=resolved,
        roots=roots,
        own=own,
        trend=trend,
        pinned=pinned,
        as_of_load=last_load_id(con),
        windows=windows,
        sources=window_fingerprints(con, catalogue, windows, recorded=spec.recorded),
        rejected=rejected_counts(con),
        projects=project_risks(con, catalogue, resolved.start(ws.fiscal), resolved.end(ws.fiscal)),
    )


# ---------------------------------------------------- closed cycles: frozen (issue 17)


def _refuse_sealed(inputs: CycleInputs, target: Path, shown: Callable[[Path], str]) -> None:
    """A closed cycle's run is sealed: replacing it (``--force`` or not) is a UsageError,
    raised before anything is computed or written."""
    pin = inputs.pin
    if pin is None or not (target.exists() or target.is_symlink()):
        return
    raise UsageError(
        f"{shown(target)}: {pin.cycle} is closed (since {pin.pinned_at:%Y-%m-%d %H:%M:%S} UTC, "
        f"by {pin.pinned_by}) and its run is sealed; nothing was written. To replace it, "
        f"reopen the cycle first with '{REOPEN_HINT.format(cycle=pin.cycle)}'"
    )


def _with_pinned_trend(
    run: _RunInputs, ws: Workspace, catalogue: Catalogue, progress: Progress | None
) -> _RunInputs:
    """The run's result with the closed cycles of its trend added, each group computed with
    its own pin (definitions, and data as of its load, on a connection of its own) for the
    root entities: a published quarter never moves in a later report. Only the KPIs of the
    report's catalogue are kept."""
    import polars as pl

    result, roots = run.result, run.read.roots
    for group in run.read.pinned:
        frozen = inputs_of(group[0], group[0].period, catalogue, ws.fiscal)
        kpis = sorted(set(frozen.catalogue.kpis) & set(catalogue.kpis))
        if not kpis or not roots:
            continue
        pinned = _pinned_result(ws, frozen, [pin.period for pin in group], roots, kpis, progress)
        keep = pl.col("kpi").is_in(kpis)
        pinned = replace(
            pinned, values=pinned.values.filter(keep), components=pinned.components.filter(keep)
        )
        result = report_result(result, pinned)
    return replace(run, result=result)


def _pinned_result(
    ws: Workspace,
    frozen: CycleInputs,
    cycles: list[Cycle],
    roots: list[str],
    kpis: list[str],
    progress: Progress | None,
) -> KpiResult:
    """``cycles`` (closed under one pin) for ``roots``, with the pinned definitions and the
    data as of the pinned load."""
    at, catalogue = frozen.workspace(ws), frozen.catalogue
    return on_warehouse(
        at,
        lambda con, folder: read_measures(
            con, folder, at, catalogue, cycles, roots, kpis, progress
        ),
        lambda read: kpi_result(read, catalogue),
        as_of=frozen.as_of,
    )


def report_result(cycle_result: KpiResult, trend: KpiResult | None) -> KpiResult:
    """The one result a report renders: ``cycle_result`` (one cycle, every entity) with the
    other cycles of ``trend`` (the cycles before it in the trend, computed for the root
    entities only) added.

    What the report reads of it (render.build_context): the cycle's values of the entities
    of the status grid and the risk section, its missing months of every entity, and the
    values of every trend cycle and the cycle's components of the root entities. Values,
    components and missing are sorted as ``compute`` sorts them; the hierarchy is the full
    one. Where both results hold a row (the roots in the cycle), ``cycle_result``'s is
    kept: it is the row kpis.json has.
    """
    import polars as pl

    if trend is None:
        return cycle_result
    names = {c.name for c in cycle_result.cycles}

    def merged(
        own: pl.DataFrame, other: pl.DataFrame, keys: list[str], nulls_last: bool = False
    ) -> pl.DataFrame:
        rest = other.filter(~pl.col("cycle").is_in(sorted(names)))
        return pl.concat([own, rest]).sort(keys, nulls_last=nulls_last)

    return KpiResult(
        cycles=sorted(set(cycle_result.cycles) | set(trend.cycles)),
        values=merged(cycle_result.values, trend.values, ["entity", "kpi", "cycle"]),
        missing=merged(
            cycle_result.missing, trend.missing, ["source", "entity", "cycle", "month"], True
        ),
        components=merged(
            cycle_result.components, trend.components, ["entity", "kpi", "cycle", "component"]
        ),
        hierarchy=cycle_result.hierarchy,
    )


def _root_statuses(result: KpiResult, roots: list[str]) -> dict[str, str]:
    """``"<entity>/<kpi>"`` → status for the root entities (a few dozen rows become dicts)."""
    import polars as pl

    only = replace(result, values=result.values.filter(pl.col("entity").is_in(roots)))
    return {f"{r['entity']}/{r['kpi']}": str(r["status"]) for r in to_records(only)}


def _producers(
    data: ReportData,
    result: KpiResult,
    formats: list[str],
    templates: Path | None,
    definitions: dict[str, Any],
) -> list[tuple[str, Producer]]:
    """Each output file and how to make its bytes, made lazily while the run is written;
    ``result`` is the cycle's own result (kpis.json is what ``compute`` prints for it),
    ``definitions`` the resolved definitions the run used (definitions.json)."""
    context: list[Any] = []

    def ctx() -> Any:
        if not context:
            context.append(build_context(data))
        return context[0]

    files: list[tuple[str, Producer]] = [
        ("kpis.csv", lambda: result_csv_chunks(result)),
        ("kpis.json", lambda: result_json_chunks(result)),
        (DEFINITIONS_FILE, lambda: definitions_text(definitions).encode()),
    ]
    if "md" in formats:
        files.append(("report.md", lambda: render_markdown(ctx(), templates).encode()))
    if "html" in formats:
        files.append(("report.html", lambda: render_html(ctx(), templates).encode()))
    return files


# ------------------------------------------------------------------------ atomic publish


def _write_synced(path: Path, data: bytes | Iterable[bytes]) -> str:
    """Write ``data`` (bytes, or its pieces in order) to ``path``, fsync it; its SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        for chunk in [data] if isinstance(data, bytes) else data:
            handle.write(chunk)
            digest.update(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale(out_dir: Path) -> list[Path]:
    """Remove temporary run folders left by runs whose process is gone; returns them."""
    removed: list[Path] = []
    if not out_dir.is_dir():
        return removed
    for entry in sorted(out_dir.iterdir()):
        match = _STALE.match(entry.name)
        if match is None or not entry.is_dir():
            continue
        pid = int(match["pid"])
        if pid == os.getpid() or not _pid_alive(pid):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(entry)
    return removed


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two folders (Linux renameat2 RENAME_EXCHANGE); False if unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def publish_run(
    out_dir: Path,
    name: str,
    files: Sequence[tuple[str, Producer]],
    manifest: dict[str, Any],
    force: bool = False,
    shown: Callable[[Path], str] = str,
) -> Path:
    """Write ``files`` (each made by its producer: bytes, or pieces written as they come)
    and the manifest (with every file's SHA-256 under ``files``) into a temporary folder
    beside ``out_dir/name``, fsync, and rename it into place.

    Without ``force`` an existing run is a UsageError; with it the old run becomes
    ``<name>.prev`` (replacing an older ``.prev``). A run of the same name published by
    another process while this one was writing is a RuntimeFailure (exit 3). On any failure
    the temporary folder is removed and the previous run is untouched; a full disk raises
    OSError(ENOSPC) naming the run folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    clean_stale(out_dir)
    target = out_dir / name
    if not force and (target.exists() or target.is_symlink()):
        raise UsageError(_exists_message(shown(target), name))
    tmp = out_dir / f".{name}.tmp-{os.getpid()}"
    tmp.mkdir()
    try:
        hashes: dict[str, str] = {}
        for file_name, produce in files:
            hashes[file_name] = _write_synced(tmp / file_name, produce())
        _write_synced(tmp / MANIFEST, manifest_text({**manifest, "files": hashes}).encode())
        _fsync_dir(tmp)
        _swap_in(tmp, target, name, force, shown)
        _fsync_dir(out_dir)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if exc.errno == errno.ENOSPC and not exc.filename:  # write() names no file
            raise OSError(exc.errno, exc.strerror, shown(target)) from None
        raise
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _copy_synced(source: Path, destination: Path) -> None:
    """Copy a run folder (flat: files only) and fsync it. Files are hard-linked — a run's
    files are never written again once published, and the copy sits on the same file
    system — so keeping a 300 MB run costs no I/O; where links are refused, the bytes are
    copied and fsynced."""
    destination.mkdir()
    for entry in sorted(source.iterdir()):
        if entry.is_file():
            try:
                os.link(entry, destination / entry.name)
            except OSError:
                _write_synced(destination / entry.name, entry.read_bytes())
    _fsync_dir(destination)


def _swap_in(tmp: Path, target: Path, name: str, force: bool, shown: Callable[[Path], str]) -> None:
    """Put the finished run ``tmp`` at ``target``.

    With ``force`` the old run is first COPIED to ``<name>.prev`` (through a temporary
    folder that a later run's clean-up removes), then swapped out atomically, so that at
    every instant a ``kill -9`` leaves the old run whole at ``target`` or at ``.prev``."""
    if not (target.exists() or target.is_symlink()):
        try:
            os.rename(tmp, target)
            return
        except OSError as exc:  # another run published the same cycle meanwhile
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
    if not force:
        raise RuntimeFailure(
            f"{shown(target)} was published by another run while this one was being written; "
            "nothing was written (pass --force to replace it)"
        )
    prev = target.with_name(f"{name}.prev")
    staged = target.with_name(f".{name}.prev.tmp-{os.getpid()}")
    _copy_synced(target, staged)
    if prev.exists():
        shutil.rmtree(prev)
    os.rename(staged, prev)
    _fsync_dir(target.parent)
    if _exchange(tmp, target):
        shutil.rmtree(tmp)  # tmp now holds the old run, already kept as .prev
    else:  # no atomic exchange: the cycle folder is briefly absent, its copy is in .prev
        shutil.rmtree(target)
        os.rename(tmp, target)
