"""The catalogue as typed, frozen objects that keep the location they were defined at."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from soekpi.base.calendar import Cycle, FiscalSettings, parse_cycle
from soekpi.base.errors import Location

COLUMN_TYPES = ("varchar", "integer", "bigint", "double", "boolean", "date", "timestamp")
AGGS = ("sum", "count", "count_distinct", "min", "max", "mean", "closing", "average")
STOCK_AGGS = ("closing", "average")
KPI_TYPES = ("simple", "ratio", "derived", "growth", "composite")
WINDOWS = ("cycle", "ytd", "to_date")
DIRECTIONS = ("higher_is_better", "lower_is_better")
COMPARES = ("previous_cycle", "same_cycle_last_year")

Window = Literal["cycle", "ytd", "to_date"]
Direction = Literal["higher_is_better", "lower_is_better"]


@dataclass(frozen=True)
class RevisionNote:
    """The revision a definition of a cycle's catalogue is computed under (``for_cycle``)."""

    effective_from: str  # a cycle name: FY2026, FY2026-Q3
    reason: str

    def as_dict(self) -> dict[str, str]:
        """``{effective_from, reason}``, as resolved definitions carry it."""
        return {"effective_from": self.effective_from, "reason": self.reason}


@dataclass(frozen=True)
class Revision:
    """A change of a KPI's or a measure's definition from a fiscal year or cycle on.

    ``changes`` holds the definition fields the revision sets, as written in the YAML (plain
    values, in the order written: what a definitions document writes back); ``definition``
    is the whole definition in force from ``effective_from`` — those fields over the
    original's, a :class:`Kpi` or :class:`Measure` whose ``revision`` is this one's note."""

    effective_from: str
    reason: str
    changes: dict[str, Any]
    definition: Any
    location: Location | None = field(default=None, compare=False)

    @property
    def fields(self) -> tuple[str, ...]:
        """The names of the fields the revision sets, in the order written."""
        return tuple(self.changes)

    @property
    def cycle(self) -> Cycle:
        """The cycle ``effective_from`` names."""
        return parse_cycle(self.effective_from)

    @property
    def note(self) -> RevisionNote:
        return RevisionNote(self.effective_from, self.reason)


def revision_order(effective_from: str) -> tuple[int, int]:
    """Where a revision starts, as (fiscal year, first fiscal month): the order of the
    revisions whatever the fiscal settings (FY2026 and FY2026-Q1 start the same day)."""
    cycle = parse_cycle(effective_from)
    return cycle.year, cycle.fiscal_months().start


def revision_in_force(revisions: tuple[Revision, ...], cycle: Cycle) -> int:
    """The index of the last of ``revisions`` (sorted by start) that starts at or before
    ``cycle``'s start, or -1 when none does (the original definition is in force)."""
    at = (cycle.year, cycle.fiscal_months().start)
    chosen = -1
    for index, revision in enumerate(revisions):
        if revision_order(revision.effective_from) <= at:
            chosen = index
    return chosen


def definition_dict(definition: Any) -> dict[str, Any]:
    """A KPI or measure as its resolved definition holds it: every field but the location;
    ``revisions`` only when it has some (a catalogue without revisions hashes as before) and
    ``revision`` only when it is computed under one."""
    body: dict[str, Any] = {}
    for item in dataclasses.fields(definition):
        value = getattr(definition, item.name)
        if item.name == "location" or (item.name in ("revisions", "revision") and not value):
            continue
        if item.name == "revisions":
            value = [
                {**r.note.as_dict(), "definition": definition_dict(r.definition)} for r in value
            ]
        elif item.name == "revision":
            value = value.as_dict()
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            value = asdict(value)
        elif isinstance(value, dict):
            value = dict(value)
        body[item.name] = value
    return body


