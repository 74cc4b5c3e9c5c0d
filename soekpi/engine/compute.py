"""``compute``: the ONE code path for KPI numbers (compute, report, diff and verify use it).

catalogue + cycles → measure plan (one SQL query per source) → run on the sandbox → small
Polars frames → completeness → KPI algebra and status → sorted result.

A pass has two halves: :func:`read_measures` runs the plan on an open connection and leaves
the values on disk; :func:`finish_measures` reads them back once the connection is closed
(DuckDB's memory is free again) and checks completeness. :func:`on_warehouse` opens the one
connection and retries once at DuckDB's own memory limit; :func:`compute` and a report run
(report/run.py: the cycle and its trend on one connection) are built from these.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from soekpi.base.calendar import Cycle
from soekpi.base.errors import UsageError, WarehouseOutOfMemory
from soekpi.base.text import did_you_mean
from soekpi.engine.completeness import check_completeness
from soekpi.engine.hierarchy import Hierarchy, build_hierarchy
from soekpi.engine.kpis import KpiFrames, compute_kpis
from soekpi.engine.measures import read_entities, run_measures
from soekpi.engine.plan import Window, closure_sql, plan_measures, window_of
from soekpi.warehouse import sandbox as sandbox_module
from soekpi.warehouse.coverage import latest_quarter, resolve_on

if TYPE_CHECKING:
    import polars as pl

    from soekpi.catalogue.model import Catalogue
    from soekpi.engine.measures import PendingMeasures
    from soekpi.workspace import Workspace

#: DuckDB's memory limit for the measure queries when soekpi.yaml sets none. Beyond it
#: DuckDB drops the table blocks it has cached and spills to disk: at 50 M rows compute
#: peaks under 1 GB instead of 3.0 GB, 10-15 % slower than at DuckDB's own limit
#: (benchmarks/README.md). A query that still runs out is run again at DuckDB's own limit
#: (:func:`on_warehouse`).
MEASURE_MEMORY_LIMIT = "500MB"

Progress = Callable[..., Any]
Read = TypeVar("Read")
Done = TypeVar("Done")


@dataclass(frozen=True)
class KpiResult:
    """What :func:`compute` returns (docs/architecture.md "Engine result").

    ``values``: kpi, entity, cycle, value, status, green, amber, unit — sorted by entity, kpi,
    cycle in plain string order. ``missing``: source, entity, cycle, month — monthly returns
    missing in the windows the KPIs read (entity null for a group-wide source).
    ``components``: the composite breakdown (kpi, entity, cycle, component, weight, value,
    green, score, contribution). ``hierarchy``: entity_id, name, name_zh, parent_id, depth in
    display order (the root entity first).
    """

    cycles: list[Cycle]
    values: pl.DataFrame
    missing: pl.DataFrame
    components: pl.DataFrame
    hierarchy: pl.DataFrame


def on_warehouse(
    ws: Workspace,
    read: Callable[[Any, Path], Read],
    finish: Callable[[Read], Done],
    as_of: int | None = None,
) -> Done:
    """``read(con, folder)`` on one read-only connection (the sandbox; ``as_of``: the data as
    they stood right after that load), then ``finish`` of what it returned once the
    connection is closed; ``folder`` is a temporary folder that lives until ``finish``
    returns.

    The connection runs under :data:`MEASURE_MEMORY_LIMIT` unless soekpi.yaml sets a limit.
    When a query runs out of it, ``read`` runs again on a new connection at DuckDB's own
    limit (a connection's limit is fixed for its life); out of a limit set in soekpi.yaml,
    the error says to raise it."""
    with tempfile.TemporaryDirectory(prefix="soekpi-measures-") as name:
        folder = Path(name)
        try:
            done = _read_on_sandbox(ws, read, folder / "1", MEASURE_MEMORY_LIMIT, as_of)
        except WarehouseOutOfMemory as exc:
            limit = ws.warehouse.memory_limit
            if limit is not None:
                raise WarehouseOutOfMemory(
                    f"{exc.message}; raise warehouse.memory_limit in soekpi.yaml (now {limit})",
                    exc.location,
                ) from None
            done = _read_on_sandbox(ws, read, folder / "2", None, as_of)
        return finish(done)


def _read_on_sandbox(
    ws: Workspace,
    read: Callable[[Any, Path], Read],
    folder: Path,
    memory_limit: str | None,
    as_of: int | None = None,
) -> Read:
    folder.mkdir()
    with sandbox_module.sandbox(ws, memory_limit=memory_limit, as_of=as_of) as con:
        return read(con, folder)


@dataclass(frozen=True)
class Entities:
    """The entities source as read once per connection: its rows and their hierarchy."""

    rows: pl.DataFrame  # entity_id, name, name_zh, parent_id
    hierarchy: Hierarchy

    @classmethod
    def read(cls, con: Any, ws: Workspace, catalogue: Catalogue) -> Entities:
        """Read the entities on ``con`` and order them (``root_entity`` first)."""
        rows = read_entities(con, catalogue)
        pairs = rows.select("entity_id", "parent_id").iter_rows()
        return cls(rows, build_hierarchy(pairs, ws.root_entity))

    def roots(self, root_entity: str | None) -> list[str]:
        """The entities a report charts: ``root_entity``, else every entity at the top."""
        return self.hierarchy.roots(root_entity)


@dataclass(frozen=True)
class MeasuresRead:
    """What :func:`read_measures` leaves for :func:`finish_measures`: the question, its
    plan's windows, the entities, and the values waiting on disk."""

    asked: list[Cycle]
    all_cycles: list[Cycle]
    wanted_kpis: list[str]
    kpi_ids: list[str]
    entities: Entities
    wanted_entities: list[str]  # the entities computed, in hierarchy order
    source_windows: dict[str, set[Window]]
    pending: PendingMeasures
    #: the windows each measure was read over (the rows a run read: output.windows_read)
    measure_windows: dict[str, set[Window]] = field(default_factory=dict)
    #: the catalogue this pass computes with: the one in force for its cycles (revisions)
    catalogue: Catalogue | None = None
    #: the asked cycles under other revisions, each group a pass with its own catalogue
    others: tuple[MeasuresRead, ...] = ()

    @property
    def passes(self) -> tuple[MeasuresRead, ...]:
        """This pass and the others: one per catalogue in force among the asked cycles."""
        return (self, *self.others)


@dataclass(frozen=True)
class _Measured:
    """What every KPI of a compute is made from: the measures pulled from the warehouse."""

    asked: list[Cycle]
    all_cycles: list[Cycle]
    wanted_kpis: list[str]
    kpi_ids: list[str]
    entities: list[str]  # the entities computed, in hierarchy order
    measures: pl.DataFrame  # entity, cycle, m|<measure>|<window>: sorted by entity, cycle
    flags: pl.DataFrame
    missing: pl.DataFrame
    hierarchy: pl.DataFrame
    catalogue: Catalogue | None = None  # as MeasuresRead's
    others: tuple[_Measured, ...] = ()  # as MeasuresRead's

    @property
    def every_asked(self) -> list[Cycle]:
        """The asked cycles of this pass and the others."""
        return sorted({c for p in (self, *self.others) for c in p.asked})


def read_measures(
    con: Any,
    folder: Path,
    ws: Workspace,
    catalogue: Catalogue,
    cycles: Sequence[Cycle | str],
    entities: list[str] | None = None,
    kpis: list[str] | None = None,
    progress: Progress | None = None,
    known: Entities | None = None,
) -> MeasuresRead:
    """Run the measure plan of ``kpis`` (default: all) for ``entities`` (default: every
    entity) and ``cycles`` (a cycle argument such as ``latest`` is resolved on ``con``) on
    the open connection ``con``; the values wait in ``folder``. ``known``: the entities
    already read on ``con`` (a second pass on the same connection reads them once).

    An unknown KPI or entity is a :class:`UsageError` with a did-you-mean hint."""
    asked = sorted({_resolved(con, ws, catalogue, c) for c in cycles})
    groups = _revision_groups(catalogue, asked, ws)
    if groups is not None:
        known = known or Entities.read(con, ws, catalogue)
        reads = [
            read_measures(con, folder, ws, group, grouped, entities, kpis, progress, known)
            for group, grouped in groups
        ]
        return replace(reads[0], others=tuple(reads[1:]))
    wanted_kpis = _checked_kpis(catalogue, kpis)
    kpi_ids = catalogue.kpi_closure(wanted_kpis)
    all_cycles = _needed_cycles(catalogue, kpi_ids, asked)
    measure_windows, source_windows = _windows(ws, catalogue, kpi_ids, all_cycles)
    known = known or Entities.read(con, ws, catalogue)
    wanted_entities = _checked_entities(known.hierarchy, entities)
    plan = plan_measures(
        catalogue,
        measure_windows,
        _closure(catalogue, known.hierarchy, wanted_entities, entities is not None),
        sorted(source_windows),
        few_ancestors=entities is not None,
    )
    sub = folder / str(len(list(folder.iterdir())))  # one folder per pass on the connection
    sub.mkdir()
    pending = run_measures(con, catalogue, plan, sub, progress)
    return MeasuresRead(
        asked,
        all_cycles,
        wanted_kpis,
        kpi_ids,
        known,
        wanted_entities,
        source_windows,
        pending,
        measure_windows=measure_windows,
        catalogue=catalogue,
    )


def _revision_groups(
    catalogue: Catalogue, asked: list[Cycle], ws: Workspace
) -> list[tuple[Catalogue, list[Cycle]]] | None:
    """The asked cycles grouped by the catalogue in force for them (``Catalogue.for_cycle``),
    in cycle order; None when ``catalogue`` is the one in force for all of them (a catalogue
    without revisions: one pass, as before). A growth KPI's earlier cycle is read in its
    group, under the definitions of the cycle asked: like is compared with like."""
    if not catalogue.has_revisions or not asked:
        return None
    groups: dict[int, tuple[Catalogue, list[Cycle]]] = {}
    for cycle in asked:
        in_force = catalogue.for_cycle(cycle, ws.fiscal)
        groups.setdefault(id(in_force), (in_force, []))[1].append(cycle)
    return list(groups.values())


def _checked_kpis(catalogue: Catalogue, kpis: list[str] | None) -> list[str]:
    """The KPIs asked for, sorted (default: all); an unknown one is a UsageError."""
    for kpi_id in kpis or []:
        if kpi_id not in catalogue.kpis:
            raise UsageError(
                f"--kpi: '{kpi_id}' is not a KPI of the catalogue"
                f"{did_you_mean(kpi_id, catalogue.kpis)}; 'soekpi kpis' lists them"
            )
    return sorted(set(kpis)) if kpis else sorted(catalogue.kpis)


def _resolved(con: Any, ws: Workspace, catalogue: Catalogue, cycle: Cycle | str) -> Cycle:
    return resolve_on(con, catalogue, ws.fiscal, cycle) if isinstance(cycle, str) else cycle


def _checked_entities(hierarchy: Hierarchy, entities: list[str] | None) -> list[str]:
    """The entities asked for in hierarchy order (default: all); an unknown one is a
    UsageError."""
    for entity in entities or []:
        if entity not in hierarchy.depth:
            raise UsageError(
                f"--entity: '{entity}' is not an entity of the hierarchy"
                f"{did_you_mean(entity, hierarchy.depth)}"
            )
    return [e for e in hierarchy.ids if e in set(entities)] if entities else hierarchy.ids


def _needed_cycles(
    catalogue: Catalogue, kpi_ids: Sequence[str], cycles: Sequence[Cycle]
) -> list[Cycle]:
    """The cycles asked for plus the earlier ones growth KPIs compare with (transitively)."""
    todo = [(k, c) for k in kpi_ids for c in cycles]
    seen: set[tuple[str, Cycle]] = set()
    while todo:
        kpi_id, cycle = todo.pop()
        if (kpi_id, cycle) in seen:
            continue
        seen.add((kpi_id, cycle))
        kpi = catalogue.kpis[kpi_id]
        todo.extend((dep, cycle) for dep in kpi.kpi_inputs)
        if kpi.type == "growth" and kpi.of:
            earlier = (
                cycle.previous()
                if kpi.compare == "previous_cycle"
                else cycle.same_cycle_last_year()
            )
            todo.append((kpi.of, earlier))
    return sorted({c for _, c in seen})


def _windows(
    ws: Workspace, catalogue: Catalogue, kpi_ids: list[str], cycles: list[Cycle]
) -> tuple[dict[str, set[Window]], dict[str, set[Window]]]:
    """The windows each measure is read over, and those of each monthly source (whose
    completeness is checked)."""
    measure_windows: dict[str, set[Window]] = {}
    source_windows: dict[str, set[Window]] = {}
    for kpi_id in kpi_ids:
        kpi = catalogue.kpis[kpi_id]
        wins = {window_of(kpi.window, c, ws.fiscal) for c in cycles}
        for measure_id in kpi.measure_inputs:
            measure_windows.setdefault(measure_id, set()).update(wins)
            source = catalogue.sources[catalogue.measures[measure_id].source]
            if source.cadence == "monthly" and source.time_column:
                source_windows.setdefault(source.id, set()).update(wins)
    return measure_windows, source_windows


def _closure(
    catalogue: Catalogue, hierarchy: Hierarchy, wanted: list[str], some: bool
) -> str | list[tuple[str, str]]:
    """The (ancestor, descendant) pairs of the entities computed, as SQL over the entities
    table: inlined pairs of tens of thousands of entities took seconds to parse in every
    source query (benchmarks/README.md). A view of entities gets the pairs themselves."""
    entities_source = catalogue.sources["entities"]
    if entities_source.is_view:
        return hierarchy.closure(wanted)
    depth = max(hierarchy.depth.values(), default=0)
    return closure_sql(entities_source, depth, wanted if some else None)


def finish_measures(read: MeasuresRead) -> _Measured:
    """The values of ``read`` back from disk (call it once the connection is closed), with
    the completeness of the monthly returns and the hierarchy frame."""
    import polars as pl

    measures = read.pending.load()
    hierarchy = read.entities.hierarchy
    completeness = check_completeness(
        measures.gaps, measures.coverage, read.source_windows, hierarchy, read.wanted_entities
    )
    if read.others:
        return _joined([finish_measures(replace(p, others=())) for p in read.passes])
    names = [c.name for c in read.asked]
    missing = (
        completeness.missing.filter(pl.col("window_cycle").is_in(names))
        .select("source", "entity", pl.col("window_cycle").alias("cycle"), "month")
        .unique()
        .sort("source", "entity", "cycle", "month", nulls_last=True)
    )
    return _Measured(
        asked=read.asked,
        all_cycles=read.all_cycles,
        wanted_kpis=read.wanted_kpis,
        kpi_ids=read.kpi_ids,
        entities=read.wanted_entities,
        measures=measures.values,
        flags=completeness.flags,
        missing=missing,
        hierarchy=_hierarchy_frame(read.entities),
        catalogue=read.catalogue,
    )


def _joined(passes: list[_Measured]) -> _Measured:
    """The passes of one read (one per catalogue in force) as one: the first carries the
    others and the missing months of all, sorted as one pass sorts them."""
    import polars as pl

    first = passes[0]
    missing = pl.concat([p.missing for p in passes], how="vertical_relaxed").sort(
        "source", "entity", "cycle", "month", nulls_last=True
    )
    return replace(first, missing=missing, others=tuple(passes[1:]))


def _hierarchy_frame(entities: Entities) -> pl.DataFrame:
    """entity_id, name, name_zh, parent_id, depth in display order; an id given twice keeps
    its last row, as in build_hierarchy."""
    import polars as pl

    hierarchy = entities.hierarchy
    order = pl.DataFrame(
        {"entity_id": hierarchy.order, "depth": [hierarchy.depth[e] for e in hierarchy.order]},
        schema={"entity_id": pl.String, "depth": pl.Int64},
    )
    return order.join(
        entities.rows.unique("entity_id", keep="last", maintain_order=True),
        on="entity_id",
        how="left",
        maintain_order="left",
    ).select("entity_id", "name", "name_zh", "parent_id", "depth")


def _kpis_of(measured: _Measured, catalogue: Catalogue, entities: list[str]) -> KpiFrames:
    """The KPI values and components of ``entities`` (some or all of those measured), each
    pass computed with the catalogue in force for its cycles, then sorted as one."""
    import polars as pl

    if not measured.others:
        return _pass_kpis(measured, measured.catalogue or catalogue, entities)
    frames = [
        _pass_kpis(replace(p, others=()), p.catalogue or catalogue, entities)
        for p in (measured, *measured.others)
    ]
    return KpiFrames(
        values=pl.concat([f.values for f in frames], how="vertical_relaxed").sort(
            "entity", "kpi", "cycle"
        ),
        components=pl.concat([f.components for f in frames], how="vertical_relaxed").sort(
            "entity", "kpi", "cycle", "component"
        ),
    )


def _pass_kpis(measured: _Measured, catalogue: Catalogue, entities: list[str]) -> KpiFrames:
    """The KPI values and components of one pass."""
    import polars as pl

    measures, flags = measured.measures, measured.flags
    if len(entities) < len(measured.entities):
        wanted = pl.col("entity").is_in(entities)
        measures, flags = measures.filter(wanted), flags.filter(wanted)
    return compute_kpis(
        catalogue,
        measured.kpi_ids,
        measured.all_cycles,
        entities,
        measures,
        flags,
        out_kpis=measured.wanted_kpis,
        out_cycles=[c.name for c in measured.asked],
    )


def kpi_result(read: MeasuresRead, catalogue: Catalogue) -> KpiResult:
    """Every KPI of ``read`` (call it once the connection is closed)."""
    measured = finish_measures(read)
    frames = _kpis_of(measured, catalogue, measured.entities)
    return KpiResult(
        cycles=measured.every_asked,
        values=frames.values,
        missing=measured.missing,
        components=frames.components,
        hierarchy=measured.hierarchy,
    )


def compute(
    ws: Workspace,
    catalogue: Catalogue,
    cycles: Sequence[Cycle | str],
    entities: list[str] | None = None,
    kpis: list[str] | None = None,
    progress: Progress | None = None,
    as_of: int | None = None,
) -> KpiResult:
    """Every KPI (or ``kpis``) for every entity of the hierarchy (or ``entities``) and cycle
    (a cycle argument such as ``latest`` is resolved on the same connection), on the data
    as they stood right after load ``as_of`` when given.

    An unknown KPI or entity is a :class:`UsageError` with a did-you-mean hint.

    Example::

        result = compute(ws, load_catalogue(ws), [parse_cycle("FY2026-Q3")])
        result.values.filter(pl.col("status") == "red")
    """
    return on_warehouse(
        ws,
        lambda con, folder: read_measures(
            con, folder, ws, catalogue, cycles, entities, kpis, progress
        ),
        lambda read: kpi_result(read, catalogue),
        as_of=as_of,
    )


#: Entities per batch of :func:`compute_values`: bounds the memory of the KPI algebra.
BATCH_ENTITIES = 20_000


def compute_values(
    ws: Workspace,
    catalogue: Catalogue,
    cycles: Sequence[Cycle | str],
    entities: list[str] | None = None,
    kpis: list[str] | None = None,
    progress: Progress | None = None,
    batch: int = BATCH_ENTITIES,
    as_of: int | None = None,
) -> Iterator[pl.DataFrame]:
    """:func:`compute`'s ``values`` in pieces of at most ``batch`` entities, in order:
    concatenated, the same frame. The measures are pulled from the warehouse now (errors
    are raised here); each piece's KPIs are computed when the iterator reaches it, so a
    group of hundreds of thousands of entities is never held whole."""
    measured = on_warehouse(
        ws,
        lambda con, folder: read_measures(
            con, folder, ws, catalogue, cycles, entities, kpis, progress
        ),
        finish_measures,
        as_of=as_of,
    )
    return _batches(measured, catalogue, max(batch, 1))


def _batches(measured: _Measured, catalogue: Catalogue, batch: int) -> Iterator[pl.DataFrame]:
    ids = sorted(set(measured.entities))
    if not ids:
        yield _kpis_of(measured, catalogue, []).values
    for start in range(0, len(ids), batch):
        yield _kpis_of(measured, catalogue, ids[start : start + batch]).values


def latest_cycle(ws: Workspace, catalogue: Catalogue) -> Cycle | None:
    """SPEC §2 ``latest`` (:func:`soekpi.warehouse.coverage.latest_quarter`) on its own
    connection; None without data."""
    with sandbox_module.sandbox(ws) as con:
        return latest_quarter(con, catalogue, ws.fiscal)


def resolve(ws: Workspace, catalogue: Catalogue, text: str) -> Cycle:
    """A cycle argument (a name, ``previous`` or ``latest``) as a Cycle, on its own
    connection (:func:`soekpi.warehouse.coverage.resolve_on`)."""
    with sandbox_module.sandbox(ws) as con:
        return resolve_on(con, catalogue, ws.fiscal, text)
