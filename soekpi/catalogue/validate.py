"""Validate a parsed catalogue: references, cycles, targets and SQL — every problem at once.

``load_catalogue(ws)`` is what commands call: it returns a :class:`Catalogue` or raises ONE
:class:`CatalogueError` listing every problem, each at its ``file:line``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soekpi.base.errors import CatalogueError, InputError, Location, Problem
from soekpi.base.text import did_you_mean
from soekpi.catalogue.model import Catalogue, Column, Revision, Source, revision_order
from soekpi.catalogue.parse import (
    ParsedCatalogue,
    parse_documents,
    parse_files,
    threshold_order_problem,
)

if TYPE_CHECKING:
    from soekpi.workspace import Workspace

ENTITY_COLUMNS = ("entity_id", "name", "parent_id")


def load_catalogue(ws: Workspace) -> Catalogue:
    """The workspace's catalogue, validated; raises one CatalogueError with every problem."""
    catalogue, problems = check_catalogue(ws)
    if problems or catalogue is None:
        raise CatalogueError(problems)
    return catalogue


def load_catalogue_files(
    files: list[Path], shown: Callable[[Path], str] | None = None
) -> Catalogue:
    """A catalogue from explicit files (for tools and tests without a workspace).

    ``shown`` turns a path into the name messages use (default: the path as given).
    """
    catalogue, problems = check_catalogue_files(files, shown)
    if problems or catalogue is None:
        raise CatalogueError(problems)
    return catalogue


def check_catalogue(ws: Workspace) -> tuple[Catalogue | None, list[Problem]]:
    """Every problem of the workspace's catalogue, and the catalogue when there is none."""
    try:
        files = ws.catalogue_files()
    except InputError as exc:
        return None, exc.problems
    if not files:
        where = ", ".join(ws.shown(p) for p in ws.catalogue)
        return None, [
            Problem(
                Location(str(ws.root / "soekpi.yaml")),
                f"catalogue: no *.yaml or *.yml files in {where}",
            )
        ]
    return check_catalogue_files(files, ws.shown)


def check_catalogue_files(
    files: list[Path], shown: Callable[[Path], str] | None = None
) -> tuple[Catalogue | None, list[Problem]]:
    """Parse, then validate ``files``; returns (catalogue or None, problems)."""
    return _validated(parse_files(files, shown))


def load_catalogue_documents(documents: list[tuple[str, Any]]) -> Catalogue:
    """A catalogue from already-read documents, each (name messages use, mapping of sections),
    through the same parse and checks as the files; raises one CatalogueError."""
    catalogue, problems = _validated(parse_documents(documents))
    if problems or catalogue is None:
        raise CatalogueError(problems)
    return catalogue


def _validated(parsed: ParsedCatalogue) -> tuple[Catalogue | None, list[Problem]]:
    """Every cross-entry and SQL check of a parsed catalogue; (catalogue or None, problems)."""
    problems = list(parsed.problems)
    problems.extend(_check_sources(parsed))
    problems.extend(_check_measures(parsed))
    problems.extend(_check_kpis(parsed))
    problems.extend(_check_targets(parsed))
    sources = _check_sql(parsed, problems)
    problems.extend(_check_revisions(parsed, sources, problems))
    problems = sorted(set(problems), key=lambda p: (p.location or Location(""), p.message))
    if problems:
        return None, problems
    catalogue = Catalogue(
        sources=dict(sorted(sources.items())),
        measures=dict(sorted(parsed.measures.items())),
        kpis=dict(sorted(parsed.kpis.items())),
        targets=tuple(parsed.targets),
        files=tuple(parsed.files),
    )
    return catalogue, []


def _at(parsed: ParsedCatalogue, kind: str, entry_id: str, key: str | None = None) -> Location:
    return parsed.place(kind, entry_id, key) or Location("")


def _check_sources(parsed: ParsedCatalogue) -> list[Problem]:
    problems: list[Problem] = []
    sources = parsed.sources
    for source in sorted(sources.values(), key=lambda s: s.id):
        for column in source.columns.values():
            if column.references is None:
                continue
            ref_source, ref_column = column.references
            where = column.location or source.location
            what = f"source '{source.id}': column '{column.name}': references"
            target = sources.get(ref_source)
            if target is None:
                problems.append(
                    Problem(
                        where,
                        f"{what}: source '{ref_source}' does not exist"
                        f"{did_you_mean(ref_source, parsed.defined('source'))}",
                    )
                )
            elif target.is_view:
                problems.append(
                    Problem(where, f"{what}: '{ref_source}' is a view; reference a table")
                )
            elif ref_column not in target.columns:
                problems.append(
                    Problem(
                        where,
                        f"{what}: column '{ref_column}' does not exist in source "
                        f"'{ref_source}'{did_you_mean(ref_column, target.columns)}",
                    )
                )
    entities = sources.get("entities")
    if entities is not None and not entities.is_view:
        for name in ENTITY_COLUMNS:
            if name not in entities.columns:
                problems.append(
                    Problem(
                        entities.location,
                        f"source 'entities': missing column '{name}' (the entities source "
                        f"defines the hierarchy with {', '.join(ENTITY_COLUMNS)})",
                    )
                )
    return problems