@dataclass(frozen=True)
class Column:
    """One column of a source's data contract."""

    name: str
    type: str  # one of COLUMN_TYPES or "decimal(p,s)", lower case
    required: bool = False
    allowed: tuple[Any, ...] | None = None
    min: float | None = None
    max: float | None = None
    unique: bool = False
    references: tuple[str, str] | None = None  # (source, column)
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Source:
    """A table (or a read-only view when ``sql`` is set) and its data contract."""

    id: str
    description: str = ""
    time_column: str | None = None
    cadence: str | None = None  # "monthly" or None
    entity_column: str | None = None
    primary_key: tuple[str, ...] = ()
    columns: dict[str, Column] = field(default_factory=dict)
    sql: str | None = None
    table: str | None = None  # the physical table name when it differs from the id
    location: Location | None = field(default=None, compare=False)

    @property
    def table_name(self) -> str:
        """The table (or view) this source reads."""
        return self.table or self.id

    @property
    def is_view(self) -> bool:
        """Views are defined by ``sql`` and hold no data of their own."""
        return self.sql is not None


@dataclass(frozen=True)
class Measure:
    """An aggregation pushed down to the warehouse (SPEC §3.2)."""

    id: str
    source: str
    agg: str  # one of AGGS
    expr: str = "*"
    filter: str | None = None
    time: str | None = None  # a column overriding the source's time_column, or "none"
    location: Location | None = field(default=None, compare=False)
    revisions: tuple[Revision, ...] = ()  # sorted by effective_from
    revision: RevisionNote | None = None  # in a cycle's catalogue: the revision in force

    def time_column(self, source: Source) -> str | None:
        """The column that places a row in time, or None when time is ignored."""
        if self.time == "none":
            return None
        return self.time or source.time_column


@dataclass(frozen=True)
class Thresholds:
    """Green and amber limits; which side is good depends on the KPI's direction."""

    green: float
    amber: float


@dataclass(frozen=True)
class Kpi:
    """A KPI definition (SPEC §3.3). Fields that do not apply to its type are None."""

    id: str
    type: str  # one of KPI_TYPES
    name: dict[str, str]  # language → name; always has "en"
    description: str = ""
    category: str = "other"
    unit: str = ""
    decimals: int = 2
    scale: float = 1.0
    window: str = "cycle"  # one of WINDOWS
    direction: str = "higher_is_better"  # one of DIRECTIONS
    thresholds: Thresholds | None = None
    measure: str | None = None  # simple
    numerator: str | None = None  # ratio
    denominator: str | None = None  # ratio
    expr: str | None = None  # derived
    of: str | None = None  # growth
    compare: str | None = None  # growth
    components: dict[str, float] | None = None  # composite: kpi id → weight
    location: Location | None = field(default=None, compare=False)
    revisions: tuple[Revision, ...] = ()  # sorted by effective_from
    revision: RevisionNote | None = None  # in a cycle's catalogue: the revision in force

    def label(self, language: str = "en") -> str:
        """The KPI's name in ``language``, falling back to English."""
        return self.name.get(language) or self.name.get("en") or self.id

    @property
    def kpi_inputs(self) -> tuple[str, ...]:
        """Ids of the other KPIs this one is computed from (derived, growth, composite)."""
        if self.type == "growth" and self.of:
            return (self.of,)
        if self.type == "composite" and self.components:
            return tuple(self.components)
        if self.type == "derived" and self.expr:
            from soekpi.catalogue.formula import referenced_names

            return tuple(referenced_names(self.expr))
        return ()

    @property
    def measure_inputs(self) -> tuple[str, ...]:
        """Ids of the measures this KPI reads directly."""
        return tuple(m for m in (self.measure, self.numerator, self.denominator) if m)


