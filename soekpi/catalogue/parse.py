"""Catalogue YAML → typed objects, one file at a time, every mistake collected with its place.

This is the "parse" half of STYLE rule 4: it checks what can be checked within one entry
(keys, types, enum values, threshold order, derived-KPI syntax) and merges the four sections
of every file. References between entries, cycles and SQL are checked in ``validate.py``.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soekpi.base.errors import InputError, Location, Problem
from soekpi.base.text import LANGUAGES, did_you_mean, number_text
from soekpi.base.yamlio import YamlList, YamlMap
from soekpi.catalogue.model import (
    AGGS,
    COLUMN_TYPES,
    COMPARES,
    DIRECTIONS,
    KPI_TYPES,
    WINDOWS,
    Column,
    Kpi,
    Measure,
    Revision,
    RevisionNote,
    Source,
    Target,
    Thresholds,
    revision_order,
)

SECTIONS = ("sources", "measures", "kpis", "targets")
CADENCES = ("monthly",)
TABLE_KEYS = (
    "description",
    "time_column",
    "cadence",
    "entity_column",
    "primary_key",
    "columns",
    "table",
)
VIEW_KEYS = ("description", "sql", "time_column", "cadence", "entity_column")
COLUMN_KEYS = ("type", "required", "allowed", "min", "max", "unique", "references", "description")
MEASURE_KEYS = ("source", "agg", "expr", "filter", "time")
TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "simple": ("measure",),
    "ratio": ("numerator", "denominator"),
    "derived": ("expr",),
    "growth": ("of", "compare"),
    "composite": ("components",),
}
COMMON_KPI_KEYS = (
    "name",
    "description",
    "category",
    "unit",
    "decimals",
    "type",
    "scale",
    "window",
    "direction",
    "thresholds",
)
KPI_KEYS = COMMON_KPI_KEYS + tuple(k for keys in TYPE_KEYS.values() for k in keys)
TARGET_KEYS = ("kpi", "fiscal_year", "entity", "green", "amber")
REVISIONS = "revisions"  # the key of a KPI's or a measure's revisions
REVISION_KEYS = ("effective_from", "reason")  # a revision's own keys, beside the fields it sets
THRESHOLD_KEYS = ("green", "amber")

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_DECIMAL = re.compile(r"^decimal\(\s*(\d+)\s*,\s*(\d+)\s*\)$")


def _line_of(mapping: Any, key: str) -> int:
    """The line of ``key`` in a YAML mapping (1 when the mapping was not read from YAML)."""
    return mapping.line_of(key) if isinstance(mapping, YamlMap) else 1


def describe(value: Any) -> str:
    """A value as a message shows it."""
    if value is None:
        return "empty"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return str(value)


def threshold_order_problem(direction: str, green: float, amber: float) -> str | None:
    """Why (green, amber) are in the wrong order for ``direction``, or None when fine."""
    if direction == "higher_is_better" and amber > green:
        return (
            f"amber {number_text(amber)} is above green {number_text(green)}; "
            "for a higher_is_better KPI amber must be <= green"
        )
    if direction == "lower_is_better" and amber < green:
        return (
            f"amber {number_text(amber)} is below green {number_text(green)}; "
            "for a lower_is_better KPI amber must be >= green"
        )
    return None


@dataclass
class ParsedCatalogue:
    """The merged sections of every file, before cross-references are checked.

    ``places`` keeps where each key of each entry was written, so later checks can point
    at the exact line: ``places[("measure", "revenue")]["filter"]``.
    """

    sources: dict[str, Source] = field(default_factory=dict)
    measures: dict[str, Measure] = field(default_factory=dict)
    kpis: dict[str, Kpi] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    places: dict[tuple[str, str], dict[str, Location]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # where each key of each revised definition is written: (kind, id, effective_from) → keys
    revision_places: dict[tuple[str, str, str], dict[str, Location]] = field(default_factory=dict)

    def defined(self, kind: str) -> set[str]:
        """Every id of ``kind`` defined in the files, including definitions that are broken."""
        return {eid for k, eid in self.places if k == kind}

    def place(self, kind: str, entry_id: str, key: str | None = None) -> Location | None:
        """Where ``key`` of an entry is written (the entry's own line when absent)."""
        keys = self.places.get((kind, entry_id), {})
        if key is not None and key in keys:
            return keys[key]
        return keys.get("")


class _Entry:
    """Reads the keys of one mapping, recording a located problem for every mistake."""

    def __init__(
        self,
        out: ParsedCatalogue,
        file: str,
        what: str,
        data: Any,
        line: int,
        allowed: tuple[str, ...],
    ) -> None:
        self.out = out
        self.file = file
        self.what = what
        self.data: dict[str, Any] = data
        self.line = line
        self.ok = True
        lines: dict[str, int] = getattr(data, "key_lines", {})
        self.locations = {"": Location(file, line)} | {
            k: Location(file, n) for k, n in lines.items()
        }
        for key in data:
            if key not in allowed:
                self.fail(
                    key,
                    f"unknown key '{key}'{did_you_mean(key, allowed)}; "
                    f"allowed: {', '.join(allowed)}",
                    prefix=False,
                )

    def loc(self, key: str | None = None) -> Location:
        return self.locations.get(key or "", self.locations[""])

    def fail(self, key: str | None, message: str, prefix: bool = True) -> None:
        """Record a problem at ``key``: ``<what>: <key>: <message>``."""
        self.ok = False
        text = f"{self.what}: {key}: {message}" if key and prefix else f"{self.what}: {message}"
        self.out.problems.append(Problem(self.loc(key), text))

    def missing(self, key: str, why: str = "") -> None:
        self.ok = False
        self.out.problems.append(
            Problem(self.loc(), f"{self.what}: missing required key '{key}'{why}")
        )

    def text(self, key: str, required: bool = False, default: str | None = None) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.missing(key)
            return default
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            self.fail(key, f"must be text, not {describe(value)}")
            return default
        value = str(value)
        if required and not value.strip():
            self.fail(key, "must not be empty")
            return default
        return value

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.data.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail(key, f"must be true or false, not {describe(value)}")
            return default
        return value

    def number(self, key: str, required: bool = False) -> float | None:
        return self._number(key, self.data.get(key), required)

    def _number(self, key: str, value: Any, required: bool) -> float | None:
        if value is None:
            if required:
                self.missing(key)
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
            self.fail(key, f"must be a number, not {describe(value)}")
            return None
        return float(value)

    def integer(self, key: str, low: int, high: int) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            self.fail(key, f"must be a whole number from {low} to {high}, not {describe(value)}")
            return None
        return value

    def choice(self, key: str, choices: tuple[str, ...], required: bool = False) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required:
                self.missing(key)
            return None
        if not isinstance(value, str) or value not in choices:
            hint = did_you_mean(value, choices) if isinstance(value, str) else ""
            self.fail(key, f"{describe(value)} is not one of {', '.join(choices)}{hint}")
            return None
        return value


def _mapping_section(
    out: ParsedCatalogue, file: str, data: Any, section: str
) -> list[tuple[str, Any, int]]:
    """The (id, body, line) entries of a mapping section; bad ids are problems."""
    value = data[section]
    line = _line_of(data, section)
    if value is None:
        return []
    if not isinstance(value, dict):
        out.problems.append(
            Problem(
                Location(file, line),
                f"{section}: must be a mapping of id → definition, not {describe(value)}",
            )
        )
        return []
    kind = section[:-1]
    entries = []
    for entry_id, body in value.items():
        entry_line = _line_of(value, entry_id)
        if not _ID.match(entry_id):
            out.problems.append(
                Problem(
                    Location(file, entry_line),
                    f"{kind} '{entry_id}': an id must start with a letter and hold only "
                    "letters, digits and _",
                )
            )
            continue
        if not isinstance(body, dict):
            out.problems.append(
                Problem(
                    Location(file, entry_line),
                    f"{kind} '{entry_id}': must be a mapping of keys, not {describe(body)}",
                )
            )
            continue
        entries.append((entry_id, body, entry_line))
    return entries


def _register(
    out: ParsedCatalogue, seen: dict[tuple[str, str], Location], kind: str, entry: _Entry, eid: str
) -> bool:
    """Note where an entry is defined; an id defined twice is a problem naming both places."""
    here = entry.loc()
    first = seen.get((kind, eid))
    if first is not None:
        out.problems.append(Problem(here, f"{kind} '{eid}' is defined twice: {first} and {here}"))
        return False
    seen[(kind, eid)] = here
    out.places[(kind, eid)] = entry.locations
    return True


def parse_files(files: list[Path], shown: Callable[[Path], str] | None = None) -> ParsedCatalogue:
    """Parse every catalogue file; unreadable files and YAML errors are problems too."""
    from soekpi.base.yamlio import read_yaml

    out = ParsedCatalogue()
    seen: dict[tuple[str, str], Location] = {}
    for path in files:
        name = shown(path) if shown else str(path)
        out.files.append(name)
        try:
            data = read_yaml(path, name)
        except InputError as exc:
            out.problems.extend(exc.problems)
            continue
        _parse_document(out, seen, name, data)
    return out


def parse_documents(documents: list[tuple[str, Any]]) -> ParsedCatalogue:
    """Parse already-read catalogue documents, each (name messages use, mapping of sections):
    a run's definitions.json goes through the same checks as the YAML files."""
    out = ParsedCatalogue()
    seen: dict[tuple[str, str], Location] = {}
    for name, data in documents:
        out.files.append(name)
        _parse_document(out, seen, name, data)
    return out


def _parse_document(
    out: ParsedCatalogue, seen: dict[tuple[str, str], Location], name: str, data: Any
) -> None:
    """The sections of one document (a file's YAML or an equivalent mapping)."""
    if data is None:
        return
    if not isinstance(data, dict):
        out.problems.append(
            Problem(
                Location(name, 1),
                f"a catalogue file must be a mapping of sections "
                f"({', '.join(SECTIONS)}), not {describe(data)}",
            )
        )
        return
    for key in data:
        if key not in SECTIONS:
            out.problems.append(
                Problem(
                    Location(name, _line_of(data, key)),
                    f"unknown section '{key}'{did_you_mean(key, SECTIONS)}; "
                    f"allowed: {', '.join(SECTIONS)}",
                )
            )
    if "sources" in data:
        for eid, body, line in _mapping_section(out, name, data, "sources"):
            _parse_source(out, seen, name, eid, body, line)
    if "measures" in data:
        for eid, body, line in _mapping_section(out, name, data, "measures"):
            _parse_measure(out, seen, name, eid, body, line)
    if "kpis" in data:
        for eid, body, line in _mapping_section(out, name, data, "kpis"):
            _parse_kpi(out, seen, name, eid, body, line)
    if "targets" in data:
        _parse_targets(out, name, data)


def _column_type(entry: _Entry, value: Any) -> str | None:
    allowed = ", ".join((*COLUMN_TYPES, "decimal(p,s)"))
    if value is None:
        entry.missing("type")
        return None
    if not isinstance(value, str):
        entry.fail("type", f"{describe(value)} is not a column type; allowed: {allowed}")
        return None
    text = value.strip().lower()
    if text in COLUMN_TYPES:
        return text
    match = _DECIMAL.match(text)
    if match:
        precision, scale = int(match[1]), int(match[2])
        if 1 <= precision <= 38 and scale <= precision:
            return f"decimal({precision},{scale})"
        entry.fail(
            "type",
            f"'{value}' needs a precision from 1 to 38 and a scale no larger than the precision",
        )
        return None
    hint = did_you_mean(text, COLUMN_TYPES)
    entry.fail("type", f"'{value}' is not a column type{hint}; allowed: {allowed}")
    return None


def _parse_column(
    out: ParsedCatalogue, file: str, source_id: str, name: str, body: Any, line: int
) -> Column | None:
    """One column of a table source, or None when it has a mistake (each one recorded)."""
    what = f"source '{source_id}': column '{name}'"
    if not _column_shape_ok(out, Location(file, line), what, name, body):
        return None
    entry = _Entry(out, file, what, body, line, COLUMN_KEYS)
    column_type = _column_type(entry, body.get("type"))
    allowed_values = _column_allowed(entry, body.get("allowed"))
    low, high = _column_range(entry)
    references = _column_references(entry)
    required = entry.flag("required")
    unique = entry.flag("unique")
    if not entry.ok or column_type is None:
        return None
    return Column(
        name=name,
        type=column_type,
        required=required,
        allowed=allowed_values,
        min=low,
        max=high,
        unique=unique,
        references=references,
        location=Location(file, line),
    )


def _column_shape_ok(
    out: ParsedCatalogue, where: Location, what: str, name: str, body: Any
) -> bool:
    """Whether a column has a valid name and a mapping body; a problem is recorded when not."""
    if not _ID.match(name):
        out.problems.append(
            Problem(
                where,
                f"{what}: a column name must start with a letter and hold only letters, "
                "digits and _",
            )
        )
        return False
    if not isinstance(body, dict):
        out.problems.append(
            Problem(
                where,
                f"{what}: must be a mapping such as {{type: varchar}}, not {describe(body)}",
            )
        )
        return False
    return True


def _column_allowed(entry: _Entry, raw_allowed: Any) -> tuple[Any, ...] | None:
    """The column's ``allowed`` values: a non-empty list of plain values, or None."""
    if raw_allowed is None:
        return None
    if (
        not isinstance(raw_allowed, list)
        or not raw_allowed
        or not all(
            isinstance(v, str | int | float) and not isinstance(v, bool) for v in raw_allowed
        )
    ):
        entry.fail("allowed", "must be a non-empty list of plain values")
        return None
    return tuple(raw_allowed)


def _column_range(entry: _Entry) -> tuple[float | None, float | None]:
    """The column's ``min`` and ``max``; a max below the min is a problem (both are kept)."""
    low, high = entry.number("min"), entry.number("max")
    if low is not None and high is not None and low > high:
        entry.fail("max", f"{number_text(high)} is below min {number_text(low)}")
    return low, high


def _column_references(entry: _Entry) -> tuple[str, str] | None:
    """The (source, column) that ``references: source.column`` points at, or None."""
    raw_ref = entry.text("references")
    if raw_ref is None:
        return None
    parts = raw_ref.split(".")
    if len(parts) != 2 or not all(parts):
        entry.fail("references", f"'{raw_ref}' must be written source.column")
        return None
    return (parts[0], parts[1])


def _parse_source(
    out: ParsedCatalogue,
    seen: dict[tuple[str, str], Location],
    file: str,
    eid: str,
    body: Any,
    line: int,
) -> None:
    """One source entry: a table (columns, primary key) or a view (sql)."""
    is_view = "sql" in body
    entry = _Entry(out, file, f"source '{eid}'", body, line, VIEW_KEYS if is_view else TABLE_KEYS)
    if not _register(out, seen, "source", entry, eid):
        return
    description = entry.text("description", default="") or ""
    time_column = entry.text("time_column")
    entity_column = entry.text("entity_column")
    cadence = entry.choice("cadence", CADENCES)
    if cadence and "time_column" not in body:
        entry.fail("cadence", "a monthly source needs a time_column")
    sql = entry.text("sql", required=is_view)
    table = entry.text("table")
    columns: dict[str, Column] = {}
    columns_ok = True
    primary_key: tuple[str, ...] = ()
    if not is_view:
        columns, columns_ok = _table_columns(out, file, eid, entry, body.get("columns"))
        primary_key = _primary_key(entry, body.get("primary_key"))
        _check_named_columns(entry, eid, columns, time_column, primary_key)
    # A source with a broken column is left out, so that measures over it do not report the
    # column as missing; other mistakes are reported and the source is kept for later checks.
    if not columns_ok or (is_view and sql is None):
        return
    out.sources[eid] = Source(
        id=eid,
        description=description,
        time_column=time_column,
        cadence=cadence,
        entity_column=entity_column,
        primary_key=primary_key,
        columns=columns,
        sql=sql,
        table=table,
        location=entry.loc(),
    )


def _table_columns(
    out: ParsedCatalogue, file: str, eid: str, entry: _Entry, raw_columns: Any
) -> tuple[dict[str, Column], bool]:
    """The parsed columns of a table source, and whether every one of them was sound."""
    columns: dict[str, Column] = {}
    if raw_columns is None:
        entry.missing("columns")
        return columns, False
    if not isinstance(raw_columns, dict) or not raw_columns:
        entry.fail("columns", "must be a mapping of column name → {type: ...}")
        return columns, False
    columns_ok = True
    for name, column_body in raw_columns.items():
        column = _parse_column(out, file, eid, name, column_body, _line_of(raw_columns, name))
        if column is None:
            columns_ok = False
        else:
            columns[name] = column
    return columns, columns_ok


def _primary_key(entry: _Entry, raw_key: Any) -> tuple[str, ...]:
    """The column names of ``primary_key`` (one name or a list); empty when absent or wrong."""
    if isinstance(raw_key, str):
        raw_key = [raw_key]
    if raw_key is None:
        return ()
    if not isinstance(raw_key, list) or not all(isinstance(k, str) for k in raw_key):
        entry.fail("primary_key", "must be a list of column names")
    elif len(set(raw_key)) != len(raw_key):
        entry.fail("primary_key", "names a column twice")
    else:
        return tuple(raw_key)
    return ()


def _check_named_columns(
    entry: _Entry,
    eid: str,
    columns: dict[str, Column],
    time_column: str | None,
    primary_key: tuple[str, ...],
) -> None:
    """The time, entity and key columns a table names must be among its columns."""
    raw_columns = entry.data.get("columns")
    if not isinstance(raw_columns, dict):
        return
    for key in ("time_column", "entity_column"):
        value = entry.data.get(key)
        if isinstance(value, str) and value not in raw_columns:
            entry.fail(key, _no_column(value, eid, raw_columns))
    for name in primary_key:
        if name not in raw_columns:
            entry.fail("primary_key", _no_column(name, eid, raw_columns))
    if time_column in columns and columns[time_column].type not in ("date", "timestamp"):
        entry.fail(
            "time_column",
            f"column '{time_column}' is {columns[time_column].type}; "
            "a time column must be date or timestamp",
        )


def _no_column(name: str, source_id: str, columns: Iterable[str]) -> str:
    return f"column '{name}' does not exist in source '{source_id}'{did_you_mean(name, columns)}"


def _parse_measure(
    out: ParsedCatalogue,
    seen: dict[tuple[str, str], Location],
    file: str,
    eid: str,
    body: Any,
    line: int,
) -> None:
    entry = _Entry(out, file, f"measure '{eid}'", body, line, (*MEASURE_KEYS, REVISIONS))
    if not _register(out, seen, "measure", entry, eid):
        return
    measure = _measure_of(entry, eid)
    revisions = _parse_revisions(out, entry, "measure", eid, MEASURE_KEYS, _measure_of)
    if measure is not None:
        out.measures[eid] = dataclasses.replace(measure, revisions=revisions)


def _measure_of(entry: _Entry, eid: str) -> Measure | None:
    """The measure ``entry`` defines (None without a source or agg); mistakes are recorded."""
    source = entry.text("source", required=True)
    agg = entry.choice("agg", AGGS, required=True)
    expr = entry.text("expr")
    if expr is not None and not expr.strip():
        entry.fail("expr", "must not be empty")
    if expr is None and agg is not None and agg != "count":
        entry.missing("expr", f" (agg '{agg}' aggregates an expression over the rows)")
    if expr is not None and expr.strip() == "*" and agg not in (None, "count"):
        entry.fail("expr", f"'*' only goes with agg 'count', not '{agg}'")
    filter_text = entry.text("filter")
    if filter_text is not None and not filter_text.strip():
        entry.fail("filter", "must not be empty (leave it out to keep every row)")
    time = entry.text("time")
    if source is None or agg is None:
        return None
    return Measure(
        id=eid,
        source=source,
        agg=agg,
        expr=(expr or "*").strip(),
        filter=filter_text.strip() if filter_text else None,
        time=time,
        location=entry.loc(),
    )


def _parse_name(entry: _Entry, kpi_id: str) -> dict[str, str]:
    value = entry.data.get("name")
    if value is None:
        entry.missing("name")
        return {"en": kpi_id}
    if isinstance(value, str) and value.strip():
        return {"en": value}
    if isinstance(value, dict):
        names: dict[str, str] = {}
        for key, text in value.items():
            if key not in LANGUAGES:
                entry.fail(
                    "name",
                    f"unknown language '{key}'{did_you_mean(key, LANGUAGES)}; "
                    f"allowed: {', '.join(LANGUAGES)}",
                )
            elif not isinstance(text, str) or not text.strip():
                entry.fail("name", f"{key}: must be text, not {describe(text)}")
            else:
                names[key] = text
        if "en" not in value:
            entry.fail("name", "needs an English name under 'en'")
        return names if "en" in names else {"en": kpi_id, **names}
    entry.fail("name", f"must be text or a mapping {{en: ..., zh-CN: ...}}, not {describe(value)}")
    return {"en": kpi_id}


def _parse_thresholds(entry: _Entry, direction: str | None) -> Thresholds | None:
    value = entry.data.get("thresholds")
    if value is None:
        return None
    if not isinstance(value, dict):
        entry.fail(
            "thresholds", f"must be a mapping {{green: ..., amber: ...}}, not {describe(value)}"
        )
        return None
    ok = True
    numbers: dict[str, float] = {}
    for key in value:
        if key not in THRESHOLD_KEYS:
            entry.fail(
                "thresholds",
                f"unknown key '{key}'{did_you_mean(key, THRESHOLD_KEYS)}; allowed: green, amber",
            )
            ok = False
    for key in THRESHOLD_KEYS:
        raw = value.get(key)
        if raw is None:
            entry.fail("thresholds", f"missing required key '{key}'")
            ok = False
        elif isinstance(raw, bool) or not isinstance(raw, int | float) or math.isnan(raw):
            entry.fail("thresholds", f"{key}: must be a number, not {describe(raw)}")
            ok = False
        else:
            numbers[key] = float(raw)
    if not ok:
        return None
    problem = threshold_order_problem(
        direction or "higher_is_better", numbers["green"], numbers["amber"]
    )
    if problem:
        entry.fail("thresholds", problem)
        return None
    return Thresholds(green=numbers["green"], amber=numbers["amber"])


def _parse_components(entry: _Entry) -> dict[str, float] | None:
    value = entry.data.get("components")
    if value is None:
        entry.missing("components")
        return None
    if not isinstance(value, dict) or not value:
        entry.fail("components", "must be a mapping of kpi id → weight, e.g. {kpi_a: 0.3}")
        return None
    weights: dict[str, float] = {}
    for kpi_id, weight in value.items():
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or math.isnan(weight)
            or weight <= 0
        ):
            entry.fail(
                "components",
                f"the weight of '{kpi_id}' must be a positive number, not {describe(weight)}",
            )
        else:
            weights[kpi_id] = float(weight)
    return weights


