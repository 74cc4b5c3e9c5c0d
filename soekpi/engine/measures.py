"""Run the measure plan on the sandbox and pull only the aggregates into Polars.

Transfer goes through ``pl.DataFrame(relation)`` (the Arrow PyCapsule interface), which needs
no pyarrow; every value column is a DOUBLE by then (see :mod:`soekpi.engine.plan`). Values
are kept wide, one row per (entity, cycle), because that is the shape the KPI algebra works
on: pivoting a long frame of a large group costs seconds. Each source's values wait on disk
(:func:`run_measures`) while the other sources' queries run.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soekpi.base.errors import InputError, RuntimeFailure, SoekpiError, WarehouseOutOfMemory
from soekpi.base.sqltext import quote
from soekpi.engine.plan import COVERAGE, GAP, VALUE, SourceQuery

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from soekpi.catalogue.model import Catalogue, Source

ProgressFn = Callable[..., Any]


@dataclass(frozen=True)
class MeasureValues:
    """The aggregates of a plan.

    ``values``: one row per (entity, cycle) with a Float64 column ``m|<measure>|<window
    kind>`` per measure and window (see :meth:`long` for one row per value). ``gaps``: source,
    entity, window_kind, window_cycle, first_month — the (entity, window) pairs in which an
    entity misses a month of a monthly source (entity "" for a group-wide source).
    ``coverage``: source, entity, month — the months with rows of the entities in ``gaps``.
    """

    values: pl.DataFrame
    gaps: pl.DataFrame
    coverage: pl.DataFrame

    def long(self) -> pl.DataFrame:
        """measure, entity, window_cycle, window_kind, value: one row per value."""
        import polars as pl

        return (
            self.values.unpivot(index=["entity", "cycle"], variable_name="key")
            .with_columns(parts=pl.col("key").str.split("|"))
            .select(
                pl.col("parts").list.get(1).alias("measure"),
                "entity",
                pl.col("cycle").alias("window_cycle"),
                pl.col("parts").list.get(2).alias("window_kind"),
                pl.col("value").cast(pl.Float64),
            )
            .sort("measure", "entity", "window_cycle", "window_kind")
        )


def _failure(source: Source | None, what: str, exc: Exception) -> SoekpiError:
    """A DuckDB error as a located soekpi error."""
    import duckdb

    first = (str(exc).splitlines() or [type(exc).__name__])[0]
    location = source.location if source is not None else None
    if isinstance(exc, duckdb.PermissionException):
        return InputError(
            f"{what}: catalogue SQL tried to reach outside the warehouse, which is not "
            f"allowed: {first}",
            location,
        )
    if isinstance(exc, duckdb.OutOfMemoryException):
        return WarehouseOutOfMemory(f"{what}: {first}", location)
    if isinstance(exc, duckdb.CatalogException | duckdb.BinderException):
        return InputError(
            f"{what}: the warehouse does not match the catalogue ({first}); run 'soekpi check'",
            location,
        )
    return RuntimeFailure(f"{what}: {first}", location)


def read_entities(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> pl.DataFrame:
    """Every row of the ``entities`` source: entity_id, name (the id when empty), name_zh,
    parent_id — as text, ordered by entity_id."""
    import duckdb
    import polars as pl

    source = catalogue.sources.get("entities")
    if source is None:
        raise InputError(
            "the catalogue has no 'entities' source; the hierarchy comes from it "
            "(columns entity_id, name, parent_id)"
        )
    name_zh = "CAST(name_zh AS VARCHAR)" if "name_zh" in source.columns else "NULL"
    table = quote(source.table_name)
    prefix = ""
    if source.is_view:
        table = quote(source.id)
        prefix = f"WITH {table} AS ({(source.sql or '').strip().rstrip(';')}) "
    sql = (
        f"{prefix}SELECT CAST(entity_id AS VARCHAR) AS entity_id, "
        "COALESCE(NULLIF(CAST(name AS VARCHAR), ''), CAST(entity_id AS VARCHAR)) AS name, "
        f"{name_zh} AS name_zh, CAST(parent_id AS VARCHAR) AS parent_id "
        f"FROM {table} WHERE entity_id IS NOT NULL ORDER BY 1"
    )
    schema = {
        "entity_id": pl.String,
        "name": pl.String,
        "name_zh": pl.String,
        "parent_id": pl.String,
    }
    try:
        return pl.DataFrame(con.sql(sql)).cast(schema)  # type: ignore[arg-type]
    except duckdb.Error as exc:
        raise _failure(source, "source 'entities'", exc) from None


def _side_by_side(left: pl.DataFrame, right: pl.DataFrame) -> pl.DataFrame:
    """``left`` and ``right`` (entity, cycle, value columns; sorted by entity and cycle)
    joined on entity and cycle. Every source and window kind usually has the same rows — a
    row per ancestor and cycle — and then they are put side by side, no join needed."""
    keys = ["entity", "cycle"]
    if left.height == right.height and left.select(keys).equals(right.select(keys)):
        return left.hstack(right.drop(keys))
    return left.join(right, on=keys, how="full", coalesce=True).sort(keys)


def evaluate_measures(
    con: duckdb.DuckDBPyConnection,
    catalogue: Catalogue,
    plan: list[SourceQuery],
    progress: ProgressFn | None = None,
) -> MeasureValues:
    """Run every query of ``plan`` on ``con`` (the sandbox); only aggregates come back."""
    with tempfile.TemporaryDirectory(prefix="soekpi-measures-") as folder:
        return run_measures(con, catalogue, plan, Path(folder), progress).load()


@dataclass(frozen=True)
class PendingMeasures:
    """What :func:`run_measures` leaves: the value frames as Arrow IPC ``files`` (in the
    order they are combined) and the small gap and coverage frames."""

    files: list[Path]
    gaps: pl.DataFrame
    coverage: pl.DataFrame

    def load(self) -> MeasureValues:
        """The values read back and put side by side (the files stay where they are)."""
        import polars as pl

        values: pl.DataFrame | None = None
        for path in self.files:
            wide = pl.read_ipc(path)
            values = wide if values is None else _side_by_side(values, wide)
        return MeasureValues(
            values=(
                values
                if values is not None
                else pl.DataFrame(schema={"entity": pl.String, "cycle": pl.String})
            ),
            gaps=self.gaps,
            coverage=self.coverage,
        )


def run_measures(
    con: duckdb.DuckDBPyConnection,
    catalogue: Catalogue,
    plan: list[SourceQuery],
    folder: Path,
    progress: ProgressFn | None = None,
) -> PendingMeasures:
    """Run every query of ``plan`` on ``con`` (the sandbox), writing each value frame to
    ``folder`` as soon as it is made: while the later queries run, DuckDB has the memory
    the values of the earlier ones would hold (a group of 240,000 entities: 125 MB, and
    more in the allocators). :meth:`PendingMeasures.load` reads them back, after the
    connection is closed."""
    import polars as pl

    files: list[Path] = []
    gaps: list[pl.DataFrame] = []
    coverage: list[pl.DataFrame] = []
    for done, query in enumerate(plan):
        if progress is not None:
            progress(done, len(plan), f"measures: {query.source}")
        frame = _run_query(con, catalogue, query)
        if query.coverage:
            gaps.append(_gap_rows(frame, query.source))
            coverage.append(_coverage_rows(frame, query.source))
        rows = frame.filter(pl.col("part") == VALUE)
        del frame
        if rows.height:
            files.append(_write_values(rows, query, folder / f"{len(files)}.arrow"))
    if progress is not None:
        progress(len(plan), len(plan), "measures")
    return _pending(files, gaps, coverage)


def _run_query(
    con: duckdb.DuckDBPyConnection, catalogue: Catalogue, query: SourceQuery
) -> pl.DataFrame:
    """The rows of ``query``; a failure as a soekpi error located at its source."""
    import duckdb
    import polars as pl

    try:
        return pl.DataFrame(con.sql(query.sql))
    except duckdb.Error as exc:
        source = catalogue.sources.get(query.source)
        raise _failure(source, f"source '{query.source}'", exc) from None
    except SoekpiError as exc:  # another engine's failure (Spark), already translated
        source = catalogue.sources.get(query.source)
        raise type(exc)(
            f"source '{query.source}': {exc.message}", source.location if source else None
        ) from None


def _gap_rows(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """The ``gap`` rows of a query's result, as rows of :attr:`MeasureValues.gaps`."""
    import polars as pl

    return frame.filter(pl.col("part") == GAP).select(
        pl.lit(source).alias("source"),
        "entity",
        "window_kind",
        "window_cycle",
        pl.col("month").alias("first_month"),
    )


