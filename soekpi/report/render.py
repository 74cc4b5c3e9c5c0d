"""Turn a computed cycle into report text: HTML and Markdown strings, never files.

:func:`build_context` shapes the engine result into plain view objects (every number
already formatted, every label already translated); the Jinja templates (workspace
``templates:`` folder first, then the built-in ``reports/`` folder) lay them out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from soekpi.base.errors import InputError, Location, UsageError
from soekpi.engine.hierarchy import entity_order, root_entities
from soekpi.report import charts
from soekpi.report.format import NULL, change, md_escape, number, with_unit

if TYPE_CHECKING:
    from jinja2 import Environment

    from soekpi.base.calendar import Cycle, FiscalSettings
    from soekpi.catalogue.model import Catalogue, Kpi, RevisionNote
    from soekpi.warehouse.queries import ProjectRisks, RejectedCount

I18N_DIR = Path(__file__).parent / "i18n"
TREND_CYCLES = 8
#: At most this many entities in the status grid (whole levels from the top; grid_scope).
GRID_LIMIT = 250
_SPARK = "▁▂▃▄▅▆▇█"
_RISK_ORDER = {"red": 0, "amber": 1}


class ResultLike(Protocol):
    """The engine's ``KpiResult`` as the report reads it (docs/architecture.md)."""

    @property
    def cycles(self) -> Sequence[Cycle]: ...
    @property
    def values(self) -> Any: ...
    @property
    def missing(self) -> Any: ...
    @property
    def components(self) -> Any: ...
    @property
    def hierarchy(self) -> Any: ...


@dataclass(frozen=True)
class ReportData:
    """Everything a report shows, before formatting."""

    catalogue: Catalogue
    result: ResultLike  # values for the cycle and up to seven cycles before it
    cycle: Cycle
    fiscal: FiscalSettings
    language: str
    generated_at: str  # ISO 8601 UTC
    version: str
    sources: Mapping[str, tuple[int, str]]  # source id → (rows, sha256)
    kpi_hashes: Mapping[str, str]  # kpi id → sha256 of its resolved definition
    rejected: Sequence[RejectedCount] = ()
    projects: ProjectRisks | None = None
    root_entity: str | None = None  # the workspace's root_entity setting


# ---------------------------------------------------------------------------- messages


@cache
def load_messages(language: str) -> dict[str, str]:
    """The report labels of ``language`` (``soekpi/report/i18n/<language>.yaml``)."""
    from soekpi.base.yamlio import read_yaml

    path = I18N_DIR / f"{language}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in I18N_DIR.glob("*.yaml"))
        raise UsageError(f"--lang: '{language}' is not one of {', '.join(known)}")
    data = read_yaml(path, str(path))
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InputError("a message catalogue must map keys to strings", Location(str(path)))
    return {str(k): str(v) for k, v in data.items()}


# ------------------------------------------------------------------------- view objects


@dataclass(frozen=True)
class Entity:
    """An entity as shown: id, display name and depth in the hierarchy."""

    id: str
    name: str
    depth: int


@dataclass(frozen=True)
class StatusCount:
    status: str
    label: str
    count: int


@dataclass(frozen=True)
class ComponentRow:
    name: str
    weight: str
    value: str
    green: str
    score: str
    contribution: str


@dataclass(frozen=True)
class CompositeView:
    id: str
    name: str
    value: str
    status: str
    status_label: str
    components: list[ComponentRow]


@dataclass(frozen=True)
class KpiRow:
    id: str
    name: str
    category: str
    value: str
    target: str
    status: str
    status_label: str
    change: str
    spark: str  # text sparkline for Markdown
    chart: str  # inline SVG
    mark: str = ""  # the footnote of the revision(s) it is computed under ("1"), or ""


@dataclass(frozen=True)
class Footnote:
    """A revision a KPI of the table is computed under: its mark and what it says."""

    mark: str
    text: str


@dataclass(frozen=True)
class RootView:
    entity: Entity
    counts: list[StatusCount]
    total: int
    status_bar: str
    composites: list[CompositeView]
    kpis: list[KpiRow]
    footnotes: list[Footnote] = field(default_factory=list)


