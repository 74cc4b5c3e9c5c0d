"""``compute``: the ONE code path for KPI numbers (compute, report, diff and verify use it).

catalogue + cycles → measure plan (one SQL query per source) → run on the sandbox → small
Polars frames → completeness → KPI algebra and status → sorted result.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soekpi.base.calendar import Cycle, resolve_cycle
from soekpi.base.errors import UsageError, WarehouseOutOfMemory
from soekpi.base.text import did_you_mean
from soekpi.engine.hierarchy import Hierarchy, build_hierarchy
from soekpi.engine.plan import Window, window_of

if TYPE_CHECKING:
    import polars as pl

    from soekpi.catalogue.model import Catalogue
    from soekpi.engine.kpis import KpiFrames
    from soekpi.engine.measures import MeasureValues
    from soekpi.workspace import Workspace

#: The keys of a ``compute --format json`` row, in order (SPEC §5).
RECORD_KEYS = ("kpi", "entity", "cycle", "value", "status", "green", "amber", "unit")
#: DuckDB's memory limit for the measure queries when soekpi.yaml sets none. Beyond it
#: DuckDB drops the table blocks it has cached and spills to disk: at 50 M rows compute
#: peaks under 1 GB instead of 3.0 GB, 10-15 % slower than at DuckDB's own limit
#: (benchmarks/README.md). A query that still runs out is run again at DuckDB's own limit
#: (:func:`_measure`).
MEASURE_MEMORY_LIMIT = "500MB"


@dataclass(frozen=True)
class KpiResult:
    """What :func:`compute` returns (docs/architecture.md "Engine result").

    ``values``: kpi, entity, cycle, value, status, green, amber, unit — sorted by entity, kpi,
    cycle in plain string order. ``missing``: source, entity, cycle, month — monthly returns
    missing in the windows the KPIs read (entity null for a group-wide source).
    ``components``: the composite breakdown (kpi, entity, cycle, component, weight, value,
    green, score, contribution). ``hierarchy``: entity_id, name, name_zh, parent_id, depth in
    display order (the root entity first).
    """

    cycles: list[Cycle]
    values: pl.DataFrame
    missing: pl.DataFrame
    components: pl.DataFrame
    hierarchy: pl.DataFrame


def _needed_cycles(
    catalogue: Catalogue, kpi_ids: Sequence[str], cycles: Sequence[Cycle]
) -> list[Cycle]:
    """The cycles asked for plus the earlier ones growth KPIs compare with (transitively)."""
    todo = [(k, c) for k in kpi_ids for c in cycles]
    seen: set[tuple[str, Cycle]] = set()
    while todo:
        kpi_id, cycle = todo.pop()
        if (kpi_id, cycle) in seen:
            continue
        seen.add((kpi_id, cycle))
        kpi = catalogue.kpis[kpi_id]
        todo.extend((dep, cycle) for dep in kpi.kpi_inputs)
        if kpi.type == "growth" and kpi.of:
            earlier = (
                cycle.previous()
                if kpi.compare == "previous_cycle"
                else cycle.same_cycle_last_year()
            )
            todo.append((kpi.of, earlier))
    return sorted({c for _, c in seen})


@dataclass(frozen=True)
class _Measured:
    """What every KPI of a compute is made from: the measures pulled from the warehouse."""

    asked: list[Cycle]
    all_cycles: list[Cycle]
    wanted_kpis: list[str]
    kpi_ids: list[str]
    entities: list[str]  # the entities computed, in hierarchy order
    measures: pl.DataFrame  # entity, cycle, m|<measure>|<window>: sorted by entity, cycle
    flags: pl.DataFrame
    missing: pl.DataFrame
    hierarchy: pl.DataFrame


def _measure(
    ws: Workspace,
    catalogue: Catalogue,
    cycles: list[Cycle],
    entities: list[str] | None,
    kpis: list[str] | None,
    progress: Callable[..., Any] | None,
) -> _Measured:
    """Check the KPIs and entities asked for, run the measure plan, check completeness."""
    import polars as pl

    from soekpi.engine.completeness import check_completeness

    for kpi_id in kpis or []:
        if kpi_id not in catalogue.kpis:
            raise UsageError(
                f"--kpi: '{kpi_id}' is not a KPI of the catalogue"
                f"{did_you_mean(kpi_id, catalogue.kpis)}; 'soekpi kpis' lists them"
            )
    wanted_kpis = sorted(set(kpis)) if kpis else sorted(catalogue.kpis)
    kpi_ids = catalogue.kpi_closure(wanted_kpis)
    asked = sorted(set(cycles))
    all_cycles = _needed_cycles(catalogue, kpi_ids, asked)

    fiscal = ws.fiscal
    measure_windows: dict[str, set[Window]] = {}
    source_windows: dict[str, set[Window]] = {}
    for kpi_id in kpi_ids:
        kpi = catalogue.kpis[kpi_id]
        wins = {window_of(kpi.window, c, fiscal) for c in all_cycles}
        for measure_id in kpi.measure_inputs:
            measure_windows.setdefault(measure_id, set()).update(wins)
            source = catalogue.sources[catalogue.measures[measure_id].source]
            if source.cadence == "monthly" and source.time_column:
                source_windows.setdefault(source.id, set()).update(wins)

    def pull(memory_limit: str | None) -> tuple[pl.DataFrame, Hierarchy, list[str], MeasureValues]:
        coverage = sorted(source_windows)
        return _pull(ws, catalogue, entities, measure_windows, coverage, progress, memory_limit)

    try:
        rows, hierarchy, wanted_entities, measures = pull(MEASURE_MEMORY_LIMIT)
    except WarehouseOutOfMemory as exc:
        # The limit is fixed for a connection's life: the queries run again on a new one.
        limit = ws.warehouse.memory_limit
        if limit is not None:
            raise WarehouseOutOfMemory(
                f"{exc.message}; raise warehouse.memory_limit in soekpi.yaml (now {limit})",
                exc.location,
            ) from None
        rows, hierarchy, wanted_entities, measures = pull(None)

    completeness = check_completeness(
        measures.gaps, measures.coverage, source_windows, hierarchy, wanted_entities
    )
    names = [c.name for c in asked]
    missing = (
        completeness.missing.filter(pl.col("window_cycle").is_in(names))
        .select("source", "entity", pl.col("window_cycle").alias("cycle"), "month")
        .unique()
        .sort("source", "entity", "cycle", "month", nulls_last=True)
    )
    # An id given twice keeps its last row, as in build_hierarchy.
    order = pl.DataFrame(
        {"entity_id": hierarchy.order, "depth": [hierarchy.depth[e] for e in hierarchy.order]},
        schema={"entity_id": pl.String, "depth": pl.Int64},
    )
    frame = order.join(
        rows.unique("entity_id", keep="last", maintain_order=True),
        on="entity_id",
        how="left",
        maintain_order="left",
    ).select("entity_id", "name", "name_zh", "parent_id", "depth")
    return _Measured(
        asked=asked,
        all_cycles=all_cycles,
        wanted_kpis=wanted_kpis,
        kpi_ids=kpi_ids,
        entities=wanted_entities,
        measures=measures.values,
        flags=completeness.flags,
        missing=missing,
        hierarchy=frame,
    )


def _pull(
    ws: Workspace,
    catalogue: Catalogue,
    entities: list[str] | None,
    measure_windows: dict[str, set[Window]],
    coverage_sources: list[str],
    progress: Callable[..., Any] | None,
    memory_limit: str | None,
) -> tuple[pl.DataFrame, Hierarchy, list[str], MeasureValues]:
    """The entities, their hierarchy, the entities asked for (checked) and the measures,
    read on one sandbox connection with DuckDB's ``memory_limit`` (None: its own); the
    values wait in a temporary folder until the connection is closed."""
    import tempfile

    from soekpi.engine.measures import read_entities, run_measures
    from soekpi.engine.plan import closure_sql, plan_measures
    from soekpi.warehouse.sandbox import sandbox

    with tempfile.TemporaryDirectory(prefix="soekpi-measures-") as name:
        folder = Path(name)
        with sandbox(ws, memory_limit=memory_limit) as con:
            rows = read_entities(con, catalogue)
            hierarchy = build_hierarchy(
                rows.select("entity_id", "parent_id").iter_rows(), ws.root_entity
            )
            for entity in entities or []:
                if entity not in hierarchy.depth:
                    raise UsageError(
                        f"--entity: '{entity}' is not an entity of the hierarchy"
                        f"{did_you_mean(entity, hierarchy.depth)}"
                    )
            wanted_entities = (
                [e for e in hierarchy.ids if e in set(entities)] if entities else hierarchy.ids
            )
            entities_source = catalogue.sources["entities"]
            # The closure as SQL: inlined pairs of tens of thousands of entities took seconds
            # to parse in every source query (benchmarks/README.md).
            closure_query = (
                hierarchy.closure(wanted_entities)
                if entities_source.is_view
                else closure_sql(
                    entities_source,
                    max(hierarchy.depth.values(), default=0),
                    wanted_entities if entities else None,
                )
            )
            plan = plan_measures(
                catalogue,
                measure_windows,
                closure_query,
                coverage_sources,
                few_ancestors=entities is not None,
            )
            pending = run_measures(con, catalogue, plan, folder, progress)
        # The connection is closed: the values come back into the memory DuckDB had.
        return rows, hierarchy, wanted_entities, pending.load()


def _kpis_of(measured: _Measured, catalogue: Catalogue, entities: list[str]) -> KpiFrames:
    """The KPI values and components of ``entities`` (some or all of those measured)."""
    import polars as pl

    from soekpi.engine.kpis import compute_kpis

    measures, flags = measured.measures, measured.flags
    if len(entities) < len(measured.entities):
        wanted = pl.col("entity").is_in(entities)
        measures, flags = measures.filter(wanted), flags.filter(wanted)
    return compute_kpis(
        catalogue,
        measured.kpi_ids,
        measured.all_cycles,
        entities,
        measures,
        flags,
        out_kpis=measured.wanted_kpis,
        out_cycles=[c.name for c in measured.asked],
    )


def compute(
    ws: Workspace,
    catalogue: Catalogue,
    cycles: list[Cycle],
    entities: list[str] | None = None,
    kpis: list[str] | None = None,
    progress: Callable[..., Any] | None = None,
) -> KpiResult:
    """Every KPI (or ``kpis``) for every entity of the hierarchy (or ``entities``) and cycle.

    An unknown KPI or entity is a :class:`UsageError` with a did-you-mean hint.

    Example::

        result = compute(ws, load_catalogue(ws), [parse_cycle("FY2026-Q3")])
        result.values.filter(pl.col("status") == "red")
    """
    measured = _measure(ws, catalogue, cycles, entities, kpis, progress)
    frames = _kpis_of(measured, catalogue, measured.entities)
    return KpiResult(
        cycles=measured.asked,
        values=frames.values,
        missing=measured.missing,
        components=frames.components,
        hierarchy=measured.hierarchy,
    )


#: Entities per batch of :func:`compute_values`: bounds the memory of the KPI algebra.
BATCH_ENTITIES = 20_000


def compute_values(
    ws: Workspace,
    catalogue: Catalogue,
    cycles: list[Cycle],
    entities: list[str] | None = None,
    kpis: list[str] | None = None,
    progress: Callable[..., Any] | None = None,
    batch: int = BATCH_ENTITIES,
) -> Iterator[pl.DataFrame]:
    """:func:`compute`'s ``values`` in pieces of at most ``batch`` entities, in order:
    concatenated, the same frame. The measures are pulled from the warehouse now (errors
    are raised here); each piece's KPIs are computed when the iterator reaches it, so a
    group of hundreds of thousands of entities is never held whole."""
    measured = _measure(ws, catalogue, cycles, entities, kpis, progress)
    return _batches(measured, catalogue, max(batch, 1))


def _batches(measured: _Measured, catalogue: Catalogue, batch: int) -> Iterator[pl.DataFrame]:
    ids = sorted(set(measured.entities))
    if not ids:
        yield _kpis_of(measured, catalogue, []).values
    for start in range(0, len(ids), batch):
        yield _kpis_of(measured, catalogue, ids[start : start + batch]).values


def latest_cycle(ws: Workspace, catalogue: Catalogue) -> Cycle | None:
    """SPEC §2 ``latest``: the latest quarter whose last month has rows in every monthly
    source (or every source with a time column when none is monthly); None without data."""
    from soekpi.warehouse.coverage import latest_quarter
    from soekpi.warehouse.sandbox import sandbox

    with sandbox(ws) as con:
        return latest_quarter(con, catalogue, ws.fiscal)


def resolve(ws: Workspace, catalogue: Catalogue, text: str) -> Cycle:
    """A cycle argument (a name, ``previous`` or ``latest``) as a Cycle."""
    return resolve_cycle(text, ws.fiscal, latest=lambda: latest_cycle(ws, catalogue))


def to_records(result: KpiResult) -> list[dict[str, Any]]:
    """The rows of ``compute --format json`` (SPEC §5), keys in order, floats plain (a value
    that is not finite becomes null)."""
    import polars as pl

    finite = [
        pl.when(pl.col(c).is_finite()).then(pl.col(c)).alias(c) for c in ("value", "green", "amber")
    ]
    return result.values.select(RECORD_KEYS).with_columns(finite).to_dicts()


def _json_column(values: Sequence[Any]) -> list[str] | None:
    """Each value as ``json.dumps`` writes it, or None when one is not a plain scalar."""
    from json.encoder import encode_basestring

    types = set(map(type, values))
    if types <= {str}:
        memo = {v: encode_basestring(v) for v in set(values)}
        return list(map(memo.__getitem__, values))
    if not types <= {float, int, bool, type(None)}:
        return None
    # Numbers, booleans and nulls never contain ", ": encode the column in one C call.
    return json.dumps(values)[1:-1].split(", ") if values else []


def records_json(records: list[dict[str, Any]]) -> str:
    """``compute --format json`` text of :func:`to_records` rows: one JSON array, 2-space
    indent, trailing newline."""
    from operator import itemgetter

    # The same bytes as json.dumps(records, indent=2, ensure_ascii=False), whose indenting
    # encoder is pure Python (11 s for the 1.25 M rows of 48,000 entities); here each column
    # is encoded at once, with C-level loops.
    if not records or not all(map(RECORD_KEYS.__eq__, map(tuple, records))):
        return json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    columns = [_json_column(list(map(itemgetter(key), records))) for key in RECORD_KEYS]
    if any(c is None for c in columns):
        return json.dumps(records, indent=2, ensure_ascii=False) + "\n"
    template = "  {\n" + ",\n".join(f"    {json.dumps(k)}: %s" for k in RECORD_KEYS) + "\n  }"
    return "[\n" + ",\n".join(map(template.__mod__, zip(*columns, strict=True))) + "\n]\n"


#: Records per piece of :func:`result_json_chunks`: bounds the memory the text needs.
JSON_CHUNK_ROWS = 50_000


def result_json_chunks(result: KpiResult, rows: int = JSON_CHUNK_ROWS) -> Iterator[bytes]:
    """``compute --format json`` text of a result as UTF-8 pieces of at most ``rows``
    records: joined, the same bytes as ``records_json(to_records(result))``."""
    values = result.values
    if values.height == 0 or not plain_records(values):
        yield records_json(to_records(result)).encode()
        return
    yield from values_json_chunks([values], rows)


def plain_records(values: pl.DataFrame) -> bool:
    """Whether every record key of ``values`` is a text or a float column: what the
    column-wise encoders (JSON here, CSV in report.run) take."""
    import polars as pl

    schema = values.schema
    return all(
        k in schema and (schema[k] == pl.String or schema[k].is_float()) for k in RECORD_KEYS
    )


def float_text(column: pl.Series, missing: str) -> pl.Series:
    """Each float of ``column`` as Python's ``repr`` writes it (what json and csv write);
    ``missing`` for null, NaN and the infinities."""
    import polars as pl

    finite = column.is_not_null() & column.is_finite()
    text = pl.select(pl.when(finite).then(column.cast(pl.String)).otherwise(pl.lit(missing)))
    encoded = text.to_series()
    # Polars writes 1e-05 as 0.00001: Python's repr for the (rare) tiny values.
    tiny = (finite & (column.abs() < 1e-4) & (column != 0)).arg_true()
    if tiny.len():
        encoded = encoded.scatter(tiny, [repr(v) for v in column.gather(tiny).to_list()])
    return encoded


def values_json_chunks(
    frames: Iterable[pl.DataFrame], rows: int = JSON_CHUNK_ROWS
) -> Iterator[bytes]:
    """``compute --format json`` text of the records of ``frames`` (values frames as
    :func:`compute_values` yields them: every key a text or a float column), one after the
    other, as UTF-8 pieces of at most ``rows`` records.

    Built column by column in Polars (1.25 M rows of 48,000 entities in well under a second,
    where dicts and json took 5 s), one piece at a time, so the whole text (250 MB there) is
    never held; two pieces are encoded at a time (Polars works without the GIL), a few
    ahead of the write at most."""
    from collections import deque
    from concurrent.futures import Future, ThreadPoolExecutor

    started = False
    with ThreadPoolExecutor(max_workers=2) as pool:
        ahead: deque[Future[bytes]] = deque()
        for frame in frames:
            for piece in frame.select(RECORD_KEYS).iter_slices(rows):
                if not started:
                    yield b"[\n"
                ahead.append(pool.submit(_encoded_piece, piece, not started))
                started = True
                if len(ahead) > 2:
                    yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()
    yield b"\n]\n" if started else b"[]\n"


def _encoded_piece(values: pl.DataFrame, first: bool) -> bytes:
    return (("" if first else ",\n") + _encoded(values)).encode()


#: What ``json.dumps`` escapes in a string (ensure_ascii=False): quote, backslash, controls.
_JSON_ESCAPED = re.compile(r'[\x00-\x1f\\"]')


def _encoded(values: pl.DataFrame) -> str:
    """The records of ``values`` (RECORD_KEYS, each text or a float) as indented JSON
    objects joined by ``",\\n"``."""
    from json.encoder import encode_basestring

    import polars as pl

    texts: list[pl.Expr] = []
    for key in RECORD_KEYS:
        column = values.get_column(key)
        if column.dtype == pl.String:
            uniques = column.drop_nulls().unique().to_list()
            if not _JSON_ESCAPED.search("".join(uniques)):  # ids, names: quotes around
                text = pl.concat_str([pl.lit('"'), pl.col(key), pl.lit('"')]).fill_null("null")
            else:
                memo = {v: encode_basestring(v) for v in uniques}
                text = pl.lit(column.replace_strict(memo, return_dtype=pl.String))
                text = text.fill_null("null")
        else:
            text = pl.lit(float_text(column, "null"))
        texts.append(text)
    parts: list[pl.Expr] = []
    for i, (key, text) in enumerate(zip(RECORD_KEYS, texts, strict=True)):
        parts += [pl.lit(("  {\n" if i == 0 else ",\n") + f"    {json.dumps(key)}: "), text]
    parts.append(pl.lit("\n  }"))
    return str(values.select(pl.concat_str(parts).str.join(",\n")).item())


def result_json(result: KpiResult) -> str:
    """``compute --format json`` text of a result (:func:`result_json_chunks` joined)."""
    return b"".join(result_json_chunks(result)).decode()


def records_csv(records: list[dict[str, Any]]) -> str:
    """``compute --format csv`` text of :func:`to_records` rows: the JSON keys as a header,
    empty cells for null."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RECORD_KEYS)
    for record in records:
        writer.writerow(["" if record[k] is None else record[k] for k in RECORD_KEYS])
    return out.getvalue()


