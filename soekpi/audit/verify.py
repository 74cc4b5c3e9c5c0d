"""Verify a published run (SPEC §5 ``verify``; issue 17): rebuild it and compare.

A run written since issue 17 records ``as_of_load`` and ``definitions.json``: it is rebuilt
as of that load with those definitions (language, formats and generated_at from its
manifest) through the report's own code path (``output.Rebuild``, given by the API: audit
does not know the report), and every file is compared byte for byte. Then the run is
recomputed on today's data to say whether it is still current: the loads after
``as_of_load`` that changed the rows the run read, and the value and status changes they
make (as ``diff`` shows them). With ``current`` the run is compared with today's data and
catalogue instead. A run written before (no ``as_of_load``) is recomputed from the current
warehouse and catalogue and compared through its manifest and kpis.json, as before. The
archived files are always checked against the SHA-256s their manifest recorded.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from soekpi.audit.diff import RunData, RunDiff, compare_runs, read_run
from soekpi.base.calendar import parse_cycle
from soekpi.base.errors import InputError, Location, SoekpiError
from soekpi.catalogue import load_catalogue
from soekpi.catalogue.definitions import DEFINITIONS_FILE, catalogue_from_definitions
from soekpi.engine import kpi_result, on_warehouse, read_measures
from soekpi.output import MANIFEST, BuiltRun, Rebuild, RunSpec, manifest_inputs, to_records
from soekpi.warehouse.hashing import source_facts
from soekpi.warehouse.pins import cycle_inputs, sealed_manifest

if TYPE_CHECKING:
    from datetime import datetime

    from soekpi.base.calendar import Cycle, FiscalSettings
    from soekpi.catalogue.model import Catalogue
    from soekpi.warehouse.ledger import LoadRecord
    from soekpi.workspace import Workspace

#: How a run was verified: rebuilt as of its load (a run since issue 17), compared with
#: today's data and catalogue (``--current``), or recomputed now (a run written before).
Mode = Literal["as_of_load", "current", "recomputed"]

RECOMPUTATION = "recomputation"


@dataclass(frozen=True)
class FileMismatch:
    """An archived output file whose bytes no longer match the manifest's SHA-256."""

    file: str
    expected_sha256: str
    actual_sha256: str | None  # None: the file is missing
    sealed: str | None = None  # "FY2026-Q2 was closed": expected is the SHA-256 kept at close


@dataclass(frozen=True)
class OutputMismatch:
    """A file of the run whose bytes differ from the file the rebuild makes."""

    file: str
    archived_sha256: str | None  # None: not in the run folder
    rebuilt_sha256: str | None  # None: the rebuild makes no such file


@dataclass(frozen=True)
class LaterLoad:
    """A load after the run's ``as_of_load`` that changed rows the run read."""

    id: int
    time: datetime
    source: str
    mode: str
    restated_months: tuple[str, ...]
    rows_before: int  # the rows of the run's months of ``source`` before the load
    rows_after: int  # and after it


@dataclass(frozen=True)
class Currency:
    """Whether a run is still current: the run against its recomputation on today's data
    (with the run's own definitions, or with ``--current`` today's catalogue)."""

    definitions: Literal["run", "catalogue"]
    loads_after: int  # how many loads there were after the run's as_of_load
    touched: list[LaterLoad]  # those that changed rows the run read
    diff: RunDiff  # A = the run, B = the recomputation on today's data

    @property
    def restated(self) -> bool:
        """The data the run read changed since (or the values it published did, with the
        same definitions)."""
        d = self.diff
        values = bool(d.rows or d.only_in_a or d.only_in_b)
        return bool(d.sources or self.touched or (values and not self.redefined))

    @property
    def redefined(self) -> bool:
        """A KPI's definition or the fiscal settings changed since (``--current``)."""
        return bool(self.diff.definitions or self.diff.settings)

    @property
    def current(self) -> bool:
        """Neither restated nor redefined."""
        return not self.restated and not self.redefined