def _parse_kpi(
    out: ParsedCatalogue,
    seen: dict[tuple[str, str], Location],
    file: str,
    eid: str,
    body: Any,
    line: int,
) -> None:
    """One KPI entry: the keys every KPI has, then the keys of its type."""
    entry = _Entry(out, file, f"kpi '{eid}'", body, line, (*KPI_KEYS, REVISIONS))
    if not _register(out, seen, "kpi", entry, eid):
        return
    kpi = _kpi_of(entry, eid)
    revisions = _parse_revisions(out, entry, "kpi", eid, KPI_KEYS, _kpi_of)
    if kpi is not None:
        out.kpis[eid] = dataclasses.replace(kpi, revisions=revisions)


def _kpi_of(entry: _Entry, eid: str) -> Kpi | None:
    """The KPI ``entry`` defines: the keys every KPI has, then the keys of its type (None
    without a type or a key of its type); mistakes are recorded."""
    kpi_type = entry.choice("type", KPI_TYPES, required=True)
    name = _parse_name(entry, eid)
    description = entry.text("description", default="") or ""
    category = entry.text("category", default="other") or "other"
    unit = entry.text("unit", default="") or ""
    decimals = entry.integer("decimals", 0, 10)
    scale = entry.number("scale")
    window = entry.choice("window", WINDOWS) or "cycle"
    direction = entry.choice("direction", DIRECTIONS)
    thresholds = _parse_thresholds(entry, direction)
    fields = {} if kpi_type is None else _type_fields(entry, kpi_type)
    if kpi_type is None or any(
        fields.get(key) is None for key in TYPE_KEYS[kpi_type] if key != "expr"
    ):
        return None
    return Kpi(
        id=eid,
        type=kpi_type,
        name=name,
        description=description.strip(),
        category=category,
        unit=unit,
        decimals=2 if decimals is None else decimals,
        scale=1.0 if scale is None else scale,
        window=window,
        direction=direction or "higher_is_better",
        thresholds=thresholds,
        location=entry.loc(),
        **fields,
    )


