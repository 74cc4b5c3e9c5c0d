"""Closed means frozen: which definitions and which data a cycle is computed with.

``soekpi close C`` pins the cycle (``audit/closing.py`` writes the row): its resolved
definitions (catalogue, targets, fiscal settings, as ``definitions.json`` holds them) and the
last load id at its close, kept in ``_pins`` with who and when. Every pin is kept: a reopen
marks it (``reopened_at``, ``reopen_reason``), and closing again adds a new one. The active
pin of a cycle is the one not reopened.

This module is the one place that decides what cycle C is computed with
(:func:`cycle_inputs`): the catalogue files and today's data when C is open; its pinned
definitions and the data as of its pinned load when it is closed, with a one-line notice when
the pinned definitions differ from today's catalogue. ``compute`` (api.py), ``report`` (its
cycle and each earlier cycle of its trend) and ``verify`` ask it; it never prints.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from soekpi.base.calendar import Cycle, FiscalSettings, parse_cycle
from soekpi.base.errors import InputError, Location
from soekpi.warehouse.coverage import resolve_on
from soekpi.warehouse.sandbox import sandbox
from soekpi.warehouse.schema import existing_tables

if TYPE_CHECKING:
    from soekpi.catalogue.model import Catalogue
    from soekpi.workspace import Workspace

PINS = "_pins"
REOPEN_HINT = "soekpi close {cycle} --reopen --reason TEXT"


@dataclass(frozen=True)
class Pin:
    """A row of ``_pins``: what a close froze (``reopened_at`` is None while it holds)."""

    cycle: str
    pinned_at: datetime  # UTC, naive as stored in DuckDB
    pinned_by: str | None
    as_of_load: int
    definitions: str  # JSON text: catalogue_definitions(catalogue, fiscal)
    manifest_sha256: str | None
    reopened_at: datetime | None = None
    reopen_reason: str | None = None

    @property
    def period(self) -> Cycle:
        """The pinned cycle as a Cycle."""
        return parse_cycle(self.cycle)

    @property
    def active(self) -> bool:
        """True while the cycle is closed under this pin."""
        return self.reopened_at is None


@dataclass(frozen=True)
class CycleInputs:
    """What one cycle is computed with: the catalogue, the fiscal settings and the load its
    data stands at (None: today's data), the pin they come from (None: the cycle is open) and
    the notice the CLI prints when the pinned definitions differ from today's catalogue."""

    cycle: Cycle
    catalogue: Catalogue
    fiscal: FiscalSettings
    as_of: int | None
    pin: Pin | None = None
    notice: str | None = None
    differing: tuple[str, ...] = field(default=())  # KPI ids whose definition differs

    def workspace(self, ws: Workspace) -> Workspace:
        """``ws`` with these fiscal settings (the pinned ones of a closed cycle)."""
        return ws if ws.fiscal == self.fiscal else replace(ws, fiscal=self.fiscal)


def read_pins(con: Any, cycle: str | None = None) -> list[Pin]:
    """Every pin (of ``cycle``, or of every cycle), oldest first; [] on a warehouse written
    before pins existed."""
    if PINS not in existing_tables(con):
        return []
    where, params = ("where cycle = ? ", [cycle]) if cycle is not None else ("", [])
    rows = con.execute(
        "select cycle, pinned_at, pinned_by, as_of_load, definitions::varchar, "
        f"manifest_sha256, reopened_at, reopen_reason from {PINS} {where}"
        "order by pinned_at, cycle, reopened_at nulls last",
        params,
    ).fetchall()
    return [Pin(*row) for row in rows]


def active_pins(con: Any) -> dict[str, Pin]:
    """The pin in force of each closed cycle, by cycle name."""
    return {p.cycle: p for p in read_pins(con) if p.active}


def pinned_catalogue(pin: Pin) -> tuple[Catalogue, FiscalSettings]:
    """The catalogue and fiscal settings a pin froze, parsed back through the catalogue
    parser (a problem is located in ``_pins[<cycle>]``)."""
    from soekpi.catalogue.definitions import catalogue_from_definitions

    shown = f"{PINS}[{pin.cycle}]"
    try:
        doc = json.loads(pin.definitions)
    except ValueError as exc:
        raise InputError(f"the pinned definitions are not JSON: {exc}", Location(shown)) from None
    return catalogue_from_definitions(doc, shown)


def differing_kpis(pinned: Catalogue, current: Catalogue) -> list[str]:
    """KPI ids whose resolved definition (targets, measures and inputs included) differs
    between two catalogues, or that only one of them has; sorted."""
    ids = sorted(set(pinned.kpis) | set(current.kpis))
    return [
        k
        for k in ids
        if k not in pinned.kpis
        or k not in current.kpis
        or pinned.kpi_hash(k) != current.kpi_hash(k)
    ]


def closed_notice(pin: Pin, kpis: list[str], fiscal_differs: bool) -> str | None:
    """The one line that says a closed cycle was computed with its pin, when the pinned
    definitions differ from today's (None when they do not)."""
    parts = []
    if kpis:
        parts.append(f"{len(kpis)} KPI{'s differ' if len(kpis) != 1 else ' differs'}")
    if fiscal_differs:
        parts.append("the fiscal settings differ")
    if not parts:
        return None
    return (
        f"{pin.cycle} is closed: computed with the definitions pinned on "
        f"{pin.pinned_at:%Y-%m-%d}; {' and '.join(parts)} from the catalogue"
    )


def inputs_of(
    pin: Pin | None,
    cycle: Cycle,
    catalogue: Catalogue,
    fiscal: FiscalSettings,
    as_of: int | None = None,
) -> CycleInputs:
    """The inputs of ``cycle`` under ``pin`` (None: open, today's catalogue and ``as_of``).

    An explicit ``as_of`` (``--as-of``) wins over the pinned load; the definitions of a
    closed cycle are always the pinned ones."""
    if pin is None:
        return CycleInputs(cycle, catalogue, fiscal, as_of)
    pinned, pinned_fiscal = pinned_catalogue(pin)
    # today's catalogue as it applies to the cycle (its revisions in force)
    kpis = differing_kpis(pinned, catalogue.for_cycle(cycle, fiscal))
    return CycleInputs(
        cycle=cycle,
        catalogue=pinned,
        fiscal=pinned_fiscal,
        # load 0: nothing was loaded when the cycle was closed (no ledger to stand at)
        as_of=as_of if as_of is not None else (pin.as_of_load or None),
        pin=pin,
        notice=closed_notice(pin, kpis, pinned_fiscal != fiscal),
        differing=tuple(kpis),
    )


def cycle_inputs_on(
    con: Any,
    catalogue: Catalogue,
    fiscal: FiscalSettings,
    cycle: str | Cycle,
    as_of: int | None = None,
) -> CycleInputs:
    """:func:`cycle_inputs` on an open connection (a cycle name, ``latest`` or ``previous``
    is resolved on it)."""
    resolved = resolve_on(con, catalogue, fiscal, cycle) if isinstance(cycle, str) else cycle
    pins = [p for p in read_pins(con, resolved.name) if p.active]
    return inputs_of(pins[-1] if pins else None, resolved, catalogue, fiscal, as_of)


def cycle_inputs(
    ws: Workspace, catalogue: Catalogue, cycle: str | Cycle, as_of: int | None = None
) -> CycleInputs:
    """What ``cycle`` is computed with: today's catalogue and data (or the data as of
    ``as_of``) when it is open; its pinned definitions and load when it is closed.

    Reads the warehouse on its own short read-only connection. A Spark workspace has no
    pins (it cannot be closed): its cycles are always open."""
    with sandbox(ws, as_of=as_of) as con:
        if ws.warehouse.engine == "duckdb":
            return cycle_inputs_on(con, catalogue, ws.fiscal, cycle, as_of)
        resolved = (
            cycle if isinstance(cycle, Cycle) else resolve_on(con, catalogue, ws.fiscal, cycle)
        )
        return CycleInputs(resolved, catalogue, ws.fiscal, as_of)


def sealed_manifest(ws: Workspace, cycle: str) -> Pin | None:
    """The pin in force of ``cycle`` when it recorded the SHA-256 of the cycle's run manifest
    at close (``verify`` checks the run against it); None otherwise or on a Spark workspace."""
    if ws.warehouse.engine != "duckdb":
        return None
    with sandbox(ws) as con:
        pins = [p for p in read_pins(con, cycle) if p.active and p.manifest_sha256]
    return pins[-1] if pins else None


def cycles_by_pin(con: Any, cycles: list[Cycle]) -> tuple[list[Cycle], list[list[Pin]]]:
    """``cycles`` split into the open ones and the closed ones, grouped by what their pins
    froze (definitions and load): each group is computed once, with that pin. Given order
    is kept within each part."""
    pins = active_pins(con)
    open_cycles = [c for c in cycles if c.name not in pins]
    groups: dict[tuple[str, int], list[Pin]] = {}
    for c in cycles:
        if c.name in pins:
            pin = pins[c.name]
            groups.setdefault((pin.definitions, pin.as_of_load), []).append(pin)
    return open_cycles, list(groups.values())
