"""Verify a published run (SPEC §5 ``verify``): recompute it and compare.

The run's cycle is recomputed from the current warehouse and catalogue through the same
code paths the report uses — ``engine.compute`` + ``engine.to_records`` for the numbers and
``report.run.manifest_inputs`` for the manifest's inputs — into an in-memory run, and the
archived run is diffed against it with :func:`soekpi.audit.diff.compare_runs`. The archived
files are also checked against the SHA-256s their manifest recorded.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soekpi.audit.diff import RunData, RunDiff, compare_runs, read_run
from soekpi.base.calendar import parse_cycle
from soekpi.base.errors import InputError, Location, SoekpiError
from soekpi.catalogue import load_catalogue
from soekpi.engine import kpi_result, on_warehouse, read_measures
from soekpi.output import manifest_inputs, to_records
from soekpi.warehouse.hashing import source_facts

if TYPE_CHECKING:
    from soekpi.workspace import Workspace

RECOMPUTATION = "recomputation"


@dataclass(frozen=True)
class FileMismatch:
    """An archived output file whose bytes no longer match the manifest's SHA-256."""

    file: str
    expected_sha256: str
    actual_sha256: str | None  # None: the file is missing


@dataclass(frozen=True)
class Verification:
    """The archived run compared with a fresh recomputation."""

    run: str
    cycle: str
    diff: RunDiff
    files: list[FileMismatch] = field(default_factory=list)

    @property
    def reproducible(self) -> bool:
        """True when the recomputation matches the run exactly and no file was altered."""
        return not self.diff.has_differences and not self.files


def verify_run(ws: Workspace, run: Path) -> Verification:
    """Recompute ``run``'s cycle from the workspace and compare it with the archived run."""
    archived = read_run(run)
    fresh = recompute(ws, archived)
    return Verification(
        run=archived.label,
        cycle=archived.cycle,
        diff=compare_runs(archived, fresh),
        files=check_files(run, archived.manifest),
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
    catalogue = load_catalogue(ws)
    # The values and the sources' data hashes, recomputed from the rows on one connection.
    result, sources = on_warehouse(
        ws,
        lambda con, folder: (
            read_measures(con, folder, ws, catalogue, [cycle]),
            source_facts(con, catalogue),
        ),
        lambda read: (kpi_result(read[0], catalogue), read[1]),
    )
    records = [dict(r) for r in to_records(result) if r["cycle"] == cycle.name]
    manifest: dict[str, Any] = manifest_inputs(ws.fiscal, catalogue, cycle, sources)
    return RunData(label=RECOMPUTATION, manifest=manifest, records=records)


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