@dataclass(frozen=True)
class Target:
    """A threshold override by fiscal year and/or entity (SPEC §3.5)."""

    kpi: str
    green: float
    amber: float
    fiscal_year: int | None = None
    entity: str | None = None
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Catalogue:
    """Every source, measure, KPI and target of a workspace, validated."""

    sources: dict[str, Source]
    measures: dict[str, Measure]
    kpis: dict[str, Kpi]
    targets: tuple[Target, ...] = ()
    files: tuple[str, ...] = ()
    # for_cycle's catalogues, by the revision in force of each KPI and measure
    _by_revisions: dict[tuple[int, ...], Catalogue] = field(
        default_factory=dict, init=False, compare=False, repr=False
    )

    @property
    def has_revisions(self) -> bool:
        """Whether any KPI or measure carries revisions."""
        return any(k.revisions for k in self.kpis.values()) or any(
            m.revisions for m in self.measures.values()
        )

    def for_cycle(self, cycle: Cycle, fiscal: FiscalSettings) -> Catalogue:
        """The catalogue in force for ``cycle``: each KPI and measure as its last revision
        whose ``effective_from`` starts at or before the cycle's start (its ``revision``
        says which), no ``revisions`` left. ``fiscal`` places the cycle; the order of
        cycles and revisions is the same under any fiscal settings. A catalogue without
        revisions is its own; the same revisions in force give the same (cached) object."""
        if not self.has_revisions:
            return self
        key = tuple(revision_in_force(k.revisions, cycle) for k in self.kpis.values()) + tuple(
            revision_in_force(m.revisions, cycle) for m in self.measures.values()
        )
        found = self._by_revisions.get(key)
        if found is None:
            found = Catalogue(
                sources=self.sources,
                measures={
                    m: _in_force(d, key[len(self.kpis) + i])
                    for i, (m, d) in enumerate(self.measures.items())
                },
                kpis={k: _in_force(d, key[i]) for i, (k, d) in enumerate(self.kpis.items())},
                targets=self.targets,
                files=self.files,
            )
            self._by_revisions[key] = found
        return found

    def revisions_of(self, kpi_id: str) -> list[tuple[str, RevisionNote]]:
        """The revisions a KPI of a cycle's catalogue is computed under: its own, those of
        its measures and those of the KPIs it is computed from, as ("kpi x" | "measure m",
        note), each once, in dependency order."""
        found: list[tuple[str, RevisionNote]] = []
        for k in self.kpi_closure([kpi_id]):
            kpi = self.kpis[k]
            if kpi.revision is not None:
                found.append((f"kpi {k}", kpi.revision))
            for m in kpi.measure_inputs:
                note = self.measures[m].revision if m in self.measures else None
                if note is not None and (f"measure {m}", note) not in found:
                    found.append((f"measure {m}", note))
        return found

    def kpi_order(self) -> list[str]:
        """KPI ids in dependency order (inputs before the KPIs computed from them)."""
        done: dict[str, None] = {}

        def visit(kpi_id: str) -> None:
            if kpi_id in done:
                return
            for dep in self.kpis[kpi_id].kpi_inputs:
                if dep in self.kpis:
                    visit(dep)
            done[kpi_id] = None

        for kpi_id in sorted(self.kpis):
            visit(kpi_id)
        return list(done)

    def kpi_closure(self, kpi_ids: list[str]) -> list[str]:
        """The given KPIs and every KPI they depend on, in dependency order."""
        needed: set[str] = set()
        stack = list(kpi_ids)
        while stack:
            kpi_id = stack.pop()
            if kpi_id not in needed:
                needed.add(kpi_id)
                stack.extend(self.kpis[kpi_id].kpi_inputs)
        return [k for k in self.kpi_order() if k in needed]

    def sources_of(self, kpi_id: str) -> set[str]:
        """The sources a KPI reads, directly or through the KPIs it is computed from."""
        found: set[str] = set()
        for k in self.kpi_closure([kpi_id]):
            for m in self.kpis[k].measure_inputs:
                found.add(self.measures[m].source)
        return found

    def kpi_hash(self, kpi_id: str) -> str:
        """SHA-256 of a KPI's definition as resolved: itself, its measures, its targets, and
        (recursively) the KPIs it is computed from. Locations are not part of it."""
        return hashlib.sha256(
            json.dumps(self.resolved_definition(kpi_id), sort_keys=True, default=str).encode()
        ).hexdigest()

    def resolved_definition(self, kpi_id: str) -> dict[str, Any]:
        """A plain, JSON-ready dict of everything that determines a KPI's values and status."""
        kpi = self.kpis[kpi_id]
        body = definition_dict(kpi)
        body["measures"] = {m: definition_dict(self.measures[m]) for m in kpi.measure_inputs}
        body["targets"] = [
            {k: v for k, v in asdict(t).items() if k != "location"}
            for t in self.targets
            if t.kpi == kpi_id
        ]
        body["inputs"] = {dep: self.kpi_hash(dep) for dep in kpi.kpi_inputs}
        return body


def _in_force(definition: Any, index: int) -> Any:
    """``definition`` (a Kpi or Measure) as in force: its revision ``index`` (-1: itself),
    without revisions."""
    if not definition.revisions:
        return definition
    if index < 0:
        return dataclasses.replace(definition, revisions=())
    return definition.revisions[index].definition
