"""Read-only queries a report needs besides the KPIs: rejected rows and project risks.

They run on the sandbox connection (``soekpi.warehouse.sandbox``); ``con`` is any DuckDB
connection. Results are small frozen dataclasses, sorted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from soekpi.catalogue.model import Catalogue

PROJECT_COLUMNS = ("project_id", "entity_id", "name")
PROGRESS_COLUMNS = ("project_id", "planned_value", "earned_value", "actual_cost")


@dataclass(frozen=True)
class RejectedCount:
    """Rejected rows of one file loaded into one source (SPEC §4)."""

    source: str
    file: str
    rows: int  # distinct rejected rows (a row may fail several checks)
    example_reason: str  # the first reason in (row, column) order


@dataclass(frozen=True)
class ProjectRisk:
    """One project's earned-value figures summed up to the end of the cycle."""

    project_id: str
    name: str
    entity_id: str
    budget: float | None
    planned_value: float | None
    earned_value: float | None
    actual_cost: float | None
    cost_variance: float | None  # EV − AC
    schedule_variance: float | None  # EV − PV
    cpi: float | None  # EV / AC
    spi: float | None  # EV / PV


@dataclass(frozen=True)
class ProjectRisks:
    """The projects most over budget and most behind schedule."""

    over_budget: list[ProjectRisk]
    behind_schedule: list[ProjectRisk]


def _table_exists(con: Any, name: str) -> bool:
    rows = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [name]
    ).fetchall()
    return bool(rows[0][0])


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def rejected_counts(con: Any) -> list[RejectedCount]:
    """Rejected rows per (source, file) from ``_rejected``; [] when the table is absent."""
    if not _table_exists(con, "_rejected"):
        return []
    rows = con.execute(
        """
        select source, file, count(distinct (load_id, row_number)) as rows,
               arg_min(reason, (row_number, coalesce(column_name, ''), reason)) as example
        from _rejected
        group by source, file
        order by source, file
        """
    ).fetchall()
    return [RejectedCount(str(s), str(f), int(n), str(e or "")) for s, f, n, e in rows]


def _project_sources_ok(catalogue: Catalogue) -> bool:
    projects = catalogue.sources.get("projects")
    progress = catalogue.sources.get("project_progress")
    if projects is None or progress is None or progress.time_column is None:
        return False
    return all(c in projects.columns for c in PROJECT_COLUMNS) and all(
        c in progress.columns for c in PROGRESS_COLUMNS
    )


def project_risks(
    con: Any, catalogue: Catalogue, start: date, end: date, limit: int = 10
) -> ProjectRisks | None:
    """The ``limit`` projects most over budget (most negative EV − AC) and most behind
    schedule (most negative EV − PV), among the projects with progress reported between
    ``start`` and ``end``, figures summed from the first report up to ``end``.

    None when the catalogue has no ``projects`` and ``project_progress`` sources with the
    columns needed."""
    if not _project_sources_ok(catalogue):
        return None
    projects = catalogue.sources["projects"]
    progress = catalogue.sources["project_progress"]
    if not (_table_exists(con, projects.table_name) and _table_exists(con, progress.table_name)):
        return None
    base = _risk_query(catalogue)
    return ProjectRisks(
        over_budget=_fetch_risks(con, base, "cv < 0", "cv", [start, end, limit]),
        behind_schedule=_fetch_risks(con, base, "sv < 0", "sv", [start, end, limit]),
    )


def _risk_query(catalogue: Catalogue) -> str:
    """The SQL of every active project's summed figures (parameters: start, end)."""
    projects = catalogue.sources["projects"]
    progress = catalogue.sources["project_progress"]
    period = _quote(progress.time_column or "period")
    budget = "p.budget" if "budget" in projects.columns else "null"
    return f"""
        with prog as (
            select project_id,
                   sum(planned_value)::double as pv,
                   sum(earned_value)::double as ev,
                   sum(actual_cost)::double as ac,
                   max(case when {period} >= ? then 1 else 0 end) as active
            from {_quote(progress.table_name)}
            where {period} <= ?
            group by project_id
        )
        select p.project_id::varchar as project_id, p.name::varchar as name,
               p.entity_id::varchar as entity_id,
               {budget}::double as budget, pv, ev, ac,
               ev - ac as cv, ev - pv as sv,
               case when ac = 0 then null else ev / ac end as cpi,
               case when pv = 0 then null else ev / pv end as spi
        from prog join {_quote(projects.table_name)} p using (project_id)
        where active = 1
    """


def _fetch_risks(
    con: Any, base: str, where: str, order: str, params: list[Any]
) -> list[ProjectRisk]:
    """The rows of ``base`` that match ``where``, worst first (params: start, end, limit)."""
    rows = con.execute(
        f"select * from ({base}) where {where} order by {order}, project_id limit ?",
        params,
    ).fetchall()
    return [
        ProjectRisk(
            str(r[0]),
            str(r[1] or ""),
            str(r[2]),
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            r[8],
            r[9],
            r[10],
        )
        for r in rows
    ]
