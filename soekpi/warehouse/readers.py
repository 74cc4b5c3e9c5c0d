"""Reading an extract into a temporary all-VARCHAR table, whatever its format.

Every value arrives as text (casting is the loader's job, so that a bad value becomes a
rejected row rather than a failed read), next to ``__row``: the row's number as a user
finds it in the file. For CSV, TSV and XLSX that is the line number (the header is line 1,
so the first data row is 2; a quoted value spanning lines counts as one line); for JSON and
Parquet it is the 1-based record index. Blank XLSX rows are skipped but keep the numbering.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from soekpi.base.errors import InputError, Location
from soekpi.base.sqltext import literal, quote

if TYPE_CHECKING:
    import duckdb

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".json": "json",
    ".ndjson": "json",
    ".jsonl": "json",
    ".xlsx": "xlsx",
}
ROW = "__row"
#: The longest line a CSV/TSV extract may have. Checked before DuckDB reads the file: its
#: parallel CSV reader silently drops a line longer than its buffer (tens of MB) instead of
#: failing, and its single-threaded one drops a row with an unterminated quote.
MAX_LINE_BYTES = 2 << 20
_HEAD_BYTES = 1 << 16


@dataclass(frozen=True)
class RawFile:
    """A file read into a temporary table: its header and its number of data rows."""

    table: str
    columns: tuple[str, ...]
    rows: int


def file_format(path: Path, shown: str) -> str:
    """The format of a file, by extension."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise InputError(
            f"cannot tell the format of this file by its extension (known: {known})",
            Location(shown),
        ) from None


def _first_line(message: str) -> str:
    for line in message.splitlines():
        if line.strip():
            return line.strip()
    return message


def _duckdb_read_error(exc: Exception, shown: str) -> InputError:
    """A DuckDB reader error as one located line."""
    text = str(exc)
    line = re.search(r"Line: (\d+)", text)
    location = Location(shown, int(line.group(1)) if line else None)
    if "Maximum line size" in text:
        return _line_too_long(location)
    if "unterminated quote" in text:
        return InputError(
            "a quoted value is never closed (unterminated quote); fix the quotes of this row",
            location,
        )
    counts = re.search(r"Expected Number of Columns: (\d+) Found: (\d+)", text)
    if counts:
        return InputError(
            f"row has {counts.group(2)} fields, the header has {counts.group(1)}; "
            "fix the row (quote values that contain the delimiter)",
            location,
        )
    if "Invalid unicode" in text or "not utf-8" in text.lower():
        return InputError("not UTF-8 text; save the file as UTF-8 and load it again", location)
    reason = _first_line(text).removeprefix("Invalid Input Error: ")
    return InputError(f"cannot read the file: {reason}", location)


def _check_header(columns: list[str], shown: str) -> None:
    if not columns or all(not c.strip() for c in columns):
        raise InputError(
            "the file has no header row (the first line names the columns)", Location(shown, 1)
        )
    seen: set[str] = set()
    for name in columns:
        if not name.strip():
            raise InputError("the header has an empty column name", Location(shown, 1))
        if name in seen:
            raise InputError(f"the header names column '{name}' twice", Location(shown, 1))
        seen.add(name)


def _text_header(path: Path, shown: str, delimiter: str) -> list[str]:
    """The header of a CSV/TSV file, checked to be UTF-8 text."""
    with path.open("rb") as handle:
        data = handle.read(_HEAD_BYTES)
        whole = not handle.read(1)
    if b"\x00" in data:
        raise InputError("not a text file (it holds NUL bytes)", Location(shown))
    try:
        head = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        cut_at_end = not whole and exc.start >= len(data) - 3  # a character split by the read
        if not cut_at_end:
            line = data[: exc.start].count(b"\n") + 1
            raise InputError(
                "not UTF-8 text; save the file as UTF-8 and load it again", Location(shown, line)
            ) from None
        head = data[: exc.start].decode("utf-8-sig")
    if not head.strip():
        raise InputError("the file is empty", Location(shown))
    if not whole and "\n" not in head and "\r" not in head:
        raise InputError(
            f"the header line is longer than {_HEAD_BYTES:,} bytes; the first line must name "
            "the columns",
            Location(shown, 1),
        )
    first = next(csv.reader(head.splitlines()[:1], delimiter=delimiter), [])
    columns = [c.strip() for c in first]
    _check_header(columns, shown)
    return columns


def _check_line_lengths(path: Path, shown: str) -> None:
    """Refuse a file with a line longer than MAX_LINE_BYTES, naming the line (streamed)."""
    chunk_size = 1 << 20  # ≤ MAX_LINE_BYTES: only a line crossing chunks can be too long
    since_newline, lines = 0, 1
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(chunk_size), b""):
            first = chunk.find(b"\n")
            if first < 0:
                since_newline += len(chunk)
            else:
                since_newline += first
            if since_newline > MAX_LINE_BYTES:
                raise _line_too_long(Location(shown, lines))
            if first >= 0:
                lines += chunk.count(b"\n")
                since_newline = len(chunk) - chunk.rfind(b"\n") - 1