def _check_measures(parsed: ParsedCatalogue) -> list[Problem]:
    problems: list[Problem] = []
    for measure in sorted(parsed.measures.values(), key=lambda m: m.id):
        what = f"measure '{measure.id}'"
        source = parsed.sources.get(measure.source)
        if source is None:
            if ("source", measure.source) not in parsed.places:  # not a broken definition
                problems.append(
                    Problem(
                        _at(parsed, "measure", measure.id, "source"),
                        f"{what}: source '{measure.source}' does not exist"
                        f"{did_you_mean(measure.source, parsed.defined('source'))}",
                    )
                )
            continue
        if source.is_view:
            continue  # its columns are known once the view binds (_check_sql)
        problems.extend(_measure_time_problems(parsed, measure.id, source))
    return problems


def _measure_time_problems(
    parsed: ParsedCatalogue, measure_id: str, source: Source
) -> list[Problem]:
    measure = parsed.measures[measure_id]
    what = f"measure '{measure.id}'"
    problems: list[Problem] = []
    if measure.time not in (None, "none"):
        column = source.columns.get(measure.time)
        where = _at(parsed, "measure", measure.id, "time")
        if column is None:
            problems.append(
                Problem(
                    where,
                    f"{what}: time: column '{measure.time}' does not exist in source "
                    f"'{source.id}'{did_you_mean(measure.time, source.columns)} "
                    "(or write 'none' to ignore time)",
                )
            )
        elif column.type not in ("date", "timestamp"):
            problems.append(
                Problem(
                    where,
                    f"{what}: time: column '{measure.time}' is {column.type}; "
                    "a time column must be date or timestamp",
                )
            )
    if measure.agg in ("closing", "average") and measure.time_column(source) is None:
        problems.append(
            Problem(
                _at(parsed, "measure", measure.id, "agg"),
                f"{what}: agg '{measure.agg}' needs periods, but source '{source.id}' has no "
                "time_column and the measure sets no 'time'",
            )
        )
    return problems


def _check_kpis(parsed: ParsedCatalogue) -> list[Problem]:
    from soekpi.catalogue.formula import referenced_names

    problems: list[Problem] = []
    kpis = parsed.kpis

    def known(kind: str, entry_id: str) -> bool:
        # a definition that failed to parse is reported already; do not cascade
        return (kind, entry_id) in parsed.places

    for kpi in sorted(kpis.values(), key=lambda k: k.id):
        what = f"kpi '{kpi.id}'"
        for key in ("measure", "numerator", "denominator"):
            ref = getattr(kpi, key)
            if ref is None or ref in parsed.measures or known("measure", ref):
                continue
            label = "" if key == "measure" else f" {key}:"
            problems.append(
                Problem(
                    _at(parsed, "kpi", kpi.id, key),
                    f"{what}:{label} measure '{ref}' does not exist"
                    f"{did_you_mean(ref, parsed.defined('measure'))}",
                )
            )
        refs: list[tuple[str, str]] = []
        if kpi.of is not None:
            refs.append(("of", kpi.of))
        refs.extend(("components", c) for c in kpi.components or {})
        if kpi.expr is not None:
            refs.extend(("expr", name) for name in referenced_names(kpi.expr))
        for key, ref in refs:
            if ref in kpis or known("kpi", ref):
                continue
            problems.append(
                Problem(
                    _at(parsed, "kpi", kpi.id, key),
                    f"{what}: {key}: kpi '{ref}' does not exist"
                    f"{did_you_mean(ref, parsed.defined('kpi'))}",
                )
            )
    problems.extend(_cycle_problems(parsed))
    return problems


