"""The measure plan: catalogue + windows → one SQL query per source (SPEC §3.2). Pure: no I/O.

Each query aggregates every needed measure of its source for every entity's whole subtree
and every window, in three steps that keep the expensive part to one scan of the fact rows:

1. **by entity and month** — one pass over the source with one ``FILTER (WHERE …)`` partial
   aggregate per measure (sum, count, min, max; mean and the stock aggregations keep a sum
   and a count). Measures placed in time by different columns (``time:``), or not at all
   (``time: none``), form their own groups; ``count_distinct`` keeps the distinct values
   per (entity, month) in a scan of its own, because distinct counts do not add up.
   A group without stock measures or completeness (which need months) is grouped by
   (entity, stretch) instead: the stretches of months between its windows' boundaries
   (:func:`window_cuts`), since sums, counts, minima and maxima add up over any split.
2. **over the windows, then the hierarchy** — that much smaller result is joined to the
   windows (window_cycle, window_kind: an equi-join on the stretch a month falls in, see
   :func:`_stretch_map_cte`, not a range join of months) and combined per (entity,
   window) — each measure over its own windows only, with only the partials it reads
   (measures that share their windows share these CTEs) — then joined to the entity
   closure (ancestor, descendant: parent_id joins in SQL, see :func:`closure_sql`, so that
   its size never reaches the SQL text) and combined per (ancestor, window). ``closing``
   and ``average`` are computed per entity and window, then added up over the subtree.
3. **one row per (entity, window)** — a grid of every ancestor × window, left-joined to the
   groups, so that ``count`` and ``count_distinct`` over no rows are 0 and every other
   aggregation is null.

Numbers are made reproducible here: sums run on exact types (DECIMAL and integers as they
are, anything else cast to DECIMAL(38,10)), so parallel scans always give the same bits;
values become DOUBLE only at the end. Completeness of a monthly source (SPEC §3.4) is
counted in the same query from the (entity, month) groups: only the (entity, window) pairs
with a missing month, and those entities' months, come back. A source without
``entity_column`` is group-wide: it is aggregated as one pseudo-entity and every entity gets
the same values. View sources are inlined as CTEs named by their source id (the sandbox
cannot create views).

The SQL sticks to what sqlglot can transpile to other engines: CTEs, VALUES, ``FILTER``,
``date_trunc``, ``arg_max``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from soekpi.base.calendar import Cycle, FiscalSettings
from soekpi.base.sqltext import literal, quote
from soekpi.catalogue.model import STOCK_AGGS, Catalogue, Measure, Source

#: The window of everything up to a cycle's end starts here.
BEGINNING = date(1, 1, 1)
#: The ``part`` of a query's rows: measure values, completeness gaps, months with rows.
VALUE, GAP, COVERAGE = "value", "gap", "coverage"
#: How many decimals sums of inexact values are kept to (see the module docstring).
EXACT_TYPE = "DECIMAL(38,10)"

_EXACT_COLUMN = re.compile(r"^(tinyint|smallint|integer|int|bigint|hugeint|decimal\(.*\))$")


@dataclass(frozen=True, order=True)
class Window:
    """The months a measure is aggregated over for one cycle (SPEC §3.3 ``window``)."""

    cycle: str
    kind: str  # cycle | ytd | to_date
    first_month: date  # BEGINNING for to_date
    last_month: date  # the first day of the window's last month

    @property
    def end(self) -> date:
        """The first day after the window."""
        m = self.last_month
        return date(m.year + m.month // 12, m.month % 12 + 1, 1)

    def months(self, since: date | None = None) -> list[date]:
        """First days of the window's months, from ``since`` (when later) onward."""
        current = max(self.first_month, since) if since else self.first_month
        current = current.replace(day=1)
        result = []
        while current <= self.last_month:
            result.append(current)
            current = date(current.year + current.month // 12, current.month % 12 + 1, 1)
        return result


def window_of(kind: str, cycle: Cycle, fiscal: FiscalSettings) -> Window:
    """The window ``kind`` (cycle, ytd or to_date) of ``cycle``."""
    months = cycle.months(fiscal)
    if kind == "cycle":
        first = months[0]
    elif kind == "ytd":
        first = cycle.fiscal_year_cycle().start(fiscal)
    elif kind == "to_date":
        first = BEGINNING
    else:
        raise ValueError(f"unknown window {kind!r}")
    return Window(cycle.name, kind, first, months[-1])


@dataclass(frozen=True)
class SourceQuery:
    """One source's SQL. It returns ``part, entity, window_cycle, window_kind, month`` and
    the value ``columns``. Rows of part ``value`` (window_kind null) hold, for the entity's
    subtree and the cycle, each measure for each window kind it is computed for: column
    ``columns[j] = (name, measure id, window kind)``, a DOUBLE (null, or 0 for counts, when
    the window has no rows). When ``coverage`` is true, rows of part ``gap`` name the
    (entity, window) pairs in which the entity misses a month of this monthly source
    (month: the entity's first month with rows), and rows of part ``coverage`` list those
    entities' months with rows (window columns null)."""

    source: str
    measures: tuple[str, ...]
    sql: str
    coverage: bool = False
    columns: tuple[tuple[str, str, str], ...] = ()


@dataclass
class _Group:
    """Measures of one source that share a time column (None: time ignored)."""

    time_column: str | None
    partials: list[tuple[str, str]] = field(default_factory=list)  # (stage-1 sql, combine fn)
    flow: list[tuple[int, str, tuple[int, ...]]] = field(default_factory=list)  # (i, sql, partials)
    stock: list[tuple[int, str, int, int]] = field(default_factory=list)  # (i, agg, sum, count)
    coverage: bool = False
    windows: set[Window] = field(default_factory=set)  # its measures' windows

    def add_partial(self, sql: str, combine: str) -> int:
        self.partials.append((sql, combine))
        return len(self.partials) - 1


def closure_sql(entities: Source, depth: int, ancestors: Sequence[str] | None = None) -> str:
    """A query of every (ancestor, descendant) pair of the hierarchy, (e, e) included, built
    from ``depth`` + 1 levels of parent_id joins over the ``entities`` table (``depth``: the
    deepest entity's depth, 0 at the top), restricted to ``ancestors`` when given.

    It gives the pairs of :meth:`Hierarchy.closure` without putting them in the SQL text
    (tens of thousands of entities made a VALUES list whose parsing alone took seconds). As in
    :func:`build_hierarchy`, a parent that is not an entity, or the entity itself, ends the
    chain; loops are refused before any plan is made.
    """
    table = quote(entities.table_name)
    entity, parent = "CAST(entity_id AS VARCHAR)", "CAST(parent_id AS VARCHAR)"
    known = f"SELECT {entity} FROM {table} WHERE entity_id IS NOT NULL"
    rows = (
        f"(SELECT {entity} AS id, CASE WHEN {parent} <> {entity} AND {parent} IN ({known}) "
        f"THEN {parent} END AS parent FROM {table} WHERE entity_id IS NOT NULL)"
    )
    levels = [f"SELECT e0.id AS ancestor, e0.id AS descendant FROM {rows} AS e0"]
    for k in range(1, depth + 1):
        joins = "".join(f" JOIN {rows} AS e{j} ON e{j}.id = e{j - 1}.parent" for j in range(1, k))
        levels.append(
            f"SELECT e{k - 1}.parent AS ancestor, e0.id AS descendant FROM {rows} AS e0{joins} "
            f"WHERE e{k - 1}.parent IS NOT NULL"
        )
    where = ""
    if ancestors is not None:
        wanted = ", ".join(literal(a) for a in sorted(set(ancestors)))
        where = f" WHERE ancestor IN ({wanted})" if wanted else " WHERE false"
    return f"SELECT ancestor, descendant FROM ({' UNION ALL '.join(levels)}) AS pairs{where}"


def plan_measures(
    catalogue: Catalogue,
    windows: Mapping[str, Iterable[Window]],
    closure: Sequence[tuple[str, str]] | str,
    coverage_sources: Iterable[str] = (),
    few_ancestors: bool = False,
) -> list[SourceQuery]:
    """One :class:`SourceQuery` per source of the measures in ``windows``.

    ``windows`` maps each needed measure id to the windows it is needed for (a source's query
    has a row per entity and window of the union of its measures' windows; each measure is
    computed for its own windows only); ``closure`` is every
    (ancestor, descendant) pair of the hierarchy including (e, e), restricted to the
    ancestors whose values are wanted — as pairs, or as a query that returns them
    (:func:`closure_sql`); ``coverage_sources`` are the monthly sources whose month coverage
    completeness needs.
    """
    by_source: dict[str, list[Measure]] = {}
    for measure_id in sorted(windows):
        measure = catalogue.measures[measure_id]
        by_source.setdefault(measure.source, []).append(measure)
    covered = set(coverage_sources)
    queries = []
    for source_id in sorted(set(by_source) | covered):
        measures = by_source.get(source_id, [])
        queries.append(
            _source_query(
                catalogue,
                catalogue.sources[source_id],
                measures,
                [windows[m.id] for m in measures],
                closure,
                source_id in covered,
                few_ancestors,
            )
        )
    return queries


def _values(rows: Iterable[Sequence[str]]) -> str:
    return ", ".join("(" + ", ".join(row) + ")" for row in rows)


def _date(day: date) -> str:
    return f"DATE '{day.isoformat()}'"


def _is_bare_exact(source: Source, expr: str) -> bool:
    """Whether ``expr`` is just a column whose type sums exactly (integers, decimals)."""
    name = expr.strip()
    if len(name) > 1 and name[0] == name[-1] == '"':
        name = name[1:-1]
    column = source.columns.get(name)
    return column is not None and bool(_EXACT_COLUMN.match(column.type.lower()))


def _view_ctes(catalogue: Catalogue, source: Source) -> list[str]:
    """CTEs for the view ``source`` and every view it reads, dependencies first."""
    from soekpi.catalogue.sqlcheck import view_structure_problem

    order: list[str] = []

    def visit(view_id: str, seen: tuple[str, ...]) -> None:
        if view_id in order or view_id in seen:
            return
        view = catalogue.sources[view_id]
        assert view.sql is not None
        _, reads = view_structure_problem(view.sql, set(catalogue.sources))
        for dep in sorted(reads):
            if dep != view_id and catalogue.sources[dep].is_view:
                visit(dep, (*seen, view_id))
        order.append(view_id)

    visit(source.id, ())
    ctes = []
    for view_id in order:
        body = (catalogue.sources[view_id].sql or "").strip().rstrip(";").strip()
        ctes.append(f"{quote(view_id)} AS (\n{body}\n)")
    return ctes


def _source_query(
    catalogue: Catalogue,
    source: Source,
    measures: list[Measure],
    measure_windows: list[Iterable[Window]],
    closure: Sequence[tuple[str, str]] | str,
    coverage: bool,
    few_ancestors: bool,
) -> SourceQuery:
    """One source's query: the shared CTEs, step 1 and 2 per group of measures and per
    count_distinct measure, then step 3 (and the completeness gaps when ``coverage``)."""
    query = _SourceSql.start(catalogue, source, measures, measure_windows, few_ancestors)
    query.add_shared_ctes(closure)
    groups, distinct = _group_measures(source, measures, measure_windows, coverage)
    coverage_cte: str | None = None
    coverage_join = ""
    for g, key in enumerate(sorted(groups, key=lambda k: (k is None, k or ""))):
        join = query.add_group(f"__g{g}", groups[key])
        if join is not None:
            coverage_cte, coverage_join = f"__g{g}", join
    for k, (i, measure) in enumerate(distinct):
        query.add_distinct(f"__d{k}", i, measure)
    body, outputs = query.value_rows()
    if coverage_cte is not None:
        body += query.coverage_rows(coverage_cte, coverage_join, outputs)
    sql = "WITH\n" + ",\n".join(query.ctes) + "\n" + body
    return SourceQuery(
        source.id,
        tuple(m.id for m in measures),
        sql,
        coverage=coverage_cte is not None,
        columns=tuple(outputs),
    )


def _group_for(groups: dict[str | None, _Group], time_column: str | None) -> _Group:
    """The group of ``time_column``, made when it is not there yet."""
    if time_column not in groups:
        groups[time_column] = _Group(time_column)
    return groups[time_column]


def _group_measures(
    source: Source,
    measures: list[Measure],
    measure_windows: list[Iterable[Window]],
    coverage: bool,
) -> tuple[dict[str | None, _Group], list[tuple[int, Measure]]]:
    """The measures' groups by time column, and the count_distinct measures (index, measure)."""
    groups: dict[str | None, _Group] = {}
    distinct: list[tuple[int, Measure]] = []
    for i, measure in enumerate(measures):
        group = _group_for(groups, measure.time_column(source))
        group.windows.update(measure_windows[i])
        if measure.agg == "count_distinct":
            distinct.append((i, measure))
        else:
            _add_partials(group, i, measure, source)
    if coverage and source.time_column:
        _group_for(groups, source.time_column).coverage = True
    return groups, distinct


def _add_partials(group: _Group, i: int, measure: Measure, source: Source) -> None:
    """Measure ``i``'s step-1 partials in ``group``, and how they combine into its value."""
    filt = f" FILTER (WHERE {measure.filter})" if measure.filter else ""
    expr = measure.expr.strip() or "*"
    exact = expr if _is_bare_exact(source, expr) else f"CAST(({expr}) AS {EXACT_TYPE})"
    counted = "*" if expr == "*" else f"({expr})"
    agg = measure.agg
    if agg == "sum":
        p = group.add_partial(f"SUM({exact}){filt}", "SUM")
        group.flow.append((i, f"CAST(SUM(b.p{p}) AS DOUBLE)", (p,)))
    elif agg == "count":
        p = group.add_partial(f"COUNT({counted}){filt}", "SUM")
        group.flow.append((i, f"CAST(SUM(b.p{p}) AS DOUBLE)", (p,)))
    elif agg in ("min", "max"):
        fn = agg.upper()
        p = group.add_partial(f"{fn}({expr}){filt}", fn)
        group.flow.append((i, f"CAST({fn}(b.p{p}) AS DOUBLE)", (p,)))
    elif agg == "mean":
        s = group.add_partial(f"SUM({exact}){filt}", "SUM")
        n = group.add_partial(f"COUNT({counted}){filt}", "SUM")
        group.flow.append((i, f"CAST(SUM(b.p{s}) AS DOUBLE) / NULLIF(SUM(b.p{n}), 0)", (s, n)))
    elif agg in STOCK_AGGS:
        s = group.add_partial(f"SUM({exact}){filt}", "SUM")
        n = group.add_partial(f"COUNT({counted}){filt}", "SUM")
        group.stock.append((i, agg, s, n))
    else:
        raise ValueError(f"measure '{measure.id}': unknown agg {agg!r}")


@dataclass
class _SourceSql:
    """One source's query while it is built: what its steps share, and the CTEs so far."""

    catalogue: Catalogue
    source: Source
    measures: list[Measure]
    measure_windows: list[Iterable[Window]]
    few_ancestors: bool
    windows: list[Window]  # the union of the measures' windows
    table: str
    entity_sql: str
    hierarchy: str  # the CTE of (ancestor, descendant) pairs
    bound: date | None  # the end of the last window
    ctes: list[str] = field(default_factory=list)
    window_ctes: dict[tuple[Window, ...], str] = field(default_factory=dict)
    stretch_maps: dict[tuple[str, tuple[date, ...]], str] = field(default_factory=dict)
    parts: list[tuple[str, list[tuple[int, str]]]] = field(default_factory=list)
    """(CTE name, [(measure index, column)]): where each measure's values are."""

    @classmethod
    def start(
        cls,
        catalogue: Catalogue,
        source: Source,
        measures: list[Measure],
        measure_windows: list[Iterable[Window]],
        few_ancestors: bool,
    ) -> _SourceSql:
        """The query of ``source`` before any CTE is made."""
        windows = sorted({w for wins in measure_windows for w in wins})
        group_wide = source.entity_column is None
        return cls(
            catalogue,
            source,
            measures,
            measure_windows,
            few_ancestors,
            windows=windows,
            table=quote(source.id) if source.is_view else quote(source.table_name),
            entity_sql=(
                "''" if group_wide else f"CAST({quote(source.entity_column or '')} AS VARCHAR)"
            ),
            hierarchy="__everyone" if group_wide else "__closure",
            bound=max((w.end for w in windows), default=None),
        )

    def add_shared_ctes(self, closure: Sequence[tuple[str, str]] | str) -> None:
        """The views read, the closure, the windows and the grid of every entity × cycle."""
        source = self.source
        self.ctes.extend(_view_ctes(self.catalogue, source) if source.is_view else [])
        if isinstance(closure, str):
            self.ctes.append(f"__closure AS ({closure})")
        else:
            pairs = sorted(set(closure)) or [("", "")]
            self.ctes.append(
                "__closure AS (SELECT * FROM (VALUES "
                + _values((literal(a), literal(d)) for a, d in pairs)
                + ") AS c(ancestor, descendant))"
            )
        if source.entity_column is None:
            self.ctes.append(
                "__everyone AS (SELECT DISTINCT ancestor, '' AS descendant FROM __closure)"
            )
        self.ctes.append(_windows_cte("__windows", self.windows))
        self.ctes.append(
            "__grid AS (SELECT a.ancestor AS entity, c.window_cycle "
            "FROM (SELECT DISTINCT ancestor FROM __closure) AS a "
            "CROSS JOIN (SELECT DISTINCT window_cycle FROM __windows) AS c)"
        )
        # A measure is combined over its own windows only (a source's windows are the union:
        # e.g. budgets to date next to completions in the cycle).
        self.window_ctes[tuple(self.windows)] = "__windows"

    def windows_of(self, i: int) -> str:
        """The CTE of measure ``i``'s own windows (made the first time it is asked for)."""
        own = tuple(sorted(set(self.measure_windows[i]))) or tuple(self.windows)
        if own not in self.window_ctes:
            self.window_ctes[own] = f"__windows{len(self.window_ctes)}"
            self.ctes.append(_windows_cte(self.window_ctes[own], own))
        return self.window_ctes[own]

    def window_join(
        self, wins: str, rows: str, cuts: Sequence[date] | None, stretched: bool
    ) -> str:
        """The join of grouped ``rows`` to the windows of CTE ``wins`` (cross join when
        untimed, ``cuts`` None): on the stretch its month falls in (``stretched``: its month
        is already that stretch's first month), an equi-join against the stretches of each
        window, where a range join of months sorted millions of rows."""
        if cuts is None:
            return f"CROSS JOIN {wins} AS w"
        key = (wins, tuple(cuts))
        if key not in self.stretch_maps:
            self.stretch_maps[key] = f"{wins}_s{len(self.stretch_maps)}"
            own = next(ws for ws, cte in self.window_ctes.items() if cte == wins)
            self.ctes.append(_stretch_map_cte(self.stretch_maps[key], own, cuts))
        at = f"{rows}.month" if stretched else _stretch_sql(f"{rows}.month", cuts)
        return f"JOIN {self.stretch_maps[key]} AS w ON w.stretch = {at}"

    def add_group(self, name: str, group: _Group) -> str | None:
        """Steps 1 and 2 of ``group`` as CTEs ``name…``; the coverage join when it has
        completeness (:func:`_gap_ctes`), else None."""
        # Only rows in the months of the group's windows (the coverage group: the source's
        # windows) are grouped: the cycles compute needs leave out most of the history, and
        # the months between a cycle and the same cycle a year earlier.
        spans = month_spans(self.windows if group.coverage else group.windows)
        # Sums, counts, minima and maxima add up over any split of a window: without stock
        # measures or completeness (which need months), rows are grouped by the stretches
        # between window boundaries instead of by month (a to_date window over years of
        # history is one stretch, not dozens of months per entity).
        stretched = not (group.stock or group.coverage)
        cuts = None
        if group.time_column is not None:
            cuts = window_cuts(self.windows if group.coverage else group.windows)
        self.ctes.extend(
            _group_stage(
                group, name, self.table, self.entity_sql, spans, cuts if stretched else None
            )
        )
        stage = _Stage(name, group, cuts, stretched)
        self.add_flows(stage)
        self.add_stocks(stage)
        if not group.coverage:
            return None
        return self.window_join("__windows", "v", cuts, stretched=False)

    def add_flows(self, stage: _Stage) -> None:
        """Step 2 of the group's flow measures, a CTE pair per set of windows they share."""
        flows: dict[str, list[tuple[int, str, tuple[int, ...]]]] = {}
        for item in stage.group.flow:
            flows.setdefault(self.windows_of(item[0]), []).append(item)
        for k, (wins, flow) in enumerate(sorted(flows.items())):
            # Per entity and window first (few rows per entity), then over the subtree; only
            # the partials and the windows these measures need.
            w_cte, f_cte = f"{stage.name}_w{k or ''}", f"{stage.name}_f{k or ''}"
            used = sorted({p for *_, partials in flow for p in partials})
            partials = stage.group.partials
            combined = ", ".join(f"{partials[p][1]}(b.p{p}) AS p{p}" for p in used)
            cols = ", ".join(f"{sql} AS m{i}" for i, sql, _ in flow)
            if self.few_ancestors:
                self.add_subtree_first(stage, wins, (w_cte, f_cte), combined, cols)
            else:
                self.add_windows_first(stage, wins, (w_cte, f_cte), combined, cols)
            self.parts.append((f_cte, [(i, f"m{i}") for i, *_ in flow]))

    def add_subtree_first(
        self, stage: _Stage, wins: str, names: tuple[str, str], combined: str, cols: str
    ) -> None:
        """Flow measures over the subtree, then over the windows of CTE ``wins``."""
        w_cte, f_cte = names
        # Over the subtree first: a few ancestors (a report's trend of the top
        # entities) make a few rows per month, not a row per entity and window.
        month, keys = (", b.month", "1, 2") if stage.cuts is not None else ("", "1")
        self.ctes.append(
            f"{w_cte} AS (SELECT c.ancestor AS entity{month}, {combined} "
            f"FROM {stage.name} AS b JOIN {self.hierarchy} AS c ON c.descendant = b.entity "
            f"GROUP BY {keys})"
        )
        join = self.window_join(wins, "b", stage.cuts, stage.stretched)
        self.ctes.append(
            f"{f_cte} AS (SELECT b.entity, w.window_cycle, w.window_kind, {cols} "
            f"FROM {w_cte} AS b {join} "
            "GROUP BY 1, 2, 3)"
        )

    def add_windows_first(
        self, stage: _Stage, wins: str, names: tuple[str, str], combined: str, cols: str
    ) -> None:
        """Flow measures over the windows of CTE ``wins``, then over the subtree."""
        w_cte, f_cte = names
        join = self.window_join(wins, "b", stage.cuts, stage.stretched)
        self.ctes.append(
            f"{w_cte} AS (SELECT b.entity, w.window_cycle, w.window_kind, {combined} "
            f"FROM {stage.name} AS b {join} "
            "GROUP BY 1, 2, 3)"
        )
        self.ctes.append(
            f"{f_cte} AS (SELECT c.ancestor AS entity, b.window_cycle, b.window_kind, "
            f"{cols} FROM {w_cte} AS b JOIN {self.hierarchy} AS c ON c.descendant = b.entity "
            "GROUP BY 1, 2, 3)"
        )

    def add_stocks(self, stage: _Stage) -> None:
        """Step 2 of the group's stock measures: per entity and window, then over the subtree."""
        stocks: dict[str, list[tuple[int, str, int, int]]] = {}
        for stock in stage.group.stock:
            stocks.setdefault(self.windows_of(stock[0]), []).append(stock)
        for k, (wins, items) in enumerate(sorted(stocks.items())):
            e_cte, s_cte = f"{stage.name}_e{k or ''}", f"{stage.name}_s{k or ''}"
            per_entity = []
            for i, agg, s, n in items:
                # Only the periods in which the entity has rows of the measure count.
                having = f"FILTER (WHERE b.p{n} > 0)"
                if agg == "closing":
                    at = "b.month" if stage.group.time_column else "1"
                    value = f"arg_max(b.p{s}, {at}) {having}"
                else:
                    value = f"CAST(AVG(b.p{s}) {having} AS {EXACT_TYPE})"
                per_entity.append(f"{value} AS s{i}")
            join = self.window_join(wins, "b", stage.cuts, stage.stretched)
            self.ctes.append(
                f"{e_cte} AS (SELECT b.entity, w.window_cycle, w.window_kind, "
                f"{', '.join(per_entity)} FROM {stage.name} AS b "
                f"{join} GROUP BY 1, 2, 3)"
            )
            cols = ", ".join(f"CAST(SUM(e.s{i}) AS DOUBLE) AS m{i}" for i, *_ in items)
            self.ctes.append(
                f"{s_cte} AS (SELECT c.ancestor AS entity, e.window_cycle, e.window_kind, {cols} "
                f"FROM {e_cte} AS e JOIN {self.hierarchy} AS c ON c.descendant = e.entity "
                "GROUP BY 1, 2, 3)"
            )
            self.parts.append((s_cte, [(i, f"m{i}") for i, *_ in items]))

    def add_distinct(self, name: str, i: int, measure: Measure) -> None:
        """Steps 1 and 2 of count_distinct measure ``i``, in a scan of its own."""
        time_column = measure.time_column(self.source)
        expr = measure.expr.strip()
        conditions = [f"({expr}) IS NOT NULL"]
        if measure.filter:
            conditions.insert(0, f"({measure.filter})")
        month, distinct_cuts = "", None
        if time_column is not None:
            distinct_cuts = window_cuts(self.measure_windows[i] or self.windows)
            month = f", {_stretch_sql(quote(time_column), distinct_cuts)} AS month"
            if self.bound is not None:
                conditions.append(f"{quote(time_column)} < {_date(self.bound)}")
        self.ctes.append(
            f"{name} AS (SELECT DISTINCT {self.entity_sql} AS entity{month}, ({expr}) AS v "
            f"FROM {self.table} WHERE {' AND '.join(conditions)})"
        )
        join = self.window_join(self.windows_of(i), "b", distinct_cuts, True)
        self.ctes.append(
            f"{name}_w AS (SELECT DISTINCT b.entity, w.window_cycle, w.window_kind, b.v "
            f"FROM {name} AS b {join})"
        )
        self.ctes.append(
            f"{name}_f AS (SELECT c.ancestor AS entity, b.window_cycle, b.window_kind, "
            f"CAST(COUNT(DISTINCT b.v) AS DOUBLE) AS m{i} FROM {name}_w AS b "
            f"JOIN {self.hierarchy} AS c ON c.descendant = b.entity GROUP BY 1, 2, 3)"
        )
        self.parts.append((f"{name}_f", [(i, f"m{i}")]))

    def value_rows(self) -> tuple[str, list[tuple[str, str, str]]]:
        """Step 3: the query of the ``value`` rows, and its (column, measure id, window kind)."""
        held_in = {i: (cte, column) for cte, held in self.parts for i, column in held}
        # One row per (entity, cycle), a column per measure and window kind it is computed
        # for: a third of the rows of one row per window when a source has three kinds.
        select = [
            f"'{VALUE}' AS part",
            "__grid.entity",
            "__grid.window_cycle",
            "CAST(NULL AS VARCHAR) AS window_kind",
            "CAST(NULL AS DATE) AS month",
        ]
        joins: list[str] = []
        outputs: list[tuple[str, str, str]] = []  # (column, measure id, window kind)
        kinds_of = [{w.kind for w in wins} for wins in self.measure_windows]
        for k, kind in enumerate(sorted({w.kind for w in self.windows})):
            wanted = [i for i in range(len(self.measures)) if kind in kinds_of[i]]
            for cte in dict.fromkeys(held_in[i][0] for i in wanted):
                joins.append(
                    f" LEFT JOIN {cte} AS {cte}_k{k} ON {cte}_k{k}.entity = __grid.entity"
                    f" AND {cte}_k{k}.window_cycle = __grid.window_cycle"
                    f" AND {cte}_k{k}.window_kind = {literal(kind)}"
                )
            for i in wanted:
                cte, column = held_in[i]
                value = f"{cte}_k{k}.{column}"
                if self.measures[i].agg in ("count", "count_distinct"):
                    value = f"COALESCE({value}, 0)"  # no rows in the window: 0, not null
                select.append(f"{value} AS m{i}_k{k}")
                outputs.append((f"m{i}_k{k}", self.measures[i].id, kind))
        return f"SELECT {', '.join(select)} FROM __grid" + "".join(joins), outputs

    def coverage_rows(
        self, coverage_cte: str, coverage_join: str, outputs: list[tuple[str, str, str]]
    ) -> str:
        """The ``gap`` and ``coverage`` rows (their CTEs added), to follow the value rows."""
        self.ctes.extend(_gap_ctes(coverage_cte, coverage_join, self.first_months()))
        nulls = "".join(f", CAST(NULL AS DOUBLE) AS {c}" for c, _, _ in outputs)
        return (
            f"\nUNION ALL\nSELECT '{GAP}', entity, window_cycle, window_kind, first_month{nulls} "
            "FROM __gaps"
            f"\nUNION ALL\nSELECT '{COVERAGE}', v.entity, CAST(NULL AS VARCHAR), "
            f"CAST(NULL AS VARCHAR), v.month{nulls} FROM {coverage_cte} AS v "
            "WHERE v.entity IN (SELECT entity FROM __gaps)"
        )

    def first_months(self) -> str | None:
        """A query of each entity's first month from every row, when the groups skip some
        history (else None: the coverage group's own first months)."""
        spans = month_spans(self.windows)
        if not (self.source.time_column and spans and spans != [(None, spans[-1][1])]):
            return None
        # The groups skip some history: each entity's first month from every row.
        column = quote(self.source.time_column)
        where = f" WHERE {column} < {_date(self.bound)}" if self.bound is not None else ""
        return (
            f"SELECT {self.entity_sql} AS entity, "
            f"CAST(date_trunc('month', MIN({column})) AS DATE) AS first_month "
            f"FROM {self.table}{where} GROUP BY 1"
        )


@dataclass(frozen=True)
class _Stage:
    """A group's step-1 CTE ``name``: by stretch (``stretched``) or month within ``cuts``
    (None: untimed)."""

    name: str
    group: _Group
    cuts: list[date] | None
    stretched: bool


def _month_number(day: str) -> str:
    return f"(year({day}) * 12 + month({day}))"


def _gap_ctes(coverage_cte: str, join: str, first: str | None = None) -> list[str]:
    """Completeness (SPEC §3.4) counted in SQL: the (entity, window) pairs in which an entity
    has fewer months with rows than the window has months from its first row onward.
    ``join``: the join of ``coverage_cte`` (as ``v``) to every window (as ``w``); ``first``:
    a query of each entity's first month, when ``coverage_cte`` does not start at the
    beginning."""
    start = "GREATEST(f.first_month, w.first_month)"
    expected = f"({_month_number('w.last_month')} - {_month_number(start)} + 1)"
    return [
        "__first AS ("
        + (first or f"SELECT entity, MIN(month) AS first_month FROM {coverage_cte} GROUP BY 1")
        + ")",
        "__have AS (SELECT v.entity, w.window_cycle, w.window_kind, COUNT(*) AS months "
        f"FROM {coverage_cte} AS v {join} "
        "GROUP BY 1, 2, 3)",
        "__gaps AS (SELECT f.entity, w.window_cycle, w.window_kind, f.first_month "
        "FROM __first AS f CROSS JOIN __windows AS w LEFT JOIN __have AS h "
        "ON h.entity = f.entity AND h.window_cycle = w.window_cycle "
        "AND h.window_kind = w.window_kind "
        f"WHERE f.first_month <= w.last_month AND COALESCE(h.months, 0) < {expected})",
    ]


def _windows_cte(name: str, windows: Sequence[Window]) -> str:
    """A CTE of ``windows``: window_cycle, window_kind, first_month, last_month."""
    rows = [
        (literal(w.cycle), literal(w.kind), _date(w.first_month), _date(w.last_month))
        for w in windows
    ] or [("''", "''", _date(BEGINNING), _date(BEGINNING))]
    return (
        f"{name} AS (SELECT * FROM (VALUES {_values(rows)}) "
        "AS w(window_cycle, window_kind, first_month, last_month)"
        + ("" if windows else " WHERE false")
        + ")"
    )


def _stretch_map_cte(name: str, windows: Sequence[Window], cuts: Sequence[date]) -> str:
    """A CTE of (stretch, window_cycle, window_kind): the first month of each stretch between
    ``cuts`` (BEGINNING for the first) that lies inside each of ``windows`` (whose first
    months and ends are among ``cuts``)."""
    starts = [BEGINNING, *cuts[:-1]]
    rows = [
        (_date(start), literal(w.cycle), literal(w.kind))
        for w in windows
        for start, end in zip(starts, cuts, strict=True)
        if w.first_month <= start and end <= w.end
    ]
    values = _values(rows) if rows else f"({_date(BEGINNING)}, '', '')"
    return (
        f"{name} AS (SELECT * FROM (VALUES {values}) AS s(stretch, window_cycle, window_kind)"
        + ("" if rows else " WHERE false")
        + ")"
    )


def month_spans(windows: Iterable[Window]) -> list[tuple[date | None, date]]:
    """The months of ``windows`` as the fewest [first, end) spans, in order (first None:
    from the beginning)."""
    merged: list[tuple[date, date]] = []
    for first, end in sorted((w.first_month, w.end) for w in windows):
        if merged and first <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((first, end))
    return [(None if first <= BEGINNING else first, end) for first, end in merged]


def window_cuts(windows: Iterable[Window]) -> list[date]:
    """Every first month and end of ``windows``, in order (the beginning left out): the
    boundaries of the stretches of months that no window boundary splits."""
    return sorted(
        {w.first_month for w in windows if w.first_month > BEGINNING} | {w.end for w in windows}
    )


def _stretch_sql(column: str, cuts: Sequence[date] | None) -> str:
    """The first month of the stretch between ``cuts`` that ``column`` falls in (BEGINNING
    before the first cut): inside a window exactly when the whole stretch is. Without cuts,
    the month of ``column``."""
    if not cuts:
        return f"CAST(date_trunc('month', {column}) AS DATE)"
    starts = [BEGINNING, *cuts[:-1]]
    whens = " ".join(
        f"WHEN {column} < {_date(cut)} THEN {_date(start)}"
        for start, cut in zip(starts, cuts, strict=True)
    )
    return f"CASE {whens} END"


def _group_stage(
    group: _Group,
    name: str,
    table: str,
    entity_sql: str,
    spans: list[tuple[date | None, date]],
    cuts: Sequence[date] | None = None,
) -> list[str]:
    """Step 1: the partials by (entity, month) of the rows in ``spans`` — by (entity, first
    month of the stretch) when ``cuts`` (:func:`window_cuts`) are given — or by entity alone
    when time is ignored."""
    partials = "".join(f", {sql} AS p{k}" for k, (sql, _) in enumerate(group.partials))
    if group.time_column is None:
        return [f"{name} AS (SELECT {entity_sql} AS entity{partials} FROM {table} GROUP BY 1)"]
    column = quote(group.time_column)
    month = _stretch_sql(column, cuts)
    conditions = [
        f"{column} < {_date(end)}"
        if first is None
        else f"{column} >= {_date(first)} AND {column} < {_date(end)}"
        for first, end in spans
    ]
    where = ""
    if len(conditions) == 1:
        where = f" WHERE {conditions[0]}"
    elif conditions:
        where = " WHERE " + " OR ".join(f"({c})" for c in conditions)
    return [
        f"{name} AS (SELECT {entity_sql} AS entity, {month} AS month{partials} "
        f"FROM {table}{where} GROUP BY 1, 2)"
    ]
