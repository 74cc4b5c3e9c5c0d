"""Data completeness of monthly returns (SPEC §3.4).

An entity *reports* to a ``cadence: monthly`` source when it has rows in it at some time.
For each window a KPI reads, every reporting entity must have rows in each of the window's
months from its own first month in the source onward; a month it misses makes the KPI
``incomplete`` for that entity and every ancestor (the value is still computed and shown).
A group-wide monthly source (no entity_column) reports as the whole group: a month without
rows makes every entity incomplete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from soekpi.engine.hierarchy import Hierarchy
from soekpi.engine.plan import Window

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class Completeness:
    """``missing``: source, entity, window_kind, window_cycle, month — each month a reporting
    entity (null: a group-wide source) did not file. ``flags``: source, window_kind,
    window_cycle, entity — the entities whose subtree misses something in that window."""

    missing: pl.DataFrame
    flags: pl.DataFrame


def check_completeness(
    gaps: pl.DataFrame,
    coverage: pl.DataFrame,
    windows: Mapping[str, Iterable[Window]],
    hierarchy: Hierarchy,
    wanted: Iterable[str],
) -> Completeness:
    """Missing months and incomplete flags from the gaps the plan's queries found.

    ``gaps``: source, entity, window_kind, window_cycle, first_month (entity "" for a
    group-wide source); ``coverage``: source, entity, month of those entities; ``windows``:
    the windows each monthly source is read over; ``wanted``: the entities computed.
    """
    import polars as pl

    known = set(hierarchy.depth)
    bounds = _window_bounds(windows)
    relevant = gaps.filter(pl.col("entity").is_in(known) | (pl.col("entity") == ""))
    missing = _missing_months(relevant, bounds, coverage)
    flags = _flag_frame(_flagged(relevant, hierarchy, set(wanted)))
    return Completeness(missing=missing, flags=flags)


def _window_bounds(windows: Mapping[str, Iterable[Window]]) -> pl.DataFrame:
    """source, window_kind, window_cycle, window_first, window_last: each source's windows."""
    import polars as pl

    return pl.DataFrame(
        [
            (source, w.kind, w.cycle, w.first_month, w.last_month)
            for source in sorted(windows)
            for w in sorted(set(windows[source]))
        ],
        schema={
            "source": pl.String,
            "window_kind": pl.String,
            "window_cycle": pl.String,
            "window_first": pl.Date,
            "window_last": pl.Date,
        },
        orient="row",
    )


def _missing_months(
    relevant: pl.DataFrame, bounds: pl.DataFrame, coverage: pl.DataFrame
) -> pl.DataFrame:
    """:attr:`Completeness.missing`: the months of each gap's window, from the entity's first
    month onward, in which it has no rows."""
    import polars as pl

    return (
        relevant.join(bounds, on=["source", "window_kind", "window_cycle"])
        .with_columns(
            month=pl.date_ranges(
                pl.max_horizontal("first_month", "window_first"), "window_last", "1mo"
            )
        )
        .explode("month")
        .join(coverage, on=["source", "entity", "month"], how="anti")
        .select(
            "source",
            pl.when(pl.col("entity") == "").then(None).otherwise("entity").alias("entity"),
            "window_kind",
            "window_cycle",
            "month",
        )
        .sort("source", "entity", "window_kind", "window_cycle", "month", nulls_last=True)
    )


def _flagged(
    relevant: pl.DataFrame, hierarchy: Hierarchy, targets: set[str]
) -> set[tuple[str, str, str, str]]:
    """(source, window_kind, window_cycle, entity) of each of ``targets`` that is, or is an
    ancestor of, an entity with a gap."""
    known = set(hierarchy.depth)
    parents = hierarchy.parent
    flagged: set[tuple[str, str, str, str]] = set()
    for source, entity, kind, cycle in relevant.select(
        "source", "entity", "window_kind", "window_cycle"
    ).iter_rows():
        if entity == "":  # a group-wide source: everyone
            flagged.update((source, kind, cycle, e) for e in targets)
            continue
        current: str | None = entity
        while current is not None and current in known:
            if current in targets:
                flagged.add((source, kind, cycle, current))
            parent = parents.get(current)
            current = parent if parent != current else None
    return flagged


def _flag_frame(flagged: set[tuple[str, str, str, str]]) -> pl.DataFrame:
    """:attr:`Completeness.flags`: ``flagged`` as a sorted frame."""
    import polars as pl

    return pl.DataFrame(
        sorted(flagged),
        schema={
            "source": pl.String,
            "window_kind": pl.String,
            "window_cycle": pl.String,
            "entity": pl.String,
        },
        orient="row",
    )
