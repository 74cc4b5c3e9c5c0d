"""KPI algebra in Polars (SPEC §3.3–§3.5): values, thresholds, composite scores, status.

Everything happens on one wide frame with a row per (entity, cycle) and a column per measure
window (``m|<measure>|<window>``), per KPI value (``v|<kpi>``), per KPI completeness flag
(``i|<kpi>``) and per applied threshold (``g|<kpi>``, ``a|<kpi>``). KPIs are added in
dependency order, so a derived, growth or composite KPI finds its inputs already there. All
arithmetic is element-wise in a fixed order, so results are the same bits on every run.

Choices where the SPEC is silent:

- ``scale`` multiplies simple, ratio and derived values; growth is a percentage and a
  composite a 0–100 index by definition, so their ``scale`` is not applied.
- ``min`` and ``max`` in derived expressions are null when an argument is null (like
  ``+ - * /``); ``coalesce`` is the way to give a null input a default.
- Growth is ``incomplete`` when its input is incomplete in either of the two cycles it compares.
- A composite component whose green threshold is 0 (higher is better) scores 100 when its
  value is ≥ 0, else 0.
- Values that are not finite (an overflow) are null.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from soekpi.base.calendar import Cycle
from soekpi.catalogue.formula import BinOp, Call, Formula, Neg, Num, Ref, parse_formula
from soekpi.catalogue.model import Catalogue, Kpi

if TYPE_CHECKING:
    import polars as pl

STATUSES = ("green", "amber", "red", "no_data", "incomplete", "untracked")


@dataclass(frozen=True)
class KpiFrames:
    """The KPIs and cycles asked for at every entity, sorted by entity, kpi, cycle (and
    component)."""

    values: pl.DataFrame  # kpi, entity, cycle, value, status, green, amber, unit
    components: (
        pl.DataFrame
    )  # kpi, entity, cycle, component, weight, value, green, score, contribution


def measure_column(measure: str, window: str) -> str:
    """The wide frame's column of a measure over a window kind."""
    return f"m|{measure}|{window}"


def flag_column(source: str, window: str) -> str:
    """The wide frame's column saying a monthly source misses months in a window."""
    return f"f|{source}|{window}"


#: KPI values keep this many significant digits. Floating-point results can differ in the
#: last bit with the shape of the frame they were computed in (one cycle for ``verify``,
#: eight for a report's trend); rounding makes every code path give the same number.
SIGNIFICANT_DIGITS = 12


def _finite(expr: pl.Expr) -> pl.Expr:
    """The value rounded to SIGNIFICANT_DIGITS, or null when it is not a finite number."""
    import polars as pl

    return pl.when(expr.is_finite()).then(expr.round_sig_figs(SIGNIFICANT_DIGITS))


def _divide(num: pl.Expr, den: pl.Expr) -> pl.Expr:
    import polars as pl

    return pl.when(den.is_null() | (den == 0)).then(None).otherwise(num * _reciprocal(den))


def _reciprocal(den: pl.Expr) -> pl.Expr:
    """``1 / den``: divide as ``x * (1 / den)``, never ``x / den``.

    Polars divides by a broadcast literal (a threshold, a weight) as a multiplication by its
    reciprocal, but by a column exactly, so ``x / den`` gave different last bits depending on
    whether ``den`` happened to be a literal in that frame — and a report (eight cycles) then
    disagreed with ``verify`` (one cycle) on a composite index. ``x * (1 / den)`` is the
    same bits on both paths."""
    return 1.0 / den


def formula_expr(formula: Formula) -> pl.Expr:
    """A derived KPI's formula as a Polars expression over ``v|<kpi>`` columns (never eval)."""
    import polars as pl

    if isinstance(formula, Num):
        return pl.lit(formula.value, dtype=pl.Float64)
    if isinstance(formula, Ref):
        return pl.col(f"v|{formula.name}")
    if isinstance(formula, Neg):
        return -formula_expr(formula.operand)
    if isinstance(formula, BinOp):
        left, right = formula_expr(formula.left), formula_expr(formula.right)
        if formula.op == "+":
            return left + right
        if formula.op == "-":
            return left - right
        if formula.op == "*":
            return left * right
        return _divide(left, right)
    if isinstance(formula, Call):
        args = [formula_expr(a) for a in formula.args]
        if formula.func == "abs":
            return args[0].abs()
        if formula.func == "coalesce":
            return pl.coalesce(args)
        any_null = pl.any_horizontal([a.is_null() for a in args])
        pick = pl.min_horizontal(args) if formula.func == "min" else pl.max_horizontal(args)
        return pl.when(any_null).then(None).otherwise(pick)
    raise TypeError(f"not a formula: {formula!r}")


