"""How results are written: the JSON and CSV of KPI values (``compute --format json|csv``,
a run's kpis.json and kpis.csv) and a run's manifest. One encoder per format, shared by
compute, report, diff and verify, so that the same values are always the same bytes.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from json.encoder import encode_basestring
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from soekpi import __version__

if TYPE_CHECKING:
    from datetime import date

    import polars as pl

    from soekpi.base.calendar import Cycle, FiscalSettings
    from soekpi.catalogue.model import Catalogue
    from soekpi.engine import KpiResult, MeasuresRead

#: The file of a run that lists the others with their SHA-256.
MANIFEST = "manifest.json"

#: The keys of a ``compute --format json`` row, in order (SPEC §5).
RECORD_KEYS = ("kpi", "entity", "cycle", "value", "status", "green", "amber", "unit")


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


def result_csv(result: KpiResult) -> str:
    """``kpis.csv``: the same bytes as ``records_csv(to_records(result))``, built column by
    column in Polars instead of through a dict per row (1.25 M rows at 48,000 entities)."""
    return b"".join(result_csv_chunks(result)).decode()


def result_csv_chunks(result: KpiResult, rows: int = JSON_CHUNK_ROWS) -> Iterator[bytes]:
    """:func:`result_csv` as UTF-8 pieces of at most ``rows`` records (a run writes them to
    the file one by one, so the text of a large group is never held whole)."""
    if result.values.height == 0 or not plain_records(result.values):
        yield records_csv(to_records(result)).encode()
        return
    yield from values_csv_chunks([result.values], rows)


def manifest_text(manifest: dict[str, Any]) -> str:
    """The manifest as written: sorted keys, 2-space indent, trailing newline."""
    return json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n"


def manifest_inputs(
    fiscal: FiscalSettings,
    catalogue: Catalogue,
    cycle: Cycle,
    sources: dict[str, tuple[int, str]],
    as_of_load: int | None = None,
) -> dict[str, Any]:
    """A run manifest's inputs: soekpi version, cycle and its dates, fiscal settings, every
    KPI's SHA-256 and resolved definition, every source's rows and data hash, and (a run
    since issue 17) ``as_of_load``, the last load the run saw. A report run adds language,
    generated_at and files; ``soekpi verify`` compares a recomputation with an archived run
    through it, so both share this one implementation."""
    extra = {} if as_of_load is None else {"as_of_load": as_of_load}
    catalogue = catalogue.for_cycle(cycle, fiscal)  # the definitions in force (revisions)
    return extra | {
        "soekpi_version": __version__,
        "cycle": cycle.name,
        "cycle_start": cycle.start(fiscal).isoformat(),
        "cycle_end": cycle.end(fiscal).isoformat(),
        "fiscal_year": {"start_month": fiscal.start_month, "label": fiscal.label},
        "kpis": {
            k: {"sha256": catalogue.kpi_hash(k), "definition": catalogue.resolved_definition(k)}
            for k in sorted(catalogue.kpis)
        },
        "sources": {s: {"rows": rows, "sha256": sha} for s, (rows, sha) in sources.items()},
    }


def definitions_text(document: dict[str, Any]) -> str:
    """A run's ``definitions.json`` (``catalogue.definitions.catalogue_definitions``): its
    keys in the document's own order (fiscal_year, sources, measures, kpis, targets; fields
    as the catalogue writes them), 2-space indent, trailing newline."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def windows_read(
    catalogue: Catalogue, reads: Iterable[MeasuresRead]
) -> dict[str, tuple[tuple[date, date], ...] | None]:
    """Per table source, the months ``reads`` read of it: the spans (first day, first day
    after) of the windows of the measures over the source's time column — the cycle, its
    year to date, to date, the trend's earlier cycles, the previous and year-ago cycles of
    growth KPIs. None (read whole): a source some measure reads through another time column
    or none, and a source no measure reads directly (a dimension table, or a table read
    through a view). What ``warehouse.hashing.window_fingerprints`` hashes."""
    spans: dict[str, set[tuple[date, date]]] = {}
    whole: set[str] = set()
    # each pass with the catalogue in force for its cycles (a revised measure's own filter
    # or time column)
    passes = [(p, p.catalogue or catalogue) for read in reads for p in read.passes]
    for read, in_force in passes:
        for measure_id, windows in read.measure_windows.items():
            measure = in_force.measures[measure_id]
            source = in_force.sources[measure.source]
            if source.is_view:
                continue  # the tables under a view are hashed whole
            if measure.time_column(source) != source.time_column or source.time_column is None:
                whole.add(source.id)
                continue
            spans.setdefault(source.id, set()).update((w.first_month, w.end) for w in windows)
    return {
        sid: None if sid in whole or sid not in spans else tuple(sorted(spans[sid]))
        for sid in sorted(catalogue.sources)
        if not catalogue.sources[sid].is_view
    }


#: What makes one file of a run: its bytes, or its pieces in order.
Producer = Callable[[], "bytes | Iterable[bytes]"]


@dataclass(frozen=True)
class RunSpec:
    """What a run is made of, besides the warehouse: the definitions (``catalogue`` and
    ``fiscal``), the cycle, the language, the report formats, the time it states and the
    load its data is read as of (None: the last load). ``report`` makes one from the
    workspace and its options; ``verify`` from an archived run's manifest and
    definitions.json."""

    catalogue: Catalogue
    fiscal: FiscalSettings
    cycle: Cycle | str
    language: str
    formats: tuple[str, ...]
    generated_at: str
    as_of: int | None = None
    recorded: bool = True  # source hashes may come from _fingerprints (report); verify: False


@dataclass(frozen=True)
class BuiltRun:
    """A run made but not published: its files (made when asked), its manifest without
    ``files``, the cycle's own result (kpis.json) and the months it read of each source."""

    cycle: Cycle
    files: list[tuple[str, Producer]]
    manifest: dict[str, Any]
    result: KpiResult
    windows: dict[str, tuple[tuple[date, date], ...] | None]
    roots: list[str] = field(default_factory=list)

    def file_bytes(self) -> dict[str, bytes]:
        """Every file's bytes (the report is rendered now), ``manifest.json`` with them."""
        made: dict[str, bytes] = {}
        for name, produce in self.files:
            data = produce()
            made[name] = data if isinstance(data, bytes) else b"".join(data)
        hashes = {name: hashlib.sha256(data).hexdigest() for name, data in made.items()}
        made[MANIFEST] = manifest_text({**self.manifest, "files": hashes}).encode()
        return made

    def records(self) -> list[dict[str, Any]]:
        """The rows of its kpis.json."""
        return to_records(self.result)


#: Makes a run without publishing it (``report.run.build_run`` bound to a workspace): what
#: ``audit.verify`` rebuilds an archived run with (audit and report do not know each other).
Rebuild = Callable[[RunSpec], BuiltRun]