@dataclass(frozen=True)
class Verification:
    """The archived run compared with its rebuild (or recomputation)."""

    run: str
    cycle: str
    diff: RunDiff  # A = the run, B = the rebuild (as_of_load) or today's recomputation
    files: list[FileMismatch] = field(default_factory=list)
    mode: Mode = "recomputed"
    as_of_load: int | None = None
    outputs: list[OutputMismatch] = field(default_factory=list)
    currency: Currency | None = None

    @property
    def reproducible(self) -> bool | None:
        """True when the rebuild (or recomputation) matches the run exactly and no file was
        altered; None with ``--current``, which does not rebuild the run."""
        if self.mode == "current":
            return None
        return not self.diff.has_differences and not self.files and not self.outputs

    @property
    def ok(self) -> bool:
        """Exit 0: reproducible, or with ``--current`` still current and unaltered."""
        if self.mode == "current":
            return not self.files and self.currency is not None and self.currency.current
        return bool(self.reproducible)


def verify_run(
    ws: Workspace, run: Path, rebuild: Rebuild | None = None, current: bool = False
) -> Verification:
    """Verify ``run``: a run with ``as_of_load`` is rebuilt as of it with ``rebuild`` and its
    own definitions (``current``: compared with today's data and catalogue instead); a run
    without (or no ``rebuild``) is recomputed from the workspace and compared as before."""
    archived = read_run(run)
    files = check_files(run, archived.manifest) + check_sealed(ws, run, archived.cycle)
    as_of = archived.manifest.get("as_of_load")
    if rebuild is not None and isinstance(as_of, int) and not isinstance(as_of, bool):
        if current:
            return _verify_current(ws, run, archived, files, rebuild, as_of)
        return _verify_as_of(ws, run, archived, files, rebuild, as_of)
    fresh = recompute(ws, archived)
    return Verification(
        run=archived.label,
        cycle=archived.cycle,
        diff=compare_runs(archived, fresh),
        files=files,
    )


def recompute(ws: Workspace, archived: RunData) -> RunData:
    """The archived run's cycle recomputed now, as an in-memory run (no files written)."""
    try:
        cycle = parse_cycle(archived.cycle)
    except SoekpiError:
        raise InputError(
            f"not a run manifest: cycle '{archived.cycle}' is not a fiscal cycle",
            Location(str(Path(archived.label) / "manifest.json")),
        ) from None
    # a closed cycle is recomputed with its pin (warehouse/pins.py decides)
    inputs = cycle_inputs(ws, load_catalogue(ws), cycle)
    catalogue, ws = inputs.catalogue, inputs.workspace(ws)
    # The values and the sources' data hashes, recomputed from the rows on one connection.
    result, sources = on_warehouse(
        ws,
        lambda con, folder: (
            read_measures(con, folder, ws, catalogue, [cycle]),
            source_facts(con, catalogue),
        ),
        lambda read: (kpi_result(read[0], catalogue), read[1]),
        as_of=inputs.as_of,
    )
    records = [dict(r) for r in to_records(result) if r["cycle"] == cycle.name]
    manifest: dict[str, Any] = manifest_inputs(ws.fiscal, catalogue, cycle, sources)
    return RunData(label=RECOMPUTATION, manifest=manifest, records=records)


def check_sealed(ws: Workspace, run: Path, cycle: str) -> list[FileMismatch]:
    """The workspace's run of a closed cycle against the manifest SHA-256 kept at its close:
    a run folder changed after the close (its manifest rewritten) is altered."""
    if not (ws.output / cycle).is_dir() or run.resolve() != (ws.output / cycle).resolve():
        return []
    pin = sealed_manifest(ws, cycle)
    if pin is None or pin.manifest_sha256 is None:
        return []
    path = run / "manifest.json"
    actual = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    if actual == pin.manifest_sha256:
        return []
    return [FileMismatch("manifest.json", pin.manifest_sha256, actual, f"{cycle} was closed")]