def values_csv_chunks(
    frames: Iterable[pl.DataFrame], rows: int = JSON_CHUNK_ROWS
) -> Iterator[bytes]:
    """``compute --format csv`` text of the records of ``frames`` (as for
    :func:`values_json_chunks`): the header, then UTF-8 pieces of at most ``rows`` records;
    joined, the same bytes as :func:`records_csv` of their records, built column by column
    in Polars instead of through a dict per row."""
    yield (",".join(RECORD_KEYS) + "\n").encode()
    for frame in frames:
        for piece in frame.select(RECORD_KEYS).iter_slices(rows):
            yield _csv_rows(piece).encode()


def _csv_rows(values: pl.DataFrame) -> str:
    """The CSV lines (each ending in a newline) of ``values``: RECORD_KEYS, text or floats."""
    import polars as pl

    def field(text: str) -> str:
        # csv.writer's quoting of one field among others ("" alone on a row is special)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow([text, "x"])
        return out.getvalue()[: -len(",x\n")]

    encoded: list[pl.Series] = []
    for key in RECORD_KEYS:
        column = values.get_column(key)
        if column.dtype == pl.String:
            memo = {v: field(v) for v in column.drop_nulls().unique().to_list()}
            text = column.replace_strict(memo, return_dtype=pl.String).fill_null("")
        else:
            text = float_text(column, "")  # csv writes str(float), Python's repr
        encoded.append(text.alias(key))
    rows = pl.DataFrame(encoded).select(
        pl.concat_str([pl.col(k) for k in RECORD_KEYS], separator=",").str.join("\n")
    )
    return str(rows.item()) + "\n"


def compute_cycle(
    ws: Workspace,
    cycle: str,
    entities: list[str] | None = None,
    kpis: list[str] | None = None,
    progress: Callable[..., Any] | None = None,
) -> tuple[Catalogue, KpiResult]:
    """``soekpi compute``: load the catalogue, resolve ``cycle`` and compute it."""
    from soekpi.catalogue import load_catalogue

    catalogue = load_catalogue(ws)
    resolved = resolve(ws, catalogue, cycle)
    return catalogue, compute(ws, catalogue, [resolved], entities, kpis, progress)


def compute_cycle_values(
    ws: Workspace,
    cycle: str,
    entities: list[str] | None = None,
    kpis: list[str] | None = None,
    progress: Callable[..., Any] | None = None,
) -> Iterator[pl.DataFrame]:
    """``soekpi compute --format json``: :func:`compute_cycle`'s values as
    :func:`compute_values` pieces."""
    from soekpi.catalogue import load_catalogue

    catalogue = load_catalogue(ws)
    resolved = resolve(ws, catalogue, cycle)
    return compute_values(ws, catalogue, [resolved], entities, kpis, progress)