def threshold_exprs(catalogue: Catalogue, kpi: Kpi) -> tuple[pl.Expr, pl.Expr]:
    """Green and amber for each row (columns ``entity``, ``fiscal_year``), SPEC §3.5: entity
    and fiscal year, then entity, then fiscal year, then the KPI's own thresholds."""
    import polars as pl

    rows = [t for t in catalogue.targets if t.kpi == kpi.id]
    tiers = (
        [t for t in rows if t.entity is not None and t.fiscal_year is not None],
        [t for t in rows if t.entity is not None and t.fiscal_year is None],
        [t for t in rows if t.entity is None and t.fiscal_year is not None],
        [t for t in rows if t.entity is None and t.fiscal_year is None],
    )
    own = kpi.thresholds
    green: pl.Expr = pl.lit(own.green if own else None, dtype=pl.Float64)
    amber: pl.Expr = pl.lit(own.amber if own else None, dtype=pl.Float64)
    # Build from the least specific tier up, so the most specific condition is tested first.
    for tier in reversed(tiers):
        for target in reversed(tier):
            cond = pl.lit(True)
            if target.entity is not None:
                cond = cond & (pl.col("entity") == target.entity)
            if target.fiscal_year is not None:
                cond = cond & (pl.col("fiscal_year") == target.fiscal_year)
            green = pl.when(cond).then(pl.lit(float(target.green))).otherwise(green)
            amber = pl.when(cond).then(pl.lit(float(target.amber))).otherwise(amber)
    return green, amber


def status_expr(
    value: pl.Expr, incomplete: pl.Expr, green: pl.Expr, amber: pl.Expr, direction: str
) -> pl.Expr:
    """SPEC §3.4, first match wins: no_data, incomplete, untracked, then the colour."""
    import polars as pl

    if direction == "lower_is_better":
        is_green, is_amber = value <= green, value <= amber
    else:
        is_green, is_amber = value >= green, value >= amber
    return (
        pl.when(value.is_null())
        .then(pl.lit("no_data"))
        .when(incomplete)
        .then(pl.lit("incomplete"))
        .when(green.is_null())
        .then(pl.lit("untracked"))
        .when(is_green)
        .then(pl.lit("green"))
        .when(is_amber)
        .then(pl.lit("amber"))
        .otherwise(pl.lit("red"))
    )


def score_expr(value: pl.Expr, green: pl.Expr, direction: str) -> pl.Expr:
    """A composite component's 0–100 score (SPEC §3.3); null without value or green."""
    import polars as pl

    if direction == "lower_is_better":
        score = (
            pl.when(value <= 0)
            .then(100.0)
            .otherwise((100 * green * _reciprocal(value)).clip(None, 100))
        )
    else:
        score = (
            pl.when(green == 0)
            .then(pl.when(value >= 0).then(100.0).otherwise(0.0))
            .otherwise((100 * value * _reciprocal(green)).clip(0, 100))
        )
    return pl.when(value.is_null() | green.is_null()).then(None).otherwise(score)


def compute_kpis(
    catalogue: Catalogue,
    kpi_ids: Sequence[str],
    cycles: Sequence[Cycle],
    entities: Sequence[str],
    measures: pl.DataFrame,
    flags: pl.DataFrame,
    out_kpis: Sequence[str],
    out_cycles: Sequence[str],
) -> KpiFrames:
    """Every KPI of ``kpi_ids`` (a dependency-closed list) for every entity and cycle; the
    result holds those of ``out_kpis`` (sorted ids) in ``out_cycles`` (sorted names).

    ``measures``: entity, cycle and a column ``m|<measure>|<window kind>`` per measure and
    window (:class:`~soekpi.engine.measures.MeasureValues`).
    ``flags``: source, window_kind, window_cycle, entity — the (ancestor) entities whose
    subtree misses a month of a monthly source in that window.
    """
    ids = sorted(set(entities))
    frame = _with_flags(_with_measures(_grid(cycles, ids), measures), flags)
    for kpi_id in kpi_ids:
        frame = _with_kpi(catalogue, catalogue.kpis[kpi_id], frame)
    return _kpi_frames(catalogue, frame, len(ids), out_kpis, out_cycles)


