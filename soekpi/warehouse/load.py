"""``soekpi load``: extracts into contract tables without losing a row (SPEC §4).

Every file is read as text (:mod:`soekpi.warehouse.readers`) and checked set-based in DuckDB
SQL. Rows that pass go into the source's table; every row that fails goes to ``_rejected``
with its row number, column and reason. The call is one load with one id (the next
integer): every row it inserts carries it in ``_load_id``, the ledger records it in
``_loads`` (with the call's counts and the rows it restated) and each file's SHA-256 and
counts in ``_load_files`` (:mod:`soekpi.warehouse.ledger`); ``_fingerprints`` records the
table's content-hash sums after the load (what ``report`` states;
:mod:`soekpi.warehouse.hashing`). All files of one call are written in ONE
transaction under the writer lock, so a failure, an unreadable file or a ``kill -9`` leaves
the warehouse exactly as it was.

What ``mode="replace"`` replaces (a restatement):

* a source with a time column: for every (entity, month) pair among the file's rows whose
  entity and time values are readable, the table's rows of that entity in that month (the
  month of the time column) are deleted before the file's rows go in. Entities and months
  the file does not mention keep their rows. A source without an entity column replaces
  whole months.
* a source without a time column but with a primary key: the table's rows whose key
  equals the key of one of the file's rows are deleted (an upsert by key).
* a source with neither: the whole table is replaced by the file's rows.

The rows a ``replace`` supersedes are not lost: they move, in the same transaction, to
``_history_<table>`` with ``_superseded_by`` = the load's id, so the data as of any earlier
load can still be read (``sandbox(ws, as_of=...)``). The load counts them as restated rows,
with the months they fall in (sources with a time column).

``replace`` also lifts the refusal of a file whose content (SHA-256) was loaded into the same
source before. Loads whose rows fall into a closed cycle are refused whole, in both modes.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from soekpi.base.errors import ClosedCycleError, InputError, Location, UsageError
from soekpi.base.sqltext import literal, quote, sql_type
from soekpi.warehouse.hashing import record_fingerprints
from soekpi.warehouse.ledger import LOAD_COLUMN, SUPERSEDED_COLUMN
from soekpi.warehouse.readers import ROW, read_raw
from soekpi.warehouse.schema import (
    ensure_history,
    ensure_load_column,
    ensure_schema,
    table_drift,
)

if TYPE_CHECKING:
    import duckdb

    from soekpi.catalogue.model import Catalogue, Column, Source
    from soekpi.workspace import Workspace

MODES = ("append", "replace")
ProgressFn = Callable[..., None]
_RAW, _VAL, _ERR, _CLEAN = "_soekpi_raw", "_soekpi_values", "_soekpi_errors", "_soekpi_clean"
_GONE = "_soekpi_superseded"
_SHOWN_ROWS = 5


@dataclass(frozen=True)
class FileLoad:
    """What happened to one file."""

    file: str
    sha256: str
    load_id: int
    rows_read: int
    rows_loaded: int
    rows_rejected: int
    rows_replaced: int = 0  # rows --mode replace superseded (moved to _history_<table>)
    rejected_by_reason: tuple[tuple[str, int], ...] = ()  # ("column: kind", rows), sorted
    restated_months: tuple[str, ...] = ()  # "YYYY-MM" of the superseded rows, sorted


@dataclass(frozen=True)
class LoadSummary:
    """The result of one ``load`` call: one entry per file, in the order given."""

    source: str
    mode: str
    files: tuple[FileLoad, ...] = field(default_factory=tuple)

    @property
    def rows_rejected(self) -> int:
        """Rejected rows over every file (the command exits 1 when this is not 0)."""
        return sum(f.rows_rejected for f in self.files)

    @property
    def rows_loaded(self) -> int:
        """Loaded rows over every file."""
        return sum(f.rows_loaded for f in self.files)

    @property
    def load_id(self) -> int:
        """The id of this load (every file of the call shares it)."""
        return self.files[0].load_id if self.files else 0

    @property
    def rows_restated(self) -> int:
        """Rows superseded by ``--mode replace`` over every file (kept in history)."""
        return sum(f.rows_replaced for f in self.files)

    @property
    def restated_months(self) -> tuple[str, ...]:
        """The months (``YYYY-MM``, sorted) of the restated rows over every file."""
        return tuple(sorted({m for f in self.files for m in f.restated_months}))

    def restated_line(self) -> str | None:
        """What ``load`` says about the rows a ``replace`` restated (None for an append):
        ``restated 18 row(s) in 2026-04, 2026-05 (load 8; --as-of 7 reads the data before
        it)``."""
        if self.mode != "replace" or not self.files:
            return None
        months = f" in {', '.join(self.restated_months)}" if self.restated_months else ""
        earlier = self.rows_restated and self.load_id > 1
        before = f"; --as-of {self.load_id - 1} reads the data before it" if earlier else ""
        return f"restated {self.rows_restated} row(s){months} (load {self.load_id}{before})"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def table_source(catalogue: Catalogue, source_id: str) -> Source:
    """The source to load into: it must exist and not be a view."""
    if source_id not in catalogue.sources:
        close = difflib.get_close_matches(source_id, sorted(catalogue.sources), n=1)
        hint = (
            f" (did you mean '{close[0]}'?)"
            if close
            else (f" (known: {', '.join(sorted(catalogue.sources))})")
        )
        raise UsageError(f"source '{source_id}' does not exist{hint}")
    source = catalogue.sources[source_id]
    if source.is_view:
        raise UsageError(
            f"source '{source_id}' is a view defined by SQL and holds no data of its own; "
            "load the sources it reads instead"
        )
    return source


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _type_label(column: Column) -> str:
    kind = column.type.strip().lower()
    labels = {
        "integer": "an integer",
        "bigint": "an integer",
        "double": "a number",
        "boolean": "a boolean (true/false)",
        "date": "a date",
        "timestamp": "a timestamp",
    }
    return labels.get(kind, f"a {kind.replace(' ', '')}")


def _cast(column: Column, raw: str) -> tuple[str, str | None]:
    """(typed value expression, failure condition or None) for a raw text expression."""
    target = sql_type(column.type)
    if target == "VARCHAR":
        return raw, None
    value = f"TRY_CAST({raw} AS {target})"
    if target in ("INTEGER", "BIGINT"):
        # TRY_CAST rounds '1.5' to 2: a non-integral number is not an integer.
        bad = f"({value} IS NULL OR TRY_CAST({raw} AS DOUBLE) <> {value})"
    elif target == "DOUBLE":
        bad = f"({value} IS NULL OR NOT isfinite({value}))"
    elif target.startswith("DECIMAL"):
        # TRY_CAST rounds '12.345' to 12.35: more decimals than the scale is refused.
        bad = f"({value} IS NULL OR TRY_CAST({raw} AS DOUBLE) <> {value}::DOUBLE)"
    else:
        bad = f"{value} IS NULL"
    return value, f"({raw} IS NOT NULL AND {bad})"


def _typed_literal(value: Any, column: Column) -> str:
    target = sql_type(column.type)
    return literal(value) if target == "VARCHAR" else f"CAST({literal(value)} AS {target})"


def _header_problems(source: Source, columns: tuple[str, ...], shown: str) -> None:
    needed = [c.name for c in source.columns.values() if c.required or c.name in source.primary_key]
    missing = [c for c in needed if c not in columns]
    unknown = sorted(c for c in columns if c not in source.columns)
    parts = []
    if missing:
        parts.append(f"missing required column(s) {', '.join(missing)}")
    if unknown:
        parts.append(f"unknown column(s) {', '.join(unknown)}")
    if parts:
        raise InputError(
            f"header: {'; '.join(parts)} (the contract of '{source.id}' has: "
            f"{', '.join(source.columns)}); nothing was loaded",
            Location(shown, 1),
        )


class _FileLoader:
    """The SQL of loading one file, on a connection inside the caller's transaction."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        catalogue: Catalogue,
        source: Source,
        present: tuple[str, ...],
    ) -> None:
        self.con = con
        self.catalogue = catalogue
        self.source = source
        self.present = present
        self.table = quote(source.table_name)

    def run(self, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
        return self.con.execute(sql, params or []).fetchall()

    def build_values(self) -> None:
        """``_soekpi_values``: __row plus every contract column, typed (null when bad)."""
        selects = [ROW]
        for column in self.source.columns.values():
            if column.name in self.present:
                raw = f"NULLIF({quote(column.name)}, '')"
                selects.append(f"{_cast(column, raw)[0]} AS {quote(column.name)}")
            else:
                selects.append(f"NULL::{sql_type(column.type)} AS {quote(column.name)}")
        self.run(f"CREATE OR REPLACE TEMP TABLE {_VAL} AS SELECT {', '.join(selects)} FROM {_RAW}")
        self.run(
            f"CREATE OR REPLACE TEMP TABLE {_ERR} (__row BIGINT, column_name VARCHAR, "
            "kind VARCHAR, reason VARCHAR)"
        )

    def value_checks(self) -> None:
        """Per row and column: unreadable values, missing required values, allowed, min, max."""
        checks: list[str] = []
        for column in self.source.columns.values():
            if column.name not in self.present:
                continue
            name = quote(column.name)
            raw = f"NULLIF(r.{name}, '')"
            value = f"v.{name}"
            prefix = literal(f"{column.name}: ")

            def add(condition: str, kind: str, reason: str, name: str = column.name) -> None:
                checks.append(
                    f"SELECT r.{ROW}, {literal(name)}, {literal(kind)}, {reason} "
                    f"FROM {_RAW} r JOIN {_VAL} v USING ({ROW}) WHERE {condition}"
                )

            if column.required or column.name in self.source.primary_key:
                add(
                    f"{raw} IS NULL",
                    "missing",
                    literal(f"{column.name}: required value is missing"),
                )
            failure = _cast(column, raw)[1]
            label = _type_label(column)
            if failure:
                add(failure, f"not {label}", f"{prefix} || '''' || {raw} || ''' is not {label}'")
            shown_value = f"{prefix} || '''' || {value}::VARCHAR || ''''"
            # range and list checks only for values that cast (NaN sorts above everything)
            readable = f"{value} IS NOT NULL" + (f" AND NOT {failure}" if failure else "")
            if column.allowed is not None:
                options = ", ".join(_typed_literal(a, column) for a in column.allowed)
                listed = ", ".join(str(a) for a in column.allowed)
                add(
                    f"{readable} AND {value} NOT IN ({options})",
                    "not allowed",
                    f"{shown_value} || {literal(' is not one of ' + listed)}",
                )
            if column.min is not None:
                add(
                    f"{readable} AND {value} < {_number(column.min)}",
                    "below minimum",
                    f"{prefix} || {value}::VARCHAR || "
                    f"{literal(' is below the minimum ' + _number(column.min))}",
                )
            if column.max is not None:
                add(
                    f"{readable} AND {value} > {_number(column.max)}",
                    "above maximum",
                    f"{prefix} || {value}::VARCHAR || "
                    f"{literal(' is above the maximum ' + _number(column.max))}",
                )
        if checks:
            self.run(f"INSERT INTO {_ERR} " + " UNION ALL ".join(checks))
        self.run(
            f"CREATE OR REPLACE TEMP TABLE {_CLEAN} AS SELECT * FROM {_VAL} v "
            f"WHERE NOT EXISTS (SELECT 1 FROM {_ERR} e WHERE e.{ROW} = v.{ROW})"
        )

    def closed_cycles(self, shown: str) -> None:
        """Refuse the whole file when a row falls into a closed cycle."""
        time_column = self.source.time_column
        if not time_column or time_column not in self.present:
            return
        t = f"v.{quote(time_column)}"
        rows = self.run(
            f"SELECT c.cycle, c.start_date, c.end_date, min({t})::DATE, max({t})::DATE, "
            f"count(*) FROM {_VAL} v JOIN _closed_cycles c "
            f"ON {t}::DATE BETWEEN c.start_date AND c.end_date "
            "GROUP BY ALL ORDER BY c.start_date, c.cycle"
        )
        if rows:
            cycle, start, end, first, last, count = rows[0]
            others = f" (and {len(rows) - 1} more closed cycle(s))" if len(rows) > 1 else ""
            raise ClosedCycleError(
                f"{count} row(s) dated {first}..{last} fall in closed cycle {cycle} "
                f"({start}..{end}){others}; nothing was loaded. Leave those rows out, or "
                f"reopen the cycle with 'soekpi close {cycle} --reopen --reason TEXT'",
                Location(shown),
            )

    def replace_scope(self, load_id: int) -> tuple[int, tuple[str, ...]]:
        """Move the rows the file restates (see the module docstring) to the history table,
        superseded by ``load_id``; returns how many, and their months (``YYYY-MM``)."""
        self.run(
            f"CREATE OR REPLACE TEMP TABLE {_GONE} AS SELECT * FROM {self.table} t "
            f"WHERE {self._restated()}"
        )
        names = [quote(c) for c in self.source.columns]
        history = ensure_history(self.con, self.source)
        self.run(
            f"INSERT INTO {history} ({', '.join(names)}, {LOAD_COLUMN}, {SUPERSEDED_COLUMN}) "
            f"SELECT {', '.join(names)}, {LOAD_COLUMN}, ? FROM {_GONE}",
            [load_id],
        )
        months: list[tuple[Any, ...]] = []
        if self.source.time_column:
            t = quote(self.source.time_column)
            months = self.run(
                f"SELECT DISTINCT strftime(date_trunc('month', {t}), '%Y-%m') FROM {_GONE} "
                f"WHERE {t} IS NOT NULL ORDER BY 1"
            )
        ((gone,),) = self.run(f"SELECT count(*) FROM {_GONE}")
        if gone:
            self.run(f"DELETE FROM {self.table} t WHERE {self._restated()}")
        return int(gone), tuple(str(m) for (m,) in months)

    def _restated(self) -> str:
        """The condition on a table row ``t`` that the file restates it."""
        source = self.source
        time_column, entity = source.time_column, source.entity_column
        if time_column:
            t = quote(time_column)
            keys = [f"date_trunc('month', {t})::DATE AS m"]
            match = [f"date_trunc('month', t.{t})::DATE = s.m"]
            if entity:
                keys.append(f"{quote(entity)} AS e")
                match.append(f"t.{quote(entity)} = s.e")
            where = f"{t} IS NOT NULL" + (f" AND {quote(entity)} IS NOT NULL" if entity else "")
            return (
                f"EXISTS (SELECT 1 FROM (SELECT DISTINCT {', '.join(keys)} FROM {_VAL} "
                f"WHERE {where}) s WHERE {' AND '.join(match)})"
            )
        if source.primary_key:
            key = source.primary_key
            select = ", ".join(quote(k) for k in key)
            not_null = " AND ".join(f"{quote(k)} IS NOT NULL" for k in key)
            same = " AND ".join(f"t.{quote(k)} = s.{quote(k)}" for k in key)
            return (
                f"EXISTS (SELECT 1 FROM (SELECT DISTINCT {select} FROM {_VAL} "
                f"WHERE {not_null}) s WHERE {same})"
            )
        return "true"

    def key_checks(self) -> None:
        """Duplicate keys in the file and against the table; references. Over the rows that
        passed the value checks."""
        checks: list[str] = []
        for key in self._keys():
            checks.extend(self._duplicate_checks(key))
        for column in self.source.columns.values():
            check = self._reference_check(column)
            if check is not None:
                checks.append(check)
        if checks:
            self.run(f"INSERT INTO {_ERR} " + " UNION ALL ".join(checks))

    def _keys(self) -> list[tuple[str, ...]]:
        """The primary key (when there is one), then every other unique column."""
        keys: list[tuple[str, ...]] = []
        if self.source.primary_key:
            keys.append(tuple(self.source.primary_key))
        keys.extend(
            (c.name,)
            for c in self.source.columns.values()
            if c.unique and (c.name,) != tuple(self.source.primary_key)
        )
        return keys

    def _duplicate_checks(self, key: tuple[str, ...]) -> list[str]:
        """The SQL finding a key twice in the file, and a key already in the table."""
        cols = ", ".join(quote(k) for k in key)
        label = ", ".join(key)
        what = "primary key" if key == tuple(self.source.primary_key) else "unique column"
        text = "concat_ws(', ', " + ", ".join(f"c.{quote(k)}::VARCHAR" for k in key) + ")"
        head = literal(f"{what} ({label}) = (")
        # NULL is no value: rows without one cannot be duplicates
        has_key = " AND ".join(f"c.{quote(k)} IS NOT NULL" for k in key)
        same_key = " AND ".join(f"d.{quote(k)} = c.{quote(k)}" for k in key)
        match = " AND ".join(f"t.{quote(k)} = c.{quote(k)}" for k in key)
        return [
            # group first (duplicates are rare), then join back the few rows that have them
            f"SELECT c.{ROW}, {literal(label)}, 'duplicate in file', {head} || {text} || "
            f"') appears on ' || d.n || ' rows of the file: ' || array_to_string("
            f"d.rows[1:{_SHOWN_ROWS}], ', ') || "
            f"CASE WHEN d.n > {_SHOWN_ROWS} THEN ', …' ELSE '' END "
            f"FROM {_CLEAN} c JOIN (SELECT {cols}, count(*) AS n, "
            f"list_sort(list({ROW})) AS rows FROM {_CLEAN} c WHERE {has_key} "
            f"GROUP BY ALL HAVING count(*) > 1) d ON {same_key}",
            f"SELECT c.{ROW}, {literal(label)}, 'already in table', {head} || {text} || "
            "') is already in the table; load with --mode replace to restate it' "
            f"FROM {_CLEAN} c WHERE EXISTS (SELECT 1 FROM {self.table} t WHERE {match})",
        ]

    def _reference_check(self, column: Column) -> str | None:
        """The SQL finding values of ``column`` missing from the table it references."""
        if column.references is None or column.name not in self.present:
            return None
        ref_source, ref_column = column.references
        target = self.catalogue.sources.get(ref_source)
        if target is None or target.is_view:
            return None
        name = quote(column.name)
        missing = f"' is not in {ref_source}.{ref_column}"
        exists = (
            f"EXISTS (SELECT 1 FROM {quote(target.table_name)} p "
            f"WHERE p.{quote(ref_column)} = c.{name})"
        )
        if target.id == self.source.id:  # self reference: the file's own rows count too
            exists += (
                f" OR EXISTS (SELECT 1 FROM {_CLEAN} p WHERE p.{quote(ref_column)} = c.{name})"
            )
        return (
            f"SELECT c.{ROW}, {literal(column.name)}, 'unknown reference', "
            f"{literal(column.name + ': ')} || '''' || c.{name}::VARCHAR || "
            f"{literal(missing)} "
            f"FROM {_CLEAN} c WHERE c.{name} IS NOT NULL AND NOT ({exists})"
        )

    def write(self, load_id: int, shown: str) -> tuple[int, tuple[tuple[str, int], ...]]:
        """Insert the good rows and the rejections; returns (rejected rows, by reason)."""
        names = list(self.source.columns)
        cols = ", ".join(quote(c) for c in names)
        self.run(
            f"INSERT INTO {self.table} ({cols}, {LOAD_COLUMN}) SELECT {cols}, ? FROM {_VAL} v "
            f"WHERE NOT EXISTS (SELECT 1 FROM {_ERR} e WHERE e.{ROW} = v.{ROW}) ORDER BY {ROW}",
            [load_id],
        )
        raw_json = (
            "json_object(" + ", ".join(f"{literal(c)}, r.{quote(c)}" for c in self.present) + ")"
        )
        self.run(
            "INSERT INTO _rejected SELECT ?, ?, ?, e.__row, e.column_name, e.reason, "
            f"{raw_json}, now()::TIMESTAMP FROM {_ERR} e JOIN {_RAW} r USING ({ROW}) "
            "ORDER BY e.__row, e.column_name, e.reason",
            [load_id, self.source.id, shown],
        )
        rejected = self.run(f"SELECT count(DISTINCT {ROW}) FROM {_ERR}")[0][0]
        by_reason = self.run(
            f"SELECT column_name || ': ' || kind, count(DISTINCT {ROW}) FROM {_ERR} "
            "GROUP BY ALL ORDER BY 1"
        )
        return int(rejected), tuple((str(k), int(n)) for k, n in by_reason)


def _already_loaded(
    con: duckdb.DuckDBPyConnection, source: Source, digest: str, shown: str
) -> None:
    rows = con.execute(
        "SELECT load_id, f.file, l.loaded_at FROM _load_files f JOIN _loads l USING (load_id) "
        "WHERE l.source = ? AND f.sha256 = ? ORDER BY load_id, f.position LIMIT 1",
        [source.id, digest],
    ).fetchall()
    if rows:
        load_id, file, at = rows[0]
        raise InputError(
            f"this content was already loaded into '{source.id}' (load {load_id}, file {file}, "
            f"{at:%Y-%m-%d %H:%M:%S}); nothing was loaded. Pass --mode replace to load it again",
            Location(shown),
        )


def load_files(
    ws: Workspace,
    catalogue: Catalogue,
    source_id: str,
    files: list[Path],
    mode: str = "append",
    wait: float = 0,
    progress: ProgressFn | None = None,
) -> LoadSummary:
    """Load extract files into a source's table (SPEC §4), all or nothing.

    Each file is checked row by row against the source's contract; good rows are inserted
    and bad rows recorded in ``_rejected``, and one ``_loads`` row per file records its
    SHA-256 and counts — every file of the call in one transaction under the writer lock.
    Raises :class:`UsageError` (unknown or view source, bad mode), :class:`InputError`
    (unreadable file, bad header, content already loaded, a table that cannot take the
    contract), :class:`ClosedCycleError` and :class:`WarehouseLocked`; then nothing is
    written. ``mode="replace"`` restates data: see the module docstring.

    Example::

        summary = load_files(ws, catalogue, "financials", [Path("fin_2025q1.csv")])
        summary.rows_rejected   # 0 when every row passed
    """
    from soekpi.warehouse.connection import open_warehouse

    source, shown = _checked_request(ws, catalogue, source_id, files, mode)
    steps = _Steps(total=3 * len(files), progress=progress)
    created = not ws.warehouse_path.exists()
    try:
        with open_warehouse(ws, write=True, wait=wait, purpose="soekpi load") as con:
            results = _load_all(
                con, catalogue, source, list(zip(files, shown, strict=True)), mode, steps
            )
    except BaseException:
        if created:  # a failed first load leaves no empty warehouse behind
            for leftover in (ws.warehouse_path, Path(f"{ws.warehouse_path}.wal")):
                leftover.unlink(missing_ok=True)
        raise
    return LoadSummary(source=source.id, mode=mode, files=tuple(results))


@dataclass
class _Steps:
    """Counts the steps of a load (read, checked, written per file) for the progress bar."""

    total: int
    progress: ProgressFn | None
    step: int = 0

    def tick(self, label: str) -> None:
        """One more step done."""
        self.step += 1
        if self.progress is not None:
            self.progress(self.step, self.total, label)


def _checked_request(
    ws: Workspace, catalogue: Catalogue, source_id: str, files: list[Path], mode: str
) -> tuple[Source, list[str]]:
    """The source to load and the files' shown names, once mode, source and files are sound."""
    if mode not in MODES:
        raise UsageError(f"--mode: '{mode}' is not one of {', '.join(MODES)}")
    source = table_source(catalogue, source_id)
    if not files:
        raise UsageError("no files to load")
    shown = [ws.shown(Path(f).absolute()) for f in files]
    for path, name in zip(files, shown, strict=True):
        if not Path(path).is_file():
            raise InputError("no such file", Location(name))
    return source, shown


def _load_all(
    con: duckdb.DuckDBPyConnection,
    catalogue: Catalogue,
    source: Source,
    files: list[tuple[Path, str]],
    mode: str,
    steps: _Steps,
) -> list[FileLoad]:
    """Every (file, shown name) in one transaction: committed whole, or rolled back."""
    con.begin()
    try:
        ensure_schema(con, catalogue)
        drift = table_drift(con, source)
        if drift:
            raise InputError(
                "; ".join(p.message for p in drift[:-1])
                + "; nothing was loaded (run 'soekpi check' for every finding)"
            )
        ensure_load_column(con, source.table_name)
        load_id = _open_load(con, source, mode)
        results = [
            _load_file(con, catalogue, source, (Path(path), name, position), mode, load_id, steps)
            for position, (path, name) in enumerate(files, start=1)
        ]
        _close_load(con, load_id, results)
        # the table's content hash, committed with its rows (warehouse/hashing.py)
        record_fingerprints(con, [source.table_name])
        for table in (_RAW, _VAL, _ERR, _CLEAN, _GONE):
            con.execute(f"DROP TABLE IF EXISTS {table}")
        con.commit()
    except BaseException:
        # a failed write (e.g. disk full) may already have aborted the transaction:
        # a failing rollback must not hide the error that caused it
        with contextlib.suppress(Exception):
            con.rollback()
        raise
    return results


def _load_file(
    con: duckdb.DuckDBPyConnection,
    catalogue: Catalogue,
    source: Source,
    file: tuple[Path, str, int],
    mode: str,
    load_id: int,
    steps: _Steps,
) -> FileLoad:
    """Read, check and write one file (path, shown name, position) inside the open
    transaction, as part of load ``load_id``."""
    path, name, position = file
    digest = file_sha256(path)
    if mode == "append":
        _already_loaded(con, source, digest, name)
    raw = read_raw(con, path, name, _RAW)
    steps.tick(f"{name}: read {raw.rows} rows")
    _header_problems(source, raw.columns, name)
    loader = _FileLoader(con, catalogue, source, raw.columns)
    loader.build_values()
    loader.value_checks()
    loader.closed_cycles(name)
    replaced, months = loader.replace_scope(load_id) if mode == "replace" else (0, ())
    loader.key_checks()
    steps.tick(f"{name}: checked")
    rejected, by_reason = loader.write(load_id, name)
    con.execute(
        "INSERT INTO _load_files VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [load_id, position, name, digest, raw.rows, raw.rows - rejected, rejected, replaced],
    )
    steps.tick(f"{name}: written")
    return FileLoad(
        file=name,
        sha256=digest,
        load_id=load_id,
        rows_read=raw.rows,
        rows_loaded=raw.rows - rejected,
        rows_rejected=rejected,
        rows_replaced=replaced,
        rejected_by_reason=by_reason,
        restated_months=months,
    )


def _open_load(con: duckdb.DuckDBPyConnection, source: Source, mode: str) -> int:
    """The load's row in the ledger ``_loads`` (counts filled in by :func:`_close_load`);
    returns its id, the next integer."""
    from soekpi.warehouse.connection import current_user

    ((load_id,),) = con.execute("SELECT coalesce(max(load_id), 0) + 1 FROM _loads").fetchall()
    con.execute(
        "INSERT INTO _loads VALUES (?, ?, ?, 0, 0, 0, 0, '', now()::TIMESTAMP, ?)",
        [load_id, source.id, mode, current_user()],
    )
    return int(load_id)


def _close_load(con: duckdb.DuckDBPyConnection, load_id: int, files: list[FileLoad]) -> None:
    """The load's counts over its files, and the months it restated."""
    months = sorted({m for f in files for m in f.restated_months})
    con.execute(
        "UPDATE _loads SET rows_read = ?, rows_loaded = ?, rows_rejected = ?, "
        "rows_restated = ?, restated_months = ? WHERE load_id = ?",
        [
            sum(f.rows_read for f in files),
            sum(f.rows_loaded for f in files),
            sum(f.rows_rejected for f in files),
            sum(f.rows_replaced for f in files),
            ",".join(months),
            load_id,
        ],
    )