def _type_fields(entry: _Entry, kpi_type: str) -> dict[str, Any]:
    """The keys of a KPI's own type; keys of another type and a bad formula are problems."""
    from soekpi.catalogue.formula import FormulaError, parse_formula

    own = TYPE_KEYS[kpi_type]
    for key in entry.data:
        if key in KPI_KEYS and key not in COMMON_KPI_KEYS and key not in own:
            entry.fail(
                key,
                f"does not apply to a kpi of type '{kpi_type}' "
                f"({kpi_type} uses {' and '.join(own)})",
            )
    fields: dict[str, Any] = {}
    if kpi_type == "composite":
        fields["components"] = _parse_components(entry)
    elif kpi_type == "growth":
        fields["of"] = entry.text("of", required=True)
        fields["compare"] = entry.choice("compare", COMPARES, required=True)
    else:
        for key in own:
            fields[key] = entry.text(key, required=True)
    if kpi_type == "derived" and fields.get("expr"):
        try:
            parse_formula(fields["expr"])
        except FormulaError as exc:
            entry.fail("expr", str(exc))
    return fields


def _parse_targets(out: ParsedCatalogue, file: str, data: Any) -> None:
    value = data["targets"]
    if value is None:
        return
    if not isinstance(value, list):
        out.problems.append(
            Problem(
                Location(file, _line_of(data, "targets")),
                f"targets: must be a list of {{kpi: ..., green: ..., amber: ...}}, "
                f"not {describe(value)}",
            )
        )
        return
    for body, line in zip(
        value, value.item_lines if isinstance(value, YamlList) else [1] * len(value), strict=True
    ):
        if not isinstance(body, dict):
            out.problems.append(
                Problem(
                    Location(file, line),
                    f"target: must be a mapping {{kpi: ..., green: ..., amber: ...}}, "
                    f"not {describe(body)}",
                )
            )
            continue
        kpi_id = body.get("kpi")
        what = f"target for kpi '{kpi_id}'" if isinstance(kpi_id, str) else "target"
        entry = _Entry(
            out, file, what, body, body.line if isinstance(body, YamlMap) else 1, TARGET_KEYS
        )
        kpi = entry.text("kpi", required=True)
        fiscal_year = entry.integer("fiscal_year", 1900, 2999)
        raw_entity = body.get("entity")
        entity = None if raw_entity is None else entry.text("entity")
        green = entry.number("green", required=True)
        amber = entry.number("amber", required=True)
        if not entry.ok or kpi is None or green is None or amber is None:
            continue
        out.targets.append(
            Target(
                kpi=kpi,
                green=green,
                amber=amber,
                fiscal_year=fiscal_year,
                entity=entity,
                location=entry.loc(),
            )
        )