@dataclass(frozen=True)
class GridRow:
    entity: Entity
    statuses: list[StatusCount]  # one per KPI column (count unused)


@dataclass(frozen=True)
class RiskRow:
    entity: str
    kpi: str
    value: str
    target: str
    status: str
    status_label: str


@dataclass(frozen=True)
class ProjectRow:
    id: str
    name: str
    entity: str
    budget: str
    actual_cost: str
    variance: str
    cpi: str
    spi: str


@dataclass(frozen=True)
class MissingRow:
    source: str
    entity: str
    months: str


@dataclass(frozen=True)
class HashRow:
    id: str
    name: str
    rows: str
    sha256: str


@dataclass(frozen=True)
class Context:
    """What the templates see (besides ``t``, the labels)."""

    lang: str
    cycle: str
    start: str
    end: str
    generated_at: str
    version: str
    fiscal_start_month: int
    fiscal_label: str
    roots: list[RootView]
    grid_kpis: list[tuple[str, str]]
    grid: list[GridRow]
    grid_chart: str
    risk_kpis: list[RiskRow]
    projects_available: bool
    over_budget: list[ProjectRow]
    behind_schedule: list[ProjectRow]
    rejected: list[tuple[str, str, str, str]]
    missing: list[MissingRow]
    kpi_hashes: list[HashRow]
    source_hashes: list[HashRow]
    legend: list[StatusCount] = field(default_factory=list)
    colours: dict[str, str] = field(default_factory=dict)
    grid_total: int = 0  # entities in the hierarchy; the grid shows fewer (grid_scope)
    grid_levels: int = 0  # levels of the hierarchy the grid shows


# ------------------------------------------------------------------------------ helpers


def _rows(frame: Any) -> list[dict[str, Any]]:
    if frame is None:
        return []
    if isinstance(frame, list):
        return frame
    return list(frame.to_dicts())


def _rows_of(frame: Any, entities: set[str], cycles: set[str]) -> list[dict[str, Any]]:
    """The rows of ``frame`` for ``entities`` and ``cycles`` only (a result holds every
    entity and trend cycle: 15 M rows at 48,000 entities, far too many to turn into dicts)."""
    if frame is None:
        return []
    if isinstance(frame, list):
        return [r for r in frame if str(r["entity"]) in entities and str(r["cycle"]) in cycles]
    import polars as pl

    wanted = pl.col("entity").is_in(sorted(entities)) & pl.col("cycle").is_in(sorted(cycles))
    return list(frame.filter(wanted).to_dicts())


def grid_scope(
    order: Sequence[str], depth: Mapping[str, int], limit: int = GRID_LIMIT
) -> list[str]:
    """The entities of the status grid, in ``order``: whole levels of the hierarchy from the
    top while they fit in ``limit`` rows (the top level always), so a group of tens of
    thousands of units still gets a readable report; ``soekpi compute`` lists them all."""
    levels = sorted({depth.get(e, 0) for e in order})
    shown = 0
    deepest = levels[0] if levels else 0
    for level in levels:
        size = sum(1 for e in order if depth.get(e, 0) == level)
        if shown and shown + size > limit:
            break
        shown += size
        deepest = level
    return [e for e in order if depth.get(e, 0) <= deepest]