def _cycle_problems(parsed: ParsedCatalogue) -> list[Problem]:
    """One problem per cycle among derived, growth and composite KPIs, naming its path."""
    kpis = parsed.kpis
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []
    cycles: set[tuple[str, ...]] = set()

    def visit(kpi_id: str) -> None:
        state[kpi_id] = 1
        path.append(kpi_id)
        for dep in kpis[kpi_id].kpi_inputs:
            if dep not in kpis:
                continue
            if state.get(dep) == 1:
                loop = path[path.index(dep) :]
                start = loop.index(min(loop))
                cycles.add(tuple(loop[start:] + loop[:start]))
            elif dep not in state:
                visit(dep)
        path.pop()
        state[kpi_id] = 2

    for kpi_id in sorted(kpis):
        if kpi_id not in state:
            visit(kpi_id)
    problems = []
    for loop in sorted(cycles):
        text = " -> ".join((*loop, loop[0]))
        problems.append(
            Problem(
                _at(parsed, "kpi", loop[0]),
                f"kpi '{loop[0]}': cycle among kpis: {text}",
            )
        )
    return problems


def _check_targets(parsed: ParsedCatalogue) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[tuple[str, int | None, str | None], Location | None] = {}
    for target in parsed.targets:
        what = f"target for kpi '{target.kpi}'"
        kpi = parsed.kpis.get(target.kpi)
        if kpi is None:
            if ("kpi", target.kpi) not in parsed.places:
                problems.append(
                    Problem(
                        target.location,
                        f"{what}: kpi '{target.kpi}' does not exist"
                        f"{did_you_mean(target.kpi, parsed.defined('kpi'))}",
                    )
                )
            continue
        order = threshold_order_problem(kpi.direction, target.green, target.amber)
        if order:
            problems.append(Problem(target.location, f"{what}: {order}"))
        key = (target.kpi, target.fiscal_year, target.entity)
        if key in seen:
            scope = (
                ", ".join(
                    part
                    for part in (
                        f"fiscal_year {target.fiscal_year}" if target.fiscal_year else "",
                        f"entity '{target.entity}'" if target.entity else "",
                    )
                    if part
                )
                or "every fiscal year and entity"
            )
            problems.append(
                Problem(
                    target.location,
                    f"{what} ({scope}) is defined twice: {seen[key]} and {target.location}",
                )
            )
        else:
            seen[key] = target.location
    return problems


def _check_sql(parsed: ParsedCatalogue, problems: list[Problem]) -> dict[str, Source]:
    """Bind the SQL of views and measures; returns the sources with view columns filled in."""
    from soekpi.catalogue.sqlcheck import check_sql

    sources = dict(parsed.sources)
    measures = {
        m.id: m
        for m in parsed.measures.values()
        if m.source in sources
        and (
            sources[m.source].is_view or not _measure_time_problems(parsed, m.id, sources[m.source])
        )
    }
    result = check_sql(sources, measures, parsed.defined("source"))
    for issue in result.problems:
        problems.append(
            Problem(
                _at(parsed, issue.kind, issue.id, issue.field),
                f"{issue.kind} '{issue.id}': {issue.field}: {issue.message}",
            )
        )
    for view_id, column_types in result.view_columns.items():
        view = sources[view_id]
        columns = {
            name: Column(name=name, type=kind, location=view.location)
            for name, kind in column_types.items()
        }
        sources[view_id] = dataclasses.replace(view, columns=columns)
        problems.extend(_view_column_problems(parsed, sources[view_id]))
    for measure in parsed.measures.values():
        over = sources.get(measure.source)
        if over is not None and over.is_view and over.id in result.view_columns:
            problems.extend(_measure_time_problems(parsed, measure.id, over))
    return sources


def _view_column_problems(parsed: ParsedCatalogue, view: Source) -> list[Problem]:
    problems = []
    for key in ("time_column", "entity_column"):
        name = getattr(view, key)
        if name is None:
            continue
        where = _at(parsed, "source", view.id, key)
        if name not in view.columns:
            problems.append(
                Problem(
                    where,
                    f"source '{view.id}': {key}: the view's sql gives no column '{name}'"
                    f"{did_you_mean(name, view.columns)}",
                )
            )
        elif key == "time_column" and view.columns[name].type not in (
            "date",
            "timestamp",
            "timestamp with time zone",
        ):
            problems.append(
                Problem(
                    where,
                    f"source '{view.id}': time_column: column '{name}' is "
                    f"{view.columns[name].type}; a time column must be date or timestamp",
                )
            )
    return problems


# ------------------------------------------------------------------------------ revisions