# ------------------------------------------------------------------------------ revisions


def _parse_revisions(
    out: ParsedCatalogue,
    entry: _Entry,
    kind: str,
    eid: str,
    own_keys: tuple[str, ...],
    build: Callable[[_Entry, str], Any],
) -> tuple[Revision, ...]:
    """The ``revisions`` of a KPI or measure, sorted by start: each a mapping
    ``{effective_from, reason, <definition fields>}`` whose fields replace those of the
    definition in force before it (the rest carries over). Once the original and every
    revision are sound, each revised definition is parsed whole by ``build``, its problems
    under ``kpi 'x': revision FY2026``."""
    raw = entry.data.get(REVISIONS)
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        entry.fail(
            REVISIONS,
            "must be a list of {effective_from: ..., reason: ..., <the fields that change>}",
        )
        return ()
    lines = raw.item_lines if isinstance(raw, YamlList) else [entry.loc(REVISIONS).line] * len(raw)
    starts: dict[tuple[int, int], tuple[str, Location]] = {}
    checked = [
        _checked_revision(out, entry, (kind, eid), item, line or 1, own_keys, starts)
        for item, line in zip(raw, lines, strict=True)
    ]
    sound = [r for r in checked if r is not None]
    if not entry.ok or len(sound) != len(checked):
        return ()
    found = []
    body: Any = entry.data
    reported: set[tuple[Location | None, str]] = set()
    for revision in sorted(sound, key=lambda r: revision_order(r.effective_from)):
        body = _revised_body(body, revision.item, kind)
        before = len(out.problems)
        revised = _Entry(out, revision.file, revision.what, body, revision.line, own_keys)
        definition = build(revised, eid)
        _drop_carried(out.problems, before, revision.what, reported)
        if definition is None:
            return ()  # the revisions after it have no definition to start from
        out.revision_places[(kind, eid, revision.effective_from)] = revised.locations
        found.append(
            Revision(
                effective_from=revision.effective_from,
                reason=revision.reason,
                changes={k: _plain_yaml(v) for k, v in revision.item.items()},
                definition=dataclasses.replace(definition, revision=revision.note),
                location=Location(revision.file, revision.line),
            )
        )
    return tuple(found)