def _spark(values: Sequence[float | None]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return NULL
    lo, hi = min(present), max(present)
    out = []
    for v in values:
        if v is None:
            out.append("·")
        elif hi == lo:
            out.append(_SPARK[3])
        else:
            out.append(_SPARK[round((v - lo) / (hi - lo) * (len(_SPARK) - 1))])
    return "".join(out)


class _Formatter:
    """Formats the numbers of one report in its language."""

    def __init__(self, catalogue: Catalogue, t: Mapping[str, str]) -> None:
        self.catalogue = catalogue
        self.t = t

    def kpi(self, kpi_id: str) -> Kpi | None:
        return self.catalogue.kpis.get(kpi_id)

    def value(self, kpi_id: str, value: float | None) -> str:
        kpi = self.kpi(kpi_id)
        return with_unit(value, kpi.decimals, kpi.unit) if kpi else number(value)

    def target(self, kpi_id: str, green: float | None, amber: float | None) -> str:
        if green is None:
            return NULL
        kpi = self.kpi(kpi_id)
        sign = "≤" if kpi is not None and kpi.direction == "lower_is_better" else "≥"
        text = f"{sign} {self.value(kpi_id, green)}"
        if amber is not None:
            text += f" ({self.t['status_amber']} {sign} {self.value(kpi_id, amber)})"
        return text

    def change(self, kpi_id: str, value: float | None, previous: float | None) -> str:
        kpi = self.kpi(kpi_id)
        if kpi is None:
            return change(value, previous, 2, "", self.t["points"])
        return change(value, previous, kpi.decimals, kpi.unit, self.t["points"])

    def status(self, status: str) -> str:
        return self.t.get(f"status_{status}", status)


# -------------------------------------------------------------------------------- build


def build_context(data: ReportData) -> Context:
    """Shape ``data`` into the view objects the templates lay out."""
    from markupsafe import Markup

    report = _report(replace(data, catalogue=data.catalogue.for_cycle(data.cycle, data.fiscal)))
    report = replace(report, breaks=_revision_breaks(data, report))
    grid_kpis = [(k, data.catalogue.kpis[k].label(data.language)) for k in report.kpi_ids]
    grid_rows, risks = _grid(report)
    over_budget, behind_schedule = _projects(report)
    return Context(
        **_summary(report),
        roots=[_root_view(report, root) for root in report.roots],
        grid_kpis=grid_kpis,
        grid=grid_rows,
        grid_chart=Markup(_grid_chart(report, grid_kpis, grid_rows)),
        grid_total=len(report.order),
        grid_levels=len({report.depth_of.get(e, 0) for e in report.grid_order}),
        risk_kpis=risks,
        projects_available=data.projects is not None,
        over_budget=over_budget,
        behind_schedule=behind_schedule,
        rejected=_rejected(data),
        missing=_missing(report),
        kpi_hashes=_kpi_hashes(data),
        source_hashes=_source_hashes(data),
        legend=[StatusCount(s, report.fmt.status(s), 0) for s in charts.STATUSES],
        colours=dict(charts.STATUS_COLOURS),
    )


@dataclass(frozen=True)
class _Report:
    """What the sections of one report share: its data, labels and formatter, the entities
    in display order and the value rows it shows."""

    data: ReportData
    cycle_name: str  # the report's cycle (Cycle.name is worked out at each call)
    t: Mapping[str, str]
    fmt: _Formatter
    entities: dict[str, Entity]
    depth_of: dict[str, int]
    order: list[str]  # every entity in scope, in display order
    roots: list[str]
    grid_order: list[str]  # the entities of the status grid (grid_scope)
    kpi_ids: list[str]
    trail: list[str]  # the trend's cycles, oldest first
    values: dict[tuple[str, str, str], dict[str, Any]]  # (entity, kpi, cycle) → row
    components: list[dict[str, Any]]  # the roots' composite components, for the cycle
    # kpi → trail cycle → what changed there: where a revision starts within the trend
    breaks: dict[str, dict[str, str]] = field(default_factory=dict)

    def cell(self, entity: str, kpi_id: str, cycle: str | None = None) -> dict[str, Any]:
        """The value row of ``entity`` and ``kpi_id`` for ``cycle`` (default: the report's)."""
        key = (entity, kpi_id, self.cycle_name if cycle is None else cycle)
        return self.values.get(key) or {
            "value": None,
            "status": "no_data",
            "green": None,
            "amber": None,
        }


def _report(data: ReportData) -> _Report:
    """Read once what every section needs: labels, entities in order, the values shown."""
    t = load_messages(data.language)
    hierarchy = _rows(data.result.hierarchy)
    depth_of = {str(r["entity_id"]): int(r.get("depth") or 0) for r in hierarchy}
    order = entity_order(hierarchy, data.root_entity)
    roots = root_entities(hierarchy, data.root_entity)
    grid_order = grid_scope(order, depth_of)
    return _Report(
        data=data,
        cycle_name=data.cycle.name,
        t=t,
        fmt=_Formatter(data.catalogue, t),
        entities=_entities(hierarchy, depth_of, order, zh=data.language == "zh-CN"),
        depth_of=depth_of,
        order=order,
        roots=roots,
        grid_order=grid_order,
        kpi_ids=[k for k in data.catalogue.kpis],
        trail=_trail(data),
        values=_values(data, roots, grid_order),
        components=_rows_of(data.result.components, set(roots), {data.cycle.name}),
    )


def _entities(
    hierarchy: list[dict[str, Any]], depth_of: Mapping[str, int], order: Sequence[str], zh: bool
) -> dict[str, Entity]:
    """Every entity as shown: its name in the report's language, its depth below the top."""
    top_depth = min((depth_of.get(e, 0) for e in order), default=0)
    entities: dict[str, Entity] = {}
    for r in hierarchy:
        eid = str(r["entity_id"])
        name = (r.get("name_zh") if zh else None) or r.get("name") or eid
        entities[eid] = Entity(eid, str(name), depth_of.get(eid, 0) - top_depth)
    return entities


def _trail(data: ReportData) -> list[str]:
    """The trend's cycles, oldest first: the trailing cycles the result holds, and the
    report's own."""
    trail = [c.name for c in data.cycle.trailing(TREND_CYCLES)]
    asked = {c.name for c in data.result.cycles}
    return [c for c in trail if c in asked or c == data.cycle.name]


def _values(
    data: ReportData, roots: Sequence[str], grid_order: Sequence[str]
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(entity, kpi, cycle) → value row, for the roots' trend and the grid's cycle only."""
    cycle_name = data.cycle.name
    every_cycle = {c.name for c in data.result.cycles} | {cycle_name}
    values: dict[tuple[str, str, str], dict[str, Any]] = {}
    for row in _rows_of(data.result.values, set(roots), every_cycle) + _rows_of(
        data.result.values, set(grid_order), {cycle_name}
    ):
        values[(str(row["entity"]), str(row["kpi"]), str(row["cycle"]))] = row
    return values


class _Summary(TypedDict):
    lang: str
    cycle: str
    start: str
    end: str
    generated_at: str
    version: str
    fiscal_start_month: int
    fiscal_label: str


def _summary(report: _Report) -> _Summary:
    """The report's header: language, cycle and its dates, fiscal year, when and by what."""
    data = report.data
    return _Summary(
        lang=data.language,
        cycle=data.cycle.name,
        start=data.cycle.start(data.fiscal).isoformat(),
        end=data.cycle.end(data.fiscal).isoformat(),
        generated_at=data.generated_at,
        version=data.version,
        fiscal_start_month=data.fiscal.start_month,
        fiscal_label=report.t[f"fiscal_label_{data.fiscal.label}"],
    )


def _root_view(report: _Report, root: str) -> RootView:
    """A root entity's section: its status counts and bar, composites and KPI table."""
    from markupsafe import Markup

    kpi_rows, footnotes = _with_footnotes(
        report, [_kpi_row(report, root, kpi_id) for kpi_id in report.kpi_ids]
    )
    counts = [
        StatusCount(s, report.fmt.status(s), sum(1 for r in kpi_rows if r.status == s))
        for s in charts.STATUSES
    ]
    bar = charts.status_bar(
        [charts.BarSegment(c.status, c.count, c.label) for c in counts],
        f"{report.t['status_counts']}: {report.entities[root].name}",
    )
    composites = [
        _composite(report, root, kpi_id)
        for kpi_id in report.kpi_ids
        if report.data.catalogue.kpis[kpi_id].type == "composite"
    ]
    return RootView(
        report.entities[root], counts, len(kpi_rows), Markup(bar), composites, kpi_rows, footnotes
    )


def _kpi_row(report: _Report, root: str, kpi_id: str) -> KpiRow:
    """A line of a root's KPI table: value, target, status, change and the trend."""
    from markupsafe import Markup

    data, fmt = report.data, report.fmt
    kpi = data.catalogue.kpis[kpi_id]
    now = report.cell(root, kpi_id)
    series = [report.cell(root, kpi_id, c)["value"] for c in report.trail]
    previous = report.cell(root, kpi_id, data.cycle.previous().name)["value"]
    label = kpi.label(data.language)
    return KpiRow(
        id=kpi_id,
        name=label,
        category=kpi.category,
        value=fmt.value(kpi_id, now["value"]),
        target=fmt.target(kpi_id, now["green"], now["amber"]),
        status=now["status"],
        status_label=fmt.status(now["status"]),
        change=fmt.change(kpi_id, now["value"], previous),
        spark=_spark(series),
        chart=Markup(_trend_chart(report, kpi_id, label, series, now)),
    )


def _trend_chart(
    report: _Report, kpi_id: str, label: str, series: Sequence[float | None], now: dict[str, Any]
) -> str:
    """The SVG trend of a KPI over the trail, on the bands of the cycle's thresholds."""
    points = [
        charts.TrendPoint(c, v, report.fmt.value(kpi_id, v))
        for c, v in zip(report.trail, series, strict=True)
    ]
    direction = report.data.catalogue.kpis[kpi_id].direction
    return charts.trend(
        points,
        now["green"],
        now["amber"],
        direction,
        f"{label}: {report.t['trend']}",
        breaks=report.breaks.get(kpi_id, {}),
    )


def _revision_text(t: Mapping[str, str], notes: Sequence[RevisionNote]) -> str:
    """The revisions a value is computed under, in words (one line)."""
    return "; ".join(
        t["revision_note"].format(effective_from=n.effective_from, reason=n.reason) for n in notes
    )


def _with_footnotes(report: _Report, rows: list[KpiRow]) -> tuple[list[KpiRow], list[Footnote]]:
    """The KPI rows marked with the footnote of the revisions each is computed under in the
    report's cycle (the same revisions, the same footnote), and the footnotes."""
    catalogue = report.data.catalogue  # the catalogue in force for the report's cycle
    marks: dict[tuple[RevisionNote, ...], str] = {}
    marked = []
    for row in rows:
        notes = tuple(dict.fromkeys(n for _, n in catalogue.revisions_of(row.id)))
        if notes:
            mark = marks.setdefault(notes, str(len(marks) + 1))
            row = replace(row, mark=mark)
        marked.append(row)
    footnotes = [Footnote(mark, _revision_text(report.t, notes)) for notes, mark in marks.items()]
    return marked, footnotes


def _revision_breaks(data: ReportData, report: _Report) -> dict[str, dict[str, str]]:
    """Per KPI, the cycles of the trend where the revisions it is computed under change,
    with the revisions that start there (``data.catalogue``: every revision)."""
    from soekpi.base.calendar import parse_cycle

    if not data.catalogue.has_revisions:
        return {}
    in_force = [data.catalogue.for_cycle(parse_cycle(c), data.fiscal) for c in report.trail]
    breaks: dict[str, dict[str, str]] = {}
    for kpi_id in report.kpi_ids:
        notes = [tuple(n for _, n in c.revisions_of(kpi_id)) for c in in_force]
        for i in range(1, len(notes)):
            new = [n for n in dict.fromkeys(notes[i]) if n not in notes[i - 1]]
            if new:
                breaks.setdefault(kpi_id, {})[report.trail[i]] = _revision_text(report.t, new)
    return breaks


def _composite(report: _Report, root: str, kpi_id: str) -> CompositeView:
    """A composite KPI of a root with its weighted components, by component id."""
    data, fmt = report.data, report.fmt
    now = report.cell(root, kpi_id)
    parts = sorted(
        (
            c
            for c in report.components
            if c["kpi"] == kpi_id and str(c["entity"]) == root and c["cycle"] == report.cycle_name
        ),
        key=lambda c: str(c["component"]),
    )
    return CompositeView(
        id=kpi_id,
        name=data.catalogue.kpis[kpi_id].label(data.language),
        value=fmt.value(kpi_id, now["value"]),
        status=now["status"],
        status_label=fmt.status(now["status"]),
        components=[_component_row(report, c) for c in parts],
    )


def _component_row(report: _Report, c: Mapping[str, Any]) -> ComponentRow:
    """A component of a composite: weight, value, green threshold, score and contribution."""
    component = str(c["component"])
    return ComponentRow(
        name=_kpi_label(report.data.catalogue, component, report.data.language),
        weight=number(c.get("weight"), 2),
        value=report.fmt.value(component, c.get("value")),
        green=report.fmt.value(component, c.get("green")),
        score=number(c.get("score"), 1),
        contribution=number(c.get("contribution"), 1),
    )


def _grid(report: _Report) -> tuple[list[GridRow], list[RiskRow]]:
    """The status grid's rows and the risks, its red and amber cells (red first, then in
    grid order): one walk serves both, as the grid can hold every entity of a flat group."""
    cell, status_label = report.cell, report.fmt.status
    grid_rows: list[GridRow] = []
    risks: list[tuple[int, int, int, RiskRow]] = []
    for e_index, eid in enumerate(report.grid_order):
        statuses = []
        for k_index, kpi_id in enumerate(report.kpi_ids):
            now = cell(eid, kpi_id)
            status = str(now["status"])
            statuses.append(StatusCount(status, status_label(status), 0))
            if status in _RISK_ORDER:
                risk = _risk_row(report, eid, kpi_id, now)
                risks.append((_RISK_ORDER[status], e_index, k_index, risk))
        grid_rows.append(GridRow(report.entities[eid], statuses))
    return grid_rows, [r for *_, r in sorted(risks, key=lambda x: x[:3])]


def _risk_row(report: _Report, eid: str, kpi_id: str, now: Mapping[str, Any]) -> RiskRow:
    """A red or amber cell of the grid as a line of the risks table."""
    data, fmt, status = report.data, report.fmt, str(now["status"])
    return RiskRow(
        entity=report.entities[eid].name,
        kpi=data.catalogue.kpis[kpi_id].label(data.language),
        value=fmt.value(kpi_id, now["value"]),
        target=fmt.target(kpi_id, now["green"], now["amber"]),
        status=status,
        status_label=fmt.status(status),
    )


def _grid_chart(
    report: _Report, grid_kpis: Sequence[tuple[str, str]], grid_rows: Sequence[GridRow]
) -> str:
    """The status grid as an SVG heatmap, each cell's tooltip with its value."""
    cell, value = report.cell, report.fmt.value
    return charts.heatmap(
        [(r.entity.name, r.entity.depth) for r in grid_rows],
        [name for _, name in grid_kpis],
        [
            [
                charts.GridCell(
                    s.status,
                    f"{r.entity.name} · {grid_kpis[j][1]}: {s.label} "
                    f"({value(grid_kpis[j][0], cell(r.entity.id, grid_kpis[j][0])['value'])})",
                )
                for j, s in enumerate(r.statuses)
            ]
            for r in grid_rows
        ],
        report.t["section_grid"],
    )


def _projects(report: _Report) -> tuple[list[ProjectRow], list[ProjectRow]]:
    """The projects most over budget and most behind schedule (none without projects)."""
    projects = report.data.projects
    if projects is None:
        return [], []
    return (
        _project_rows(report, projects.over_budget, "cost_variance"),
        _project_rows(report, projects.behind_schedule, "schedule_variance"),
    )


def _project_rows(report: _Report, rows: Sequence[Any], variance: str) -> list[ProjectRow]:
    """Projects as shown, with the ``variance`` attribute as their variance."""
    entities = report.entities
    return [
        ProjectRow(
            id=p.project_id,
            name=p.name,
            entity=entities[p.entity_id].name if p.entity_id in entities else p.entity_id,
            budget=number(p.budget, 0),
            actual_cost=number(p.actual_cost, 0),
            variance=number(getattr(p, variance), 0),
            cpi=number(p.cpi, 2),
            spi=number(p.spi, 2),
        )
        for p in rows
    ]


def _rejected(data: ReportData) -> list[tuple[str, str, str, str]]:
    """Data quality: the rows each source file rejected, with an example reason."""
    return [(r.source, r.file, number(r.rows, 0), r.example_reason) for r in data.rejected]


def _missing(report: _Report) -> list[MissingRow]:
    """Data quality: the months of the cycle a source lacks for an entity in scope, by
    source then entity order."""
    entities, cycle_name, in_scope = report.entities, report.cycle_name, set(report.order)
    missing: dict[tuple[str, str], list[str]] = {}
    for m in _rows(report.data.result.missing):
        if str(m["cycle"]) != cycle_name or str(m["entity"]) not in in_scope:
            continue
        month = m["month"]
        text = month.isoformat()[:7] if hasattr(month, "isoformat") else str(month)[:7]
        missing.setdefault((str(m["source"]), str(m["entity"])), []).append(text)
    position = {eid: i for i, eid in enumerate(report.order)}
    return [
        MissingRow(
            source,
            entities[eid].name if eid in entities else eid,
            ", ".join(sorted(set(months))),
        )
        for (source, eid), months in sorted(
            missing.items(), key=lambda kv: (kv[0][0], position.get(kv[0][1], 0), kv[0][1])
        )
    ]


def _kpi_hashes(data: ReportData) -> list[HashRow]:
    """Provenance: the hash of each KPI's resolved definition, by KPI id."""
    return [
        HashRow(k, _kpi_label(data.catalogue, k, data.language), "", data.kpi_hashes[k])
        for k in sorted(data.kpi_hashes)
    ]


def _source_hashes(data: ReportData) -> list[HashRow]:
    """Provenance: the row count and content hash of each source, by source id."""
    return [HashRow(s, s, number(rows, 0), sha) for s, (rows, sha) in sorted(data.sources.items())]


def _kpi_label(catalogue: Catalogue, kpi_id: str, language: str) -> str:
    kpi = catalogue.kpis.get(kpi_id)
    return kpi.label(language) if kpi else kpi_id


# ------------------------------------------------------------------------------- render


def _environment(templates: Path | None, markdown: bool) -> Environment:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment
    from markupsafe import Markup

    search = [str(templates)] if templates is not None else []
    search.append(str(builtin_templates()))

    def md_finalize(value: Any) -> Any:
        return value if isinstance(value, Markup) else md_escape(value)

    # Workspace templates are user files: the sandbox keeps them to formatting the report's
    # data (no Python internals, no imports, no file access, ranges capped).
    return SandboxedEnvironment(
        loader=FileSystemLoader(search),
        autoescape=not markdown,
        undefined=StrictUndefined,
        finalize=md_finalize if markdown else None,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def builtin_templates() -> Path:
    """The built-in ``reports/`` folder of templates (see soekpi/resources.py)."""
    from soekpi.base.resources import templates_dir

    return templates_dir()


def _render(template: str, context: Context, templates: Path | None, markdown: bool) -> str:
    from jinja2 import TemplateError, TemplateNotFound

    env = _environment(templates, markdown)
    try:
        return env.get_template(template).render(ctx=context, t=load_messages(context.lang))
    except TemplateNotFound as exc:
        where = templates if templates is not None else "the built-in reports folder"
        raise InputError(f"template '{exc.name}' not found in {where}") from None
    except TemplateError as exc:
        where, line = _template_position(exc, template)
        raise InputError(f"template error: {exc.message or exc}", Location(where, line)) from None


def _template_position(exc: Exception, template: str) -> tuple[str, int | None]:
    """Where in which template a Jinja error happened (Jinja maps its frames to them)."""
    filename = getattr(exc, "filename", None)
    if filename:
        return str(filename), getattr(exc, "lineno", None)
    found: tuple[str, int | None] = (template, None)
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.endswith(".j2"):
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


def render_html(context: Context, templates: Path | None = None) -> str:
    """``report.html``: one self-contained page (inline CSS and SVG, no script, no fetch).
    ``templates`` is the workspace folder whose files override the built-in ones."""
    return _render("report.html.j2", context, templates, markdown=False)


def render_markdown(context: Context, templates: Path | None = None) -> str:
    """``report.md``: the same content as Markdown tables, user text escaped."""
    return _render("report.md.j2", context, templates, markdown=True)
