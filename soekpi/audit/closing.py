"""Closed cycles (SPEC §6.3, issue 17): close a fiscal cycle, reopen it with a reason.

A closed cycle is a row of ``_closed_cycles``; every close and reopen appends a row to
``_audit_log`` (append-only: a reopen deletes the ``_closed_cycles`` row but the log keeps
who closed it, who reopened it and why). Loads touching a closed cycle's periods are refused
by ``warehouse/load.py``, which reads :func:`closed_cycles`.

Closing also pins the cycle (closed means frozen): a ``_pins`` row with its resolved
definitions (catalogue, targets, fiscal settings: ``catalogue_definitions``), the last load
id (the data it stands at), the run's manifest SHA-256, who and when. From then on compute,
report and verify of the cycle use the pin (``warehouse/pins.py`` decides). A reopen marks
the pin (``reopened_at``, ``reopen_reason``); closing again adds a new pin: every pin is kept.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from soekpi.base.errors import UsageError
from soekpi.catalogue import load_catalogue
from soekpi.catalogue.definitions import catalogue_definitions
from soekpi.warehouse.connection import current_user, open_warehouse
from soekpi.warehouse.coverage import resolve_on
from soekpi.warehouse.ledger import last_load_id
from soekpi.warehouse.pins import PINS, Pin
from soekpi.warehouse.schema import ensure_schema, existing_tables

if TYPE_CHECKING:
    from soekpi.base.calendar import Cycle
    from soekpi.catalogue.model import Catalogue
    from soekpi.workspace import Workspace


@dataclass(frozen=True)
class ClosedCycle:
    """A row of ``_closed_cycles``."""

    cycle: str
    start_date: date
    end_date: date
    closed_by: str
    closed_at: datetime  # UTC, naive as stored in DuckDB
    manifest_sha256: str | None

    def touches(self, first: date, last: date) -> bool:
        """True when the period range ``first..last`` (inclusive) overlaps this cycle."""
        return first <= self.end_date and last >= self.start_date


@dataclass(frozen=True)
class AuditEntry:
    """A row of ``_audit_log``."""

    id: int
    at: datetime
    who: str
    action: str  # close | reopen
    cycle: str
    reason: str | None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def closed_cycles(con: Any) -> list[ClosedCycle]:
    """Every closed cycle, by start date then name; [] when the warehouse has no such table."""
    if "_closed_cycles" not in existing_tables(con):
        return []
    rows = con.execute(
        "select cycle, start_date, end_date, closed_by, closed_at, manifest_sha256 "
        "from _closed_cycles order by start_date, end_date, cycle"
    ).fetchall()
    return [ClosedCycle(*row) for row in rows]


def audit_log(con: Any) -> list[AuditEntry]:
    """The audit log, oldest first."""
    if "_audit_log" not in existing_tables(con):
        return []
    rows = con.execute(
        'select id, "at", who, action, cycle, reason from _audit_log order by id'
    ).fetchall()
    return [AuditEntry(*row) for row in rows]


def _manifest_sha256(ws: Workspace, cycle: Cycle) -> str | None:
    manifest = ws.output / cycle.name / "manifest.json"
    if not manifest.is_file():
        return None
    return hashlib.sha256(manifest.read_bytes()).hexdigest()


def _append_log(
    con: Any, at: datetime, who: str, action: str, cycle: str, reason: str | None
) -> None:
    next_id = con.execute("select coalesce(max(id), 0) + 1 from _audit_log").fetchall()[0][0]
    con.execute(
        'insert into _audit_log (id, "at", who, action, cycle, reason) values (?, ?, ?, ?, ?, ?)',
        [next_id, at, who, action, cycle, reason],
    )


def close_cycle(
    ws: Workspace, cycle: str, reason: str | None = None, who: str | None = None
) -> ClosedCycle:
    """Close ``cycle`` (a name, ``latest`` or ``previous``): loads touching its periods are then
    refused, and the cycle is pinned (its definitions and the last load id, see the module).
    Records who, when (UTC) and the sha256 of ``<output>/<cycle>/manifest.json`` when that
    run exists. Closing a closed cycle is a UsageError."""
    catalogue = load_catalogue(ws)
    with open_warehouse(ws, write=True) as con:
        resolved = resolve_on(con, catalogue, ws.fiscal, cycle)
        start, end = resolved.dates(ws.fiscal)
        record = ClosedCycle(
            cycle=resolved.name,
            start_date=start,
            end_date=end,
            closed_by=who or current_user(),
            closed_at=_now(),
            manifest_sha256=_manifest_sha256(ws, resolved),
        )
        ensure_schema(con, catalogue)
        _refuse_closed(con, record.cycle)
        pin = _pin(con, ws, catalogue, resolved, record)
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute(
                "insert into _closed_cycles (cycle, start_date, end_date, closed_by, closed_at, "
                "manifest_sha256) values (?, ?, ?, ?, ?, ?)",
                [
                    record.cycle,
                    record.start_date,
                    record.end_date,
                    record.closed_by,
                    record.closed_at,
                    record.manifest_sha256,
                ],
            )
            _insert_pin(con, pin)
            _append_log(con, record.closed_at, record.closed_by, "close", record.cycle, reason)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return record


def _refuse_closed(con: Any, cycle: str) -> None:
    """A UsageError when ``cycle`` is closed already."""
    for existing in closed_cycles(con):
        if existing.cycle == cycle:
            raise UsageError(
                f"cycle {cycle} is already closed (by {existing.closed_by} at "
                f"{existing.closed_at:%Y-%m-%d %H:%M:%S} UTC); to change it, reopen it first "
                f"with 'soekpi close {cycle} --reopen --reason TEXT'"
            )


def _pin(con: Any, ws: Workspace, catalogue: Catalogue, cycle: Cycle, record: ClosedCycle) -> Pin:
    """What closing ``cycle`` freezes: the catalogue in force for it (revisions applied),
    the fiscal settings and the last load id."""
    definitions = catalogue_definitions(catalogue.for_cycle(cycle, ws.fiscal), ws.fiscal)
    return Pin(
        cycle=record.cycle,
        pinned_at=record.closed_at,
        pinned_by=record.closed_by,
        as_of_load=last_load_id(con),
        definitions=json.dumps(definitions, sort_keys=True, ensure_ascii=False),
        manifest_sha256=record.manifest_sha256,
    )


def _insert_pin(con: Any, pin: Pin) -> None:
    con.execute(
        f"insert into {PINS} (cycle, pinned_at, pinned_by, as_of_load, definitions, "
        "manifest_sha256) values (?, ?, ?, ?, ?, ?)",
        [
            pin.cycle,
            pin.pinned_at,
            pin.pinned_by,
            pin.as_of_load,
            pin.definitions,
            pin.manifest_sha256,
        ],
    )


def reopen_cycle(
    ws: Workspace, cycle: str, reason: str | None, who: str | None = None
) -> ClosedCycle:
    """Reopen a closed cycle; ``reason`` is required and kept in ``_audit_log``.

    Returns the closing record that was removed. Reopening a cycle that is not closed, or
    without a reason, is a UsageError."""
    if reason is None or not reason.strip():
        raise UsageError(
            "--reopen needs --reason TEXT: why the cycle is reopened is kept in the audit log"
        )
    catalogue = load_catalogue(ws)
    with open_warehouse(ws, write=True) as con:
        resolved = resolve_on(con, catalogue, ws.fiscal, cycle)
        ensure_schema(con, catalogue)
        found = [c for c in closed_cycles(con) if c.cycle == resolved.name]
        if not found:
            raise UsageError(f"cycle {resolved.name} is not closed; there is nothing to reopen")
        at = _now()
        con.execute("BEGIN TRANSACTION")
        try:
            con.execute("delete from _closed_cycles where cycle = ?", [resolved.name])
            con.execute(  # the pin is kept, marked as superseded by the reopen
                f"update {PINS} set reopened_at = ?, reopen_reason = ? "
                "where cycle = ? and reopened_at is null",
                [at, reason.strip(), resolved.name],
            )
            _append_log(con, at, who or current_user(), "reopen", resolved.name, reason.strip())
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
    return found[0]