def _drop_carried(
    problems: list[Problem], since: int, what: str, reported: set[tuple[Location | None, str]]
) -> None:
    """Drop the problems from ``since`` on that an earlier revision of the same entry has
    at the same place: a mistake carried over is reported once, by the revision making it."""
    fresh = []
    for problem in problems[since:]:
        key = (problem.location, problem.message.replace(what, "", 1))
        if key not in reported:
            reported.add(key)
            fresh.append(problem)
    problems[since:] = fresh


@dataclass(frozen=True)
class _CheckedRevision:
    """A revision whose own keys are sound: its start, reason, place and the fields it sets."""

    effective_from: str
    reason: str
    file: str
    line: int
    what: str  # how messages name it: kpi 'x': revision FY2026
    item: dict[str, Any]  # the definition fields it sets, as written

    @property
    def note(self) -> RevisionNote:
        return RevisionNote(self.effective_from, self.reason)


def _cycle_name(value: Any) -> str | None:
    """The canonical name of a fiscal year or cycle (``FY2026``, ``FY2026-Q3``), or None."""
    from soekpi.base.calendar import parse_cycle
    from soekpi.base.errors import UsageError

    if not isinstance(value, str):
        return None
    try:
        return parse_cycle(value).name
    except UsageError:
        return None


def _checked_revision(
    out: ParsedCatalogue,
    entry: _Entry,
    owner: tuple[str, str],
    item: Any,
    line: int,
    own_keys: tuple[str, ...],
    starts: dict[tuple[int, int], tuple[str, Location]],
) -> _CheckedRevision | None:
    """One revision's own keys: a mapping with a fiscal year or cycle no other revision starts
    on, a reason and at least one definition field (None when one is wrong, each mistake
    recorded at its line)."""
    kind, eid = owner
    file = entry.loc().file
    if not isinstance(item, dict):
        out.problems.append(
            Problem(
                Location(file, line),
                f"{kind} '{eid}': revisions: each revision must be a mapping "
                f"{{effective_from: ..., reason: ..., <fields>}}, not {describe(item)}",
            )
        )
        return None
    effective = _cycle_name(item.get("effective_from"))
    what = f"{kind} '{eid}': revision" + (f" {effective}" if effective else "")
    rev = _Entry(out, file, what, item, line, (*REVISION_KEYS, *own_keys))
    reason = rev.text("reason", required=True)
    _check_effective_from(rev, item.get("effective_from"), effective, starts)
    fields = YamlMap({k: v for k, v in item.items() if k in own_keys})
    fields.key_lines = {k: n for k, n in getattr(item, "key_lines", {}).items() if k in fields}
    if not fields:
        rev.fail(None, "changes no field; give the definition fields it changes")
    if not rev.ok or effective is None or reason is None:
        return None
    return _CheckedRevision(effective, reason, file, line, what, fields)