def _grid(cycles: Sequence[Cycle], ids: list[str]) -> pl.DataFrame:
    """The wide frame's rows: entity, cycle and the cycle's fiscal year and earlier cycles."""
    import polars as pl

    by_name = {c.name: c for c in cycles}
    # A row per entity and cycle, sorted: the order measures come in (and go out).
    names = sorted(by_name)
    return pl.DataFrame(
        {"entity": [e for e in ids for _ in names], "cycle": [n for _ in ids for n in names]},
        schema={"entity": pl.String, "cycle": pl.String},
    ).with_columns(
        fiscal_year=pl.col("cycle").replace_strict(
            {n: c.year for n, c in by_name.items()}, return_dtype=pl.Int64
        ),
        previous_cycle=pl.col("cycle").replace_strict(
            {n: c.previous().name for n, c in by_name.items()}, return_dtype=pl.String
        ),
        same_cycle_last_year=pl.col("cycle").replace_strict(
            {n: c.same_cycle_last_year().name for n, c in by_name.items()},
            return_dtype=pl.String,
        ),
    )


def _with_measures(frame: pl.DataFrame, measures: pl.DataFrame) -> pl.DataFrame:
    """The measure columns added: side by side when the rows match, else joined."""
    keys = ["entity", "cycle"]
    if measures.width > 2:
        if measures.select(keys).equals(frame.select(keys)):
            frame = frame.hstack(measures.drop(keys))
        else:
            frame = frame.join(measures, on=keys, how="left")
    return frame


def _with_flags(frame: pl.DataFrame, flags: pl.DataFrame) -> pl.DataFrame:
    """A ``f|<source>|<window kind>`` column (true or null) per flagged source and window."""
    import polars as pl

    if not flags.height:
        return frame
    wide_flags = (
        flags.unique()
        .with_columns(key=pl.format("f|{}|{}", "source", "window_kind"), flag=pl.lit(True))
        .pivot(
            on="key",
            index=["entity", "window_cycle"],
            values="flag",
            aggregate_function="first",
        )
        .rename({"window_cycle": "cycle"})
    )
    return frame.join(wide_flags, on=["entity", "cycle"], how="left")


def _with_kpi(catalogue: Catalogue, kpi: Kpi, frame: pl.DataFrame) -> pl.DataFrame:
    """The KPI's thresholds, value and completeness flag added (``g|``, ``a|``, ``v|``, ``i|``)."""
    green, amber = threshold_exprs(catalogue, kpi)
    frame = frame.with_columns(green.alias(f"g|{kpi.id}"), amber.alias(f"a|{kpi.id}"))
    if kpi.type == "growth":
        return _growth(kpi, frame)
    if kpi.type == "composite":
        return _composite(catalogue, kpi, frame)
    value, incomplete = _kpi_value(catalogue, kpi, set(frame.columns))
    return frame.with_columns(_finite(value).alias(f"v|{kpi.id}"), incomplete.alias(f"i|{kpi.id}"))


def _growth(kpi: Kpi, frame: pl.DataFrame) -> pl.DataFrame:
    """A growth KPI: its input now against the cycle it compares with, in percent."""
    import polars as pl

    assert kpi.of is not None
    on = "previous_cycle" if kpi.compare == "previous_cycle" else "same_cycle_last_year"
    earlier = frame.select(
        "entity",
        pl.col("cycle").alias(on),
        pl.col(f"v|{kpi.of}").alias("__earlier"),
        pl.col(f"i|{kpi.of}").alias("__earlier_incomplete"),
    )
    frame = frame.join(earlier, on=["entity", on], how="left")
    now, before = pl.col(f"v|{kpi.of}"), pl.col("__earlier")
    value = (
        pl.when(now.is_null() | before.is_null() | (before == 0))
        .then(None)
        .otherwise((now - before) * _reciprocal(before.abs()) * 100)
    )
    incomplete = pl.col(f"i|{kpi.of}") | pl.col("__earlier_incomplete").fill_null(False)
    return frame.with_columns(
        _finite(value).alias(f"v|{kpi.id}"), incomplete.alias(f"i|{kpi.id}")
    ).drop("__earlier", "__earlier_incomplete")