def _coverage_rows(frame: pl.DataFrame, source: str) -> pl.DataFrame:
    """The ``coverage`` rows of a query's result, as rows of :attr:`MeasureValues.coverage`."""
    import polars as pl

    return frame.filter(pl.col("part") == COVERAGE).select(
        pl.lit(source).alias("source"), "entity", "month"
    )


def _write_values(rows: pl.DataFrame, query: SourceQuery, path: Path) -> Path:
    """The ``value`` rows of ``query`` written wide to ``path``, sorted by entity and cycle."""
    import polars as pl

    rows.select(
        "entity",
        pl.col("window_cycle").alias("cycle"),
        *(pl.col(c).cast(pl.Float64).alias(f"m|{m}|{k}") for c, m, k in query.columns),
    ).sort("entity", "cycle").write_ipc(path)
    return path


def _pending(
    files: list[Path], gaps: list[pl.DataFrame], coverage: list[pl.DataFrame]
) -> PendingMeasures:
    """The value ``files`` and every query's gap and coverage rows, as one frame each."""
    import polars as pl

    gap_schema = {
        "source": pl.String,
        "entity": pl.String,
        "window_kind": pl.String,
        "window_cycle": pl.String,
        "first_month": pl.Date,
    }
    coverage_schema = {"source": pl.String, "entity": pl.String, "month": pl.Date}
    return PendingMeasures(
        files=files,
        gaps=pl.concat([pl.DataFrame(schema=gap_schema), *(g.cast(gap_schema) for g in gaps)]),  # type: ignore[arg-type]
        coverage=pl.concat(
            [pl.DataFrame(schema=coverage_schema), *(c.cast(coverage_schema) for c in coverage)]  # type: ignore[arg-type]
        ),
    )