def _check_effective_from(
    rev: _Entry,
    raw: Any,
    effective: str | None,
    starts: dict[tuple[int, int], tuple[str, Location]],
) -> None:
    """``effective_from`` names a fiscal year or cycle that no other revision starts on."""
    if raw is None:
        rev.missing("effective_from", " (the fiscal year or cycle it applies from, e.g. FY2026)")
        return
    if effective is None:
        rev.fail(
            "effective_from",
            f"{describe(raw)} is not a fiscal year or cycle "
            "(write one such as FY2026, FY2026-H2, FY2026-Q3 or FY2026-M07)",
        )
        return
    here = rev.loc("effective_from")
    first = starts.get(revision_order(effective))
    if first is None:
        starts[revision_order(effective)] = (effective, here)
    elif first[0] == effective:
        rev.fail("effective_from", f"'{effective}' is given twice: {first[1]} and {here}")
    else:
        rev.fail(
            "effective_from",
            f"'{effective}' starts the same day as revision {first[0]} at {first[1]}; "
            "give one revision per start",
        )


def _plain_yaml(value: Any) -> Any:
    """A YAML value as plain dicts and lists (without the line numbers it was read with)."""
    if isinstance(value, dict):
        return {k: _plain_yaml(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_yaml(v) for v in value]
    return value


def _revised_body(before: Any, fields: dict[str, Any], kind: str) -> YamlMap:
    """The definition in force before a revision (the original's keys, or the previous
    revision's body) with the revision's ``fields`` over it, each key at the line it is
    written at; a KPI whose type changes drops the keys of its old type."""
    body = YamlMap({k: v for k, v in before.items() if k != REVISIONS})
    body.key_lines = {k: n for k, n in getattr(before, "key_lines", {}).items() if k in body}
    old_type = before.get("type")
    if kind == "kpi" and "type" in fields and fields["type"] != old_type:
        for key in TYPE_KEYS.get(old_type, ()) if isinstance(old_type, str) else ():
            body.pop(key, None)
            body.key_lines.pop(key, None)
    new_lines: dict[str, int] = getattr(fields, "key_lines", {})
    for key, value in fields.items():
        body[key] = value
        if key in new_lines:
            body.key_lines[key] = new_lines[key]
        else:
            body.key_lines.pop(key, None)
    return body
