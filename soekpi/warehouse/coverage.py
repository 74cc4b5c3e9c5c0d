"""Which months have data, per source and entity: ``latest`` (SPEC §2) and ``soekpi cycles``.

Only table sources with a time column count; views are left out (they hold no data of their
own and would need the sandbox to run). A month is the calendar month of the time column.

Coverage of a monthly source (``cadence: monthly``, SPEC §3.4) in a quarter: an entity is
*expected* in a month when it has a row in the source in that month or any earlier month (a
periodic return is owed from an entity's first row onward); it is *reporting* in the quarter
when it has a row in every month of the quarter in which it is expected; a month is
*complete* when every entity expected in it has a row.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from soekpi.base.calendar import Cycle, cycle_containing, resolve_cycle
from soekpi.base.sqltext import quote
from soekpi.warehouse.schema import existing_tables, table_sources

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from soekpi.base.calendar import FiscalSettings
    from soekpi.catalogue.model import Catalogue, Source

# (source, entity or None, month) → rows
_Counts = dict[tuple[str, str | None, date], int]


def time_sources(catalogue: Catalogue) -> list[Source]:
    """Table sources with a time column, sorted by id."""
    return [s for s in table_sources(catalogue) if s.time_column]


def monthly_sources(catalogue: Catalogue) -> list[Source]:
    """The sources ``latest`` looks at: those with ``cadence: monthly``, or when none has,
    every table source with a time column."""
    timed = time_sources(catalogue)
    monthly = [s for s in timed if s.cadence == "monthly"]
    return monthly or timed


def _month_counts(
    con: duckdb.DuckDBPyConnection, sources: list[Source], by_entity: bool = True
) -> _Counts:
    """Rows per (source, entity, month); with ``by_entity=False`` per (source, month), the
    entity None (what ``latest`` needs: a few dozen rows, not one per entity and month)."""
    tables = existing_tables(con)
    parts = []
    for source in sources:
        if source.table_name not in tables or source.time_column is None:
            continue
        t = quote(source.time_column)
        entity = "NULL"
        if by_entity and source.entity_column:
            entity = f"{quote(source.entity_column)}::VARCHAR"
        parts.append(
            f"SELECT '{source.id}' AS source, {entity} AS entity, "
            f"date_trunc('month', {t})::DATE AS month, count(*) AS n "
            f"FROM {quote(source.table_name)} WHERE {t} IS NOT NULL GROUP BY ALL"
        )
    if not parts:
        return {}
    rows = con.execute(" UNION ALL ".join(parts)).fetchall()
    return {(s, e, m): int(n) for s, e, m, n in rows}


def source_coverage(
    con: duckdb.DuckDBPyConnection, catalogue: Catalogue, fiscal: FiscalSettings
) -> pl.DataFrame:
    """The months with rows: one row per (source, entity, month) of every table source with
    a time column (entity null for sources without an entity column), sorted. ``month`` is
    the first day of the calendar month. ``fiscal`` is accepted for symmetry with the other
    coverage functions; months are calendar months whatever the fiscal year."""
    import polars as pl

    counts = _month_counts(con, time_sources(catalogue))
    keys = sorted(counts, key=lambda k: (k[0], k[1] or "", k[2]))
    return pl.DataFrame(
        {
            "source": [k[0] for k in keys],
            "entity": [k[1] for k in keys],
            "month": [k[2] for k in keys],
        },
        schema={"source": pl.String, "entity": pl.String, "month": pl.Date},
    )


def latest_quarter(
    con: duckdb.DuckDBPyConnection, catalogue: Catalogue, fiscal: FiscalSettings
) -> Cycle | None:
    """SPEC §2 ``latest``: the latest fiscal quarter whose last month has rows in every
    source that declares ``cadence: monthly`` (when none does, every table source with a
    time column); None when there is no such quarter."""
    sources = monthly_sources(catalogue)
    if not sources:
        return None
    counts = _month_counts(con, sources, by_entity=False)
    months_by_source: dict[str, set[date]] = {s.id: set() for s in sources}
    for source_id, _entity, month in counts:
        months_by_source[source_id].add(month)
    common = set.intersection(*months_by_source.values())
    ends = [m for m in common if cycle_containing(m, "Q", fiscal).months(fiscal)[-1] == m]
    return cycle_containing(max(ends), "Q", fiscal) if ends else None


@dataclass(frozen=True)
class SourceCoverage:
    """One source in one quarter. For monthly sources with an entity column the entity and
    month counts are set; for the others only ``rows``."""

    source: str
    rows: int
    entities_reporting: int | None = None
    entities_expected: int | None = None
    months_complete: int | None = None
    months: int = 3


@dataclass(frozen=True)
class QuarterCoverage:
    """A fiscal quarter that has data: its dates, coverage per source, and whether it is
    closed (``closed``: the closed cycles that overlap it, e.g. ``("FY2026-Q1",)``)."""

    cycle: Cycle
    start: date
    end: date
    sources: tuple[SourceCoverage, ...]
    closed: tuple[str, ...] = ()
    fully_closed: bool = False


def _source_in_quarter(source: Source, counts: _Counts, months: list[date]) -> SourceCoverage:
    mine = {(e, m): n for (s, e, m), n in counts.items() if s == source.id}
    rows = sum(n for (_e, m), n in mine.items() if m in months)
    if source.cadence != "monthly" or not source.entity_column:
        return SourceCoverage(source=source.id, rows=rows)
    first: dict[str, date] = {}
    seen: dict[str, set[date]] = defaultdict(set)
    for entity, month in mine:
        if entity is None:
            continue
        seen[entity].add(month)
        first[entity] = min(month, first.get(entity, month))
    expected = [e for e in sorted(first) if first[e] <= months[-1]]
    reporting = [e for e in expected if all(m in seen[e] for m in months if m >= first[e])]
    complete = sum(1 for m in months if all(m in seen[e] for e in expected if first[e] <= m))
    return SourceCoverage(
        source=source.id,
        rows=rows,
        entities_reporting=len(reporting),
        entities_expected=len(expected),
        months_complete=complete,
        months=len(months),
    )


def quarter_coverage(
    con: duckdb.DuckDBPyConnection, catalogue: Catalogue, fiscal: FiscalSettings
) -> list[QuarterCoverage]:
    """Every fiscal quarter in which some source has rows, oldest first, with the coverage
    of each table source that has a time column and the closed cycles overlapping it."""
    sources = time_sources(catalogue)
    counts = _month_counts(con, sources)
    quarters = sorted({cycle_containing(m, "Q", fiscal) for (_s, _e, m) in counts})
    closed: list[tuple[str, date, date]] = []
    if "_closed_cycles" in existing_tables(con):
        closed = [
            (str(c), s, e)
            for c, s, e in con.execute(
                "SELECT cycle, start_date, end_date FROM _closed_cycles ORDER BY start_date, cycle"
            ).fetchall()
        ]
    result = []
    for quarter in quarters:
        months = quarter.months(fiscal)
        start, end = quarter.dates(fiscal)
        overlapping = [c for c in closed if c[1] <= end and c[2] >= start]
        result.append(
            QuarterCoverage(
                cycle=quarter,
                start=start,
                end=end,
                sources=tuple(_source_in_quarter(s, counts, months) for s in sources),
                closed=tuple(c[0] for c in overlapping),
                fully_closed=any(c[1] <= start and c[2] >= end for c in overlapping),
            )
        )
    return result


def resolve_on(
    con: duckdb.DuckDBPyConnection, catalogue: Catalogue, fiscal: FiscalSettings, text: str
) -> Cycle:
    """A cycle argument (a name, ``previous`` or ``latest``) as a Cycle, ``latest`` read on
    ``con`` (SPEC §2): the one place where a cycle argument meets the warehouse."""
    return resolve_cycle(text, fiscal, latest=lambda: latest_quarter(con, catalogue, fiscal))