def _kpi_frames(
    catalogue: Catalogue,
    frame: pl.DataFrame,
    entity_count: int,
    out_kpis: Sequence[str],
    out_cycles: Sequence[str],
) -> KpiFrames:
    """The values and components of ``out_kpis`` in ``out_cycles``, in entity, kpi, cycle
    order."""
    import polars as pl

    # The rows asked for, by entity and cycle; each KPI's (and component's) rows come out
    # in that order and are interleaved into entity, kpi, cycle order without a sort.
    rows = frame.filter(pl.col("cycle").is_in(list(out_cycles))).sort("entity", "cycle")
    shape = (entity_count, len(out_cycles))
    values = _entity_major(
        [_long(catalogue.kpis[k], rows) for k in out_kpis],
        [k for k in out_kpis],
        shape,
        VALUE_SCHEMA,
    )
    blocks: list[pl.DataFrame] = []
    block_kpis: list[str] = []
    for kpi_id in out_kpis:
        kpi = catalogue.kpis[kpi_id]
        if kpi.type == "composite":
            for component, weight in sorted((kpi.components or {}).items()):
                blocks.append(_component_rows(kpi, component, weight, rows))
                block_kpis.append(kpi_id)
    return KpiFrames(
        values=values, components=_entity_major(blocks, block_kpis, shape, COMPONENT_SCHEMA)
    )


#: The columns of :attr:`KpiFrames.values` and :attr:`KpiFrames.components`.
VALUE_SCHEMA = {
    "kpi": "String",
    "entity": "String",
    "cycle": "String",
    "value": "Float64",
    "status": "String",
    "green": "Float64",
    "amber": "Float64",
    "unit": "String",
}
COMPONENT_SCHEMA = {
    "kpi": "String",
    "entity": "String",
    "cycle": "String",
    "component": "String",
    "weight": "Float64",
    "value": "Float64",
    "green": "Float64",
    "score": "Float64",
    "contribution": "Float64",
}


