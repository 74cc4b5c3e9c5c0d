"""The catalogue as typed, frozen objects that keep the location they were defined at."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

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
        body = {k: v for k, v in asdict(kpi).items() if k != "location"}
        body["measures"] = {
            m: {k: v for k, v in asdict(self.measures[m]).items() if k != "location"}
            for m in kpi.measure_inputs
        }
        body["targets"] = [
            {k: v for k, v in asdict(t).items() if k != "location"}
            for t in self.targets
            if t.kpi == kpi_id
        ]
        body["inputs"] = {dep: self.kpi_hash(dep) for dep in kpi.kpi_inputs}
        return body
