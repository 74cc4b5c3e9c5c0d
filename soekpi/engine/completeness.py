"""Data completeness of monthly returns (SPEC §3.4).

An entity *reports* to a ``cadence: monthly`` source when it has rows in it at some time.
For each window a KPI reads, every reporting entity must have rows in each of the window's
months from its own first month in the source onward; a month it misses makes the KPI
``incomplete`` for that entity and every ancestor (the value is still computed and shown).
A group-wide monthly source (no entity_column) reports as the whole group: a month without
rows makes every entity incomplete.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

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
    coverage: pl.DataFrame,
    windows: Mapping[str, Iterable[Window]],
    closure: Sequence[tuple[str, str]],
) -> Completeness:
    """Missing months and incomplete flags from the month coverage of monthly sources.

    ``coverage``: source, entity, month (entity "" for a group-wide source); ``windows``: the
    windows each monthly source is read over; ``closure``: (ancestor, descendant) pairs.
    """
    import polars as pl

    first = coverage.group_by("source", "entity").agg(pl.col("month").min().alias("first"))
    earliest = {
        row["source"]: row["first"]
        for row in first.group_by("source").agg(pl.col("first").min()).iter_rows(named=True)
    }
    expected_rows = [
        (source, w.kind, w.cycle, month)
        for source in sorted(windows)
        if source in earliest
        for w in sorted(set(windows[source]))
        for month in w.months(since=earliest[source])
    ]
    expected = pl.DataFrame(
        expected_rows,
        schema={
            "source": pl.String,
            "window_kind": pl.String,
            "window_cycle": pl.String,
            "month": pl.Date,
        },
        orient="row",
    )
    pairs = pl.DataFrame(
        list(closure), schema={"ancestor": pl.String, "entity": pl.String}, orient="row"
    )
    known = pairs.select("entity").unique()
    reporters = pl.concat(
        [
            first.join(known, on="entity", how="semi"),
            first.filter(pl.col("entity") == ""),  # group-wide sources
        ]
    )
    missing = (
        reporters.join(expected, on="source", how="inner")
        .filter(pl.col("month") >= pl.col("first"))
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
    windowed = missing.select("source", "window_kind", "window_cycle", "entity").unique()
    everyone = pairs.select(pl.col("ancestor").unique().alias("entity"))
    flags = pl.concat(
        [
            windowed.filter(pl.col("entity").is_not_null())
            .join(pairs, on="entity")
            .select("source", "window_kind", "window_cycle", pl.col("ancestor").alias("entity")),
            windowed.filter(pl.col("entity").is_null()).drop("entity").join(everyone, how="cross"),
        ]
    ).unique()
    return Completeness(missing=missing, flags=flags)