def _entity_major(
    blocks: Sequence[pl.DataFrame],
    block_kpis: Sequence[str],
    shape: tuple[int, int],
    schema: dict[str, str],
) -> pl.DataFrame:
    """``blocks`` — each with a row per (entity, cycle) in entity, cycle order; block i
    belongs to KPI ``block_kpis[i]``, blocks in kpi (then component) order — as one frame in
    entity, kpi, cycle, block order: one gather, where sorting 1.25 M rows by three text
    columns took a good part of a second."""
    import polars as pl

    empty = pl.DataFrame(schema={k: getattr(pl, v) for k, v in schema.items()})
    stacked = pl.concat([empty, *blocks])
    entities, cycles = shape
    per_block = entities * cycles
    if any(b.height != per_block for b in blocks):  # not one row per (entity, cycle)
        return stacked.sort(["entity", "kpi", "cycle", *(k for k in schema if k == "component")])
    # For one entity: kpi by kpi, cycle by cycle, that KPI's blocks; the offset of row
    # (entity e, cycle c) in block b is b * per_block + e * cycles + c.
    pattern: list[int] = []
    first = 0
    while first < len(blocks):
        last = first
        while last + 1 < len(blocks) and block_kpis[last + 1] == block_kpis[first]:
            last += 1
        for c in range(cycles):
            pattern += [b * per_block + c for b in range(first, last + 1)]
        first = last + 1
    if not pattern or not entities:
        return stacked
    order = pl.int_range(entities * len(pattern), eager=True, dtype=pl.Int64)
    offsets = pl.Series(pattern, dtype=pl.Int64)
    index = offsets.gather(order % len(pattern)) + (order // len(pattern)) * cycles
    return stacked[index]


def _column(available: set[str], name: str, dtype: type[pl.DataType] | None = None) -> pl.Expr:
    """Column ``name``, or a null literal when the frame does not have it (no rows at all)."""
    import polars as pl

    if name in available:
        return pl.col(name)
    return pl.lit(None, dtype=dtype or pl.Float64)


def _kpi_value(catalogue: Catalogue, kpi: Kpi, available: set[str]) -> tuple[pl.Expr, pl.Expr]:
    """Value and incompleteness of a simple, ratio or derived KPI (others: placeholders)."""
    import polars as pl

    scale = float(kpi.scale)
    incomplete: pl.Expr = pl.lit(False)
    for source in sorted({catalogue.measures[m].source for m in kpi.measure_inputs}):
        if catalogue.sources[source].cadence == "monthly":
            flag = _column(available, flag_column(source, kpi.window), pl.Boolean)
            incomplete = incomplete | flag.fill_null(False)
    if kpi.type == "simple":
        assert kpi.measure is not None
        return _column(available, measure_column(kpi.measure, kpi.window)) * scale, incomplete
    if kpi.type == "ratio":
        assert kpi.numerator is not None and kpi.denominator is not None
        num = _column(available, measure_column(kpi.numerator, kpi.window))
        den = _column(available, measure_column(kpi.denominator, kpi.window))
        return _divide(num, den) * scale, incomplete
    if kpi.type == "derived":
        assert kpi.expr is not None
        for dep in kpi.kpi_inputs:
            incomplete = incomplete | pl.col(f"i|{dep}")
        return formula_expr(parse_formula(kpi.expr)) * scale, incomplete
    return pl.lit(None, dtype=pl.Float64), incomplete


def _composite(catalogue: Catalogue, kpi: Kpi, frame: pl.DataFrame) -> pl.DataFrame:
    """The composite index (SPEC §3.3), with its component scores (``__score|<kpi>|<c>``)
    and the weights it counted (``w|<kpi>``) for :func:`_component_rows`."""
    import polars as pl

    weights = sorted((kpi.components or {}).items())
    scores = [
        score_expr(pl.col(f"v|{c}"), pl.col(f"g|{c}"), catalogue.kpis[c].direction)
        for c, _ in weights
    ]
    frame = frame.with_columns(
        [s.alias(f"__score|{kpi.id}|{c}") for s, (c, _) in zip(scores, weights, strict=True)]
    )
    weighted = [pl.col(f"__score|{kpi.id}|{c}").fill_null(0.0) * float(w) for c, w in weights]
    counted = [
        pl.when(pl.col(f"__score|{kpi.id}|{c}").is_null()).then(0.0).otherwise(float(w))
        for c, w in weights
    ]
    # A left fold of binary additions, not pl.sum_horizontal: its summation order depends on
    # the frame's size, so the same index differed in its last bits between a one-cycle
    # compute and a report's eight cycles (and then across the 12-digit rounding).
    total = functools.reduce(operator.add, counted, pl.lit(0.0))
    index = _divide(functools.reduce(operator.add, weighted, pl.lit(0.0)), total)
    incomplete: pl.Expr = pl.lit(False)
    for c, _ in weights:
        incomplete = incomplete | pl.col(f"i|{c}")
    return frame.with_columns(
        _finite(index).alias(f"v|{kpi.id}"),
        incomplete.alias(f"i|{kpi.id}"),
        total.alias(f"w|{kpi.id}"),
    )


def _component_rows(kpi: Kpi, component: str, weight: float, frame: pl.DataFrame) -> pl.DataFrame:
    """One component's breakdown rows of composite ``kpi`` in the wide frame's row order."""
    import polars as pl

    score = pl.col(f"__score|{kpi.id}|{component}")
    return frame.select(
        pl.lit(kpi.id).alias("kpi"),
        "entity",
        "cycle",
        pl.lit(component).alias("component"),
        pl.lit(float(weight)).alias("weight"),
        pl.col(f"v|{component}").alias("value"),
        pl.col(f"g|{component}").alias("green"),
        score.alias("score"),
        _divide(score * float(weight), pl.col(f"w|{kpi.id}")).alias("contribution"),
    )


def _long(kpi: Kpi, frame: pl.DataFrame) -> pl.DataFrame:
    """One KPI's rows of the wide frame: kpi, entity, cycle, value, status, green, amber, unit."""
    import polars as pl

    value, green, amber = (pl.col(f"{p}|{kpi.id}") for p in ("v", "g", "a"))
    return frame.select(
        pl.lit(kpi.id).alias("kpi"),
        "entity",
        "cycle",
        value.alias("value"),
        status_expr(value, pl.col(f"i|{kpi.id}"), green, amber, kpi.direction).alias("status"),
        green.alias("green"),
        amber.alias("amber"),
        pl.lit(kpi.unit).alias("unit"),
    )