def _line_too_long(location: Location) -> InputError:
    return InputError(
        f"the line is longer than {MAX_LINE_BYTES:,} bytes, the limit for one row; "
        "check that the file is a CSV/TSV extract with one row per line",
        location,
    )


def _read_delimited(
    con: duckdb.DuckDBPyConnection, path: Path, shown: str, table: str, delimiter: str
) -> None:
    columns = _text_header(path, shown, delimiter)
    _check_line_lengths(path, shown)
    spec = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in columns) + "}"
    # The sniffer is bypassed: it can fail or silently mis-detect on ragged files.
    con.execute(
        f"create temp table {quote(table)} as "
        f"select *, (row_number() over () + 1)::BIGINT as {ROW} "
        f"from read_csv({literal(path)}, auto_detect = false, header = true, "
        f"columns = {spec}, delim = {literal(delimiter)}, quote = '\"', escape = '\"', "
        f"strict_mode = true, encoding = 'utf-8', max_line_size = {MAX_LINE_BYTES})"
    )


def _read_json(con: duckdb.DuckDBPyConnection, path: Path, shown: str, table: str) -> None:
    source = f"read_json({literal(path)}, format = 'auto', sample_size = -1"
    rows = con.execute(f"describe select * from {source})").fetchall()
    columns = [r[0] for r in rows]
    if columns == ["json"] and rows[0][1] == "JSON":
        raise InputError(
            "the JSON is not an array of objects or one object per line", Location(shown)
        )
    _check_header(columns, shown)
    spec = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in columns) + "}"
    con.execute(
        f"create temp table {quote(table)} as "
        f"select *, (row_number() over ())::BIGINT as {ROW} "
        f"from {source}, columns = {spec})"
    )


def _read_parquet(con: duckdb.DuckDBPyConnection, path: Path, table: str) -> None:
    names = [
        r[0]
        for r in con.execute(f"describe select * from read_parquet({literal(path)})").fetchall()
    ]
    select = ", ".join(f"{quote(n)}::VARCHAR as {quote(n)}" for n in names)
    con.execute(
        f"create temp table {quote(table)} as "
        f"select {select}, (file_row_number + 1)::BIGINT as {ROW} "
        f"from read_parquet({literal(path)}, file_row_number = true)"
    )


def _read_xlsx(con: duckdb.DuckDBPyConnection, path: Path, shown: str, table: str) -> None:
    import polars as pl

    try:
        frame = pl.read_excel(path, engine="calamine", infer_schema_length=0, drop_empty_rows=False)
    except Exception as exc:  # fastexcel raises its own hierarchy; any failure = unreadable
        raise InputError(
            f"cannot read the workbook: {_first_line(str(exc))}", Location(shown)
        ) from None
    columns = list(frame.columns)
    _check_header(columns, shown)
    frame = frame.with_columns(pl.all().cast(pl.String)).with_row_index(ROW, offset=2)
    blank = " and ".join(f"{quote(c)} is null" for c in columns)
    view = f"{table}_src"
    # a registered Arrow stream lives in this connection only (a view would be stored)
    con.register(view, frame.__arrow_c_stream__())
    try:
        select = ", ".join(quote(c) for c in columns)
        con.execute(
            f"create temp table {quote(table)} as "
            f"select {select}, {ROW}::BIGINT as {ROW} from {quote(view)} where not ({blank})"
        )
    finally:
        con.unregister(view)


def read_raw(con: duckdb.DuckDBPyConnection, path: Path, shown: str, table: str) -> RawFile:
    """Read ``path`` into the temporary table ``table`` (every column VARCHAR, plus
    ``__row``). A file that cannot be read at all raises :class:`InputError` naming it."""
    import duckdb

    kind = file_format(path, shown)
    if not path.is_file():
        raise InputError("no such file", Location(shown))
    if kind != "xlsx" and kind != "parquet" and path.stat().st_size == 0:
        raise InputError("the file is empty", Location(shown))
    con.execute(f"drop table if exists {quote(table)}")
    try:
        if kind in ("csv", "tsv"):
            _read_delimited(con, path, shown, table, "," if kind == "csv" else "\t")
        elif kind == "json":
            _read_json(con, path, shown, table)
        elif kind == "parquet":
            _read_parquet(con, path, table)
        else:
            _read_xlsx(con, path, shown, table)
    except duckdb.Error as exc:
        raise _duckdb_read_error(exc, shown) from None
    names = [r[0] for r in con.execute(f"describe {quote(table)}").fetchall()]
    count = con.execute(f"select count(*) from {quote(table)}").fetchall()[0][0]
    return RawFile(table=table, columns=tuple(n for n in names if n != ROW), rows=int(count))