def _check_revisions(
    parsed: ParsedCatalogue, sources: dict[str, Source], found: list[Problem]
) -> list[Problem]:
    """Every catalogue in force from a revision's start, checked whole as the original one is
    (references, cycles among KPIs, targets' threshold order, measures' time columns), and
    the SQL of every revised measure. A problem the original catalogue has already is not
    repeated; a new one names the revision (``kpi 'x': revision FY2026: ...``) or, when it
    is another entry's, the revisions it comes with."""
    starts: dict[tuple[int, int], str] = {}
    revisions = [r for k in parsed.kpis.values() for r in k.revisions]
    revisions += [r for m in parsed.measures.values() for r in m.revisions]
    for revision in revisions:
        order = revision_order(revision.effective_from)
        starts[order] = min(starts.get(order, revision.effective_from), revision.effective_from)
    known = set(found)
    reported: set[tuple[Location | None, str]] = set()
    problems: list[Problem] = []
    for order in sorted(starts):
        view, revised = _in_force_at(parsed, order)
        checks = [*_check_measures(view), *_check_kpis(view), *_check_targets(view)]
        for measure in view.measures.values():
            over = sources.get(measure.source)
            if over is not None and over.is_view and over.columns:
                checks.extend(_measure_time_problems(view, measure.id, over))
        for problem in checks:
            # a mistake carried over to a later revision is reported once, by the first
            key = (problem.location, problem.message)
            if problem not in known and key not in reported:
                reported.add(key)
                problems.append(_named(problem, revised, starts[order]))
    problems.extend(_revised_sql_problems(parsed))
    return problems


def _in_force_at(
    parsed: ParsedCatalogue, order: tuple[int, int]
) -> tuple[ParsedCatalogue, dict[tuple[str, str], str]]:
    """The parsed catalogue as in force from ``order`` (a revision's start), and the
    effective_from of each entry a revision changes there."""
    places = dict(parsed.places)
    revised: dict[tuple[str, str], str] = {}

    def in_force(kind: str, entry_id: str, revisions: tuple[Revision, ...], original: Any) -> Any:
        chosen = [r for r in revisions if revision_order(r.effective_from) <= order]
        if not chosen:
            return original
        revision = chosen[-1]
        revised[(kind, entry_id)] = revision.effective_from
        places[(kind, entry_id)] = parsed.revision_places.get(
            (kind, entry_id, revision.effective_from), places.get((kind, entry_id), {})
        )
        return revision.definition

    kpis = {k: in_force("kpi", k, kpi.revisions, kpi) for k, kpi in parsed.kpis.items()}
    measures = {m: in_force("measure", m, x.revisions, x) for m, x in parsed.measures.items()}
    view = dataclasses.replace(parsed, kpis=kpis, measures=measures, places=places, problems=[])
    return view, revised


def _named(problem: Problem, revised: dict[tuple[str, str], str], start: str) -> Problem:
    """A problem of a catalogue in force from ``start``, naming the revision it comes from."""
    for (kind, entry_id), effective in revised.items():
        prefix = f"{kind} '{entry_id}': "
        if problem.message.startswith(prefix):
            rest = problem.message[len(prefix) :]
            return Problem(problem.location, f"{prefix}revision {effective}: {rest}")
    return Problem(
        problem.location, f"{problem.message} (with the revisions in force from {start})"
    )


def _revised_sql_problems(parsed: ParsedCatalogue) -> list[Problem]:
    """The SQL of each revised measure (its expr and filter over its source), bound as the
    original measures are; one check per rank of revision (first revisions, second ...)."""
    from soekpi.catalogue.sqlcheck import check_sql

    problems: list[Problem] = []
    ranks = max((len(m.revisions) for m in parsed.measures.values()), default=0)
    for rank in range(ranks):
        revisions = {
            m.id: m.revisions[rank] for m in parsed.measures.values() if len(m.revisions) > rank
        }
        measures = {
            mid: r.definition
            for mid, r in revisions.items()
            if r.definition.source in parsed.sources
            and (
                parsed.sources[r.definition.source].is_view
                or not _measure_time_problems(
                    _in_force_at(parsed, revision_order(r.effective_from))[0],
                    mid,
                    parsed.sources[r.definition.source],
                )
            )
        }
        if not measures:
            continue
        result = check_sql(dict(parsed.sources), measures, parsed.defined("source"))
        for issue in result.problems:
            if issue.kind != "measure" or issue.id not in revisions:
                continue  # a view's problem is the original catalogue's, reported already
            effective = revisions[issue.id].effective_from
            places = parsed.revision_places.get(("measure", issue.id, effective), {})
            problems.append(
                Problem(
                    places.get(issue.field) or places.get("") or Location(""),
                    f"measure '{issue.id}': revision {effective}: {issue.field}: {issue.message}",
                )
            )
    return problems