def check_files(run: Path, manifest: dict[str, Any]) -> list[FileMismatch]:
    """Archived files whose SHA-256 differs from the one the manifest recorded, by name."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        return []
    found: list[FileMismatch] = []
    for name in sorted(files):
        expected = str(files[name])
        path = run / name
        # a manifest naming a path outside the run folder is not followed
        if Path(name).name != name or not path.is_file():
            found.append(FileMismatch(name, expected, None))
            continue
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        if actual != expected:
            found.append(FileMismatch(name, expected, actual))
    return found


# ------------------------------------------------------------ a run since issue 17


def _verify_as_of(
    ws: Workspace,
    run: Path,
    archived: RunData,
    files: list[FileMismatch],
    rebuild: Rebuild,
    as_of: int,
) -> Verification:
    """Rebuild the run as of its load with its own definitions and compare every file; then
    recompute it on today's data to say whether it is still current."""
    spec = run_spec(run, archived, as_of)
    built = rebuild(spec)
    made = built.file_bytes()
    rebuilt = RunData(
        label=f"rebuild as of load {as_of}",
        manifest=json.loads(made[MANIFEST]),
        records=built.records(),
    )
    diff = compare_runs(archived, rebuilt)
    return Verification(
        run=archived.label,
        cycle=archived.cycle,
        diff=diff,
        files=files,
        mode="as_of_load",
        as_of_load=as_of,
        outputs=compare_outputs(run, archived.manifest, made),
        currency=_currency(ws, archived, spec, rebuild, as_of, "run", (built, diff)),
    )


def _verify_current(
    ws: Workspace,
    run: Path,
    archived: RunData,
    files: list[FileMismatch],
    rebuild: Rebuild,
    as_of: int,
) -> Verification:
    """The run against today's data and catalogue (a closed cycle: its pin)."""
    cycle = _cycle_of(archived)
    inputs = cycle_inputs(ws, load_catalogue(ws), cycle)
    spec = run_spec(run, archived, inputs.as_of, (inputs.catalogue, inputs.fiscal))
    currency = _currency(ws, archived, spec, rebuild, as_of, "catalogue")
    return Verification(
        run=archived.label,
        cycle=archived.cycle,
        diff=currency.diff,
        files=files,
        mode="current",
        as_of_load=as_of,
        currency=currency,
    )


def run_spec(
    run: Path,
    archived: RunData,
    as_of: int | None,
    definitions: tuple[Catalogue, FiscalSettings] | None = None,
) -> RunSpec:
    """What rebuilds ``run``: its definitions.json (or ``definitions``), cycle, language,
    formats and generated_at, as of ``as_of``; source hashes always from the rows."""
    manifest, shown = archived.manifest, str(run / MANIFEST)
    texts = {k: manifest.get(k) for k in ("language", "generated_at")}
    for key, value in texts.items():
        if not isinstance(value, str):
            raise InputError(f"not a run manifest: '{key}' is missing or not text", Location(shown))
    formats = tuple(f for f in ("html", "md") if f"report.{f}" in _listed(manifest))
    catalogue, fiscal = definitions or _definitions(run)
    return RunSpec(
        catalogue=catalogue,
        fiscal=fiscal,
        cycle=_cycle_of(archived),
        language=str(texts["language"]),
        formats=formats,
        generated_at=str(texts["generated_at"]),
        as_of=as_of or None,
        recorded=False,
    )


