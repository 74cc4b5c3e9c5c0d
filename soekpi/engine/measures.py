"""Run the measure plan on the sandbox and pull only the aggregates into Polars.

Transfer goes through ``pl.DataFrame(relation)`` (the Arrow PyCapsule interface), which needs
no pyarrow; every value column is a DOUBLE by then (see :mod:`soekpi.engine.plan`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from soekpi.engine.hierarchy import Entity
from soekpi.engine.plan import COVERAGE, SourceQuery
from soekpi.errors import InputError, RuntimeFailure, SoekpiError
from soekpi.warehouse.schema import quote

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from soekpi.catalogue.model import Catalogue, Source

ProgressFn = Callable[..., Any]


@dataclass(frozen=True)
class MeasureValues:
    """The aggregates of a plan.

    ``values``: measure, entity, window_cycle, window_kind, value (Float64, null) — one row per
    measure, entity and window the plan asked for. ``coverage``: source, entity, month (Date)
    — the months with rows of each monthly source, per entity (group-wide sources: entity "").
    """

    values: pl.DataFrame
    coverage: pl.DataFrame


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
    if isinstance(exc, duckdb.CatalogException | duckdb.BinderException):
        return InputError(
            f"{what}: the warehouse does not match the catalogue ({first}); run 'soekpi check'",
            location,
        )
    return RuntimeFailure(f"{what}: {first}", location)


def read_entities(con: duckdb.DuckDBPyConnection, catalogue: Catalogue) -> list[Entity]:
    """Every row of the ``entities`` source (id, name, name_zh, parent_id)."""
    import duckdb

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
        f"{prefix}SELECT CAST(entity_id AS VARCHAR), CAST(name AS VARCHAR), {name_zh}, "
        f"CAST(parent_id AS VARCHAR) FROM {table} WHERE entity_id IS NOT NULL ORDER BY 1"
    )
    try:
        rows = con.sql(sql).fetchall()
    except duckdb.Error as exc:
        raise _failure(source, "source 'entities'", exc) from None
    return [Entity(str(r[0]), str(r[1] or r[0]), r[2], r[3]) for r in rows]


def evaluate_measures(
    con: duckdb.DuckDBPyConnection,
    catalogue: Catalogue,
    plan: list[SourceQuery],
    progress: ProgressFn | None = None,
) -> MeasureValues:
    """Run every query of ``plan`` on ``con`` (the sandbox) into one long frame."""
    import duckdb
    import polars as pl

    values = []
    coverage = []
    for done, query in enumerate(plan):
        if progress is not None:
            progress(done, len(plan), f"measures: {query.source}")
        try:
            frame = pl.DataFrame(con.sql(query.sql))
        except duckdb.Error as exc:
            source = catalogue.sources.get(query.source)
            raise _failure(source, f"source '{query.source}'", exc) from None
        except SoekpiError as exc:  # another engine's failure (Spark), already translated
            source = catalogue.sources.get(query.source)
            raise type(exc)(
                f"source '{query.source}': {exc.message}", source.location if source else None
            ) from None
        names = {f"m{i}": m for i, m in enumerate(query.measures)}
        if query.coverage:
            is_cov = pl.col("window_kind") == COVERAGE
            coverage.append(
                frame.filter(is_cov).select(pl.lit(query.source).alias("source"), "entity", "month")
            )
            frame = frame.filter(~is_cov)
        if names:
            values.append(
                frame.select(
                    "entity", "window_cycle", "window_kind", pl.col(*names).cast(pl.Float64)
                )
                .rename(names)
                .unpivot(
                    index=["entity", "window_cycle", "window_kind"],
                    variable_name="measure",
                    value_name="value",
                )
            )
    if progress is not None:
        progress(len(plan), len(plan), "measures")
    value_schema = {
        "measure": pl.String,
        "entity": pl.String,
        "window_cycle": pl.String,
        "window_kind": pl.String,
        "value": pl.Float64,
    }
    coverage_schema = {"source": pl.String, "entity": pl.String, "month": pl.Date}
    return MeasureValues(
        values=pl.concat(
            [pl.DataFrame(schema=value_schema), *(v.select(*value_schema) for v in values)]
        ),
        coverage=pl.concat(
            [pl.DataFrame(schema=coverage_schema), *(c.cast(coverage_schema) for c in coverage)]  # type: ignore[arg-type]
        ),
    )