def _listed(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest's ``files`` (name → SHA-256), {} when it has none."""
    files = manifest.get("files")
    return files if isinstance(files, dict) else {}


def _definitions(run: Path) -> tuple[Catalogue, FiscalSettings]:
    """The catalogue and fiscal settings of the run's definitions.json."""
    path = run / DEFINITIONS_FILE
    shown = str(path)
    if not path.is_file():
        raise InputError(
            "missing: a run with as_of_load is rebuilt with the definitions it recorded",
            Location(shown),
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError("not a run file: not UTF-8 text", Location(shown)) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"not a run file: invalid JSON ({exc.msg}, column {exc.colno})",
            Location(shown, exc.lineno),
        ) from None
    return catalogue_from_definitions(doc, shown)


def _cycle_of(archived: RunData) -> Cycle:
    try:
        return parse_cycle(archived.cycle)
    except SoekpiError:
        raise InputError(
            f"not a run manifest: cycle '{archived.cycle}' is not a fiscal cycle",
            Location(str(Path(archived.label) / MANIFEST)),
        ) from None


def compare_outputs(
    run: Path, manifest: dict[str, Any], made: dict[str, bytes]
) -> list[OutputMismatch]:
    """The files of the run (those its manifest lists, and the manifest) whose bytes differ
    from the rebuilt ones, by name."""
    found: list[OutputMismatch] = []
    for name in sorted({*_listed(manifest), *made, MANIFEST}):
        path = run / name
        ours = path.read_bytes() if Path(name).name == name and path.is_file() else None
        theirs = made.get(name)
        if ours is not None and ours == theirs:
            continue
        found.append(
            OutputMismatch(
                name,
                None if ours is None else hashlib.sha256(ours).hexdigest(),
                None if theirs is None else hashlib.sha256(theirs).hexdigest(),
            )
        )
    return found


def _currency(
    ws: Workspace,
    archived: RunData,
    spec: RunSpec,
    rebuild: Rebuild,
    as_of: int,
    definitions: Literal["run", "catalogue"],
    as_of_build: tuple[BuiltRun, RunDiff] | None = None,
) -> Currency:
    """The run against its recomputation on today's data (with ``spec``'s definitions),
    and the loads after ``as_of`` that changed the rows it read. Without later loads the
    data are those of the rebuild as of ``as_of`` (``as_of_build``, when made already)."""
    from soekpi.warehouse.ledger import loads_after
    from soekpi.warehouse.sandbox import sandbox

    with sandbox(ws) as con:
        later = loads_after(con, as_of)
    if not later and as_of_build is not None:
        return Currency(definitions, 0, [], as_of_build[1])
    now = rebuild(replace(spec, as_of=None))
    today = RunData(label="today's data", manifest=now.manifest, records=now.records())
    diff = compare_runs(archived, today)
    changed = {s.source for s in diff.sources}
    touched = _touched(ws, spec, now, as_of, [r for r in later if r.source in changed])
    return Currency(definitions, len(later), touched, diff)


def _touched(
    ws: Workspace, spec: RunSpec, now: BuiltRun, as_of: int, loads: list[LoadRecord]
) -> list[LaterLoad]:
    """Which of ``loads`` changed the rows the run reads of their source: the hash of those
    rows as of each load against the hash as of the load before it (from ``as_of`` on)."""
    from soekpi.warehouse.hashing import window_fingerprints
    from soekpi.warehouse.sandbox import sandbox

    sources = sorted({r.source for r in loads})
    if not sources:
        return []
    at = ws if spec.fiscal == ws.fiscal else replace(ws, fiscal=spec.fiscal)

    def facts(load_id: int) -> dict[str, tuple[int, str]]:
        with sandbox(at, as_of=load_id or None) as con:
            return window_fingerprints(con, spec.catalogue, now.windows, only=sources)

    before = facts(as_of)
    touched: list[LaterLoad] = []
    for record in loads:
        after = facts(record.id)
        old, new = before.get(record.source), after.get(record.source)
        if old != new:
            touched.append(
                LaterLoad(
                    record.id,
                    record.time,
                    record.source,
                    record.mode,
                    record.restated_months,
                    old[0] if old else 0,
                    new[0] if new else 0,
                )
            )
        before = after
    return touched
