"""Compare two report runs (SPEC §6.2): values, statuses, definitions, sources, version.

A run is read from its folder (``manifest.json`` + ``kpis.json``, see docs/architecture.md,
"The run folder") into a :class:`RunData`; :func:`compare_runs` compares two of them keyed by
(entity, kpi), ignoring the cycle, so the same code serves ``diff`` (two folders) and
``verify`` (an archived folder against a fresh in-memory recomputation).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from soekpi.base.errors import InputError, Location, UsageError

Side = Literal["a", "b"]
_RUN_FILES = ("manifest.json", "kpis.json")
_ROW_KEYS = ("kpi", "entity", "value", "status")


@dataclass(frozen=True)
class RunData:
    """What a run says: its manifest and its KPI rows (the ``compute --format json`` array)."""

    label: str  # how messages and reports name it: the folder as given, or "recomputation"
    manifest: dict[str, Any]
    records: list[dict[str, Any]]

    @property
    def cycle(self) -> str:
        """The run's cycle name."""
        return str(self.manifest.get("cycle", ""))

    @property
    def version(self) -> str | None:
        """The soekpi version that wrote the run."""
        value = self.manifest.get("soekpi_version")
        return None if value is None else str(value)


@dataclass(frozen=True)
class RowChange:
    """An (entity, kpi) present in both runs whose value or status differs."""

    entity: str
    kpi: str
    old_value: float | None
    new_value: float | None
    absolute_change: float | None  # new - old; None when either is null
    relative_change: float | None  # (new - old) / |old|; None when either is null or old is 0
    old_status: str
    new_status: str
    value_changed: bool
    status_changed: bool
    unit: str = ""


@dataclass(frozen=True)
class OneSidedRow:
    """An (entity, kpi) found in one run only."""

    entity: str
    kpi: str
    side: Side
    value: float | None
    status: str


@dataclass(frozen=True)
class FieldChange:
    """One field of a definition or setting: dotted path, old and new value (None = absent)."""

    field: str
    old: Any
    new: Any


@dataclass(frozen=True)
class DefinitionChange:
    """A KPI whose resolved definition hash differs, with the fields that changed."""

    kpi: str
    change: Literal["changed", "added", "removed"]
    old_sha256: str | None
    new_sha256: str | None
    fields: tuple[FieldChange, ...] = ()


@dataclass(frozen=True)
class SourceChange:
    """A source whose data (row count or content hash) differs."""

    source: str
    change: Literal["changed", "added", "removed"]
    old_rows: int | None
    new_rows: int | None
    old_sha256: str | None
    new_sha256: str | None


@dataclass(frozen=True)
class RunDiff:
    """Everything that differs between run A (old) and run B (new)."""

    a: str
    b: str
    cycle_a: str
    cycle_b: str
    tolerance: float
    rows: list[RowChange] = field(default_factory=list)
    only_in_a: list[OneSidedRow] = field(default_factory=list)
    only_in_b: list[OneSidedRow] = field(default_factory=list)
    definitions: list[DefinitionChange] = field(default_factory=list)
    sources: list[SourceChange] = field(default_factory=list)
    version: FieldChange | None = None
    settings: list[FieldChange] = field(default_factory=list)

    @property
    def kind(self) -> Literal["restatement", "movement"]:
        """Same cycle: a restatement; different cycles: movement."""
        return "restatement" if self.cycle_a == self.cycle_b else "movement"

    @property
    def value_changes(self) -> int:
        """How many rows changed value beyond the tolerance."""
        return sum(1 for r in self.rows if r.value_changed)

    @property
    def status_changes(self) -> int:
        """How many rows changed status."""
        return sum(1 for r in self.rows if r.status_changed)

    @property
    def has_differences(self) -> bool:
        """True when anything at all differs."""
        return bool(
            self.rows
            or self.only_in_a
            or self.only_in_b
            or self.definitions
            or self.sources
            or self.version
            or self.settings
        )


def read_run(folder: Path) -> RunData:
    """Read a run folder; a folder that is not a run is an InputError naming the file."""
    if not folder.is_dir():
        raise InputError(
            "not a run folder: it does not exist (a run folder is written by 'soekpi report')",
            Location(str(folder)),
        )
    parsed: dict[str, Any] = {}
    for name in _RUN_FILES:
        path = folder / name
        shown = str(path)
        if not path.is_file():
            raise InputError(
                f"not a run folder: {name} is missing (a run folder holds manifest.json and "
                "kpis.json, written by 'soekpi report')",
                Location(shown),
            )
        try:
            parsed[name] = json.loads(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError:
            raise InputError("not a run file: not UTF-8 text", Location(shown)) from None
        except json.JSONDecodeError as exc:
            raise InputError(
                f"not a run file: invalid JSON ({exc.msg}, column {exc.colno})",
                Location(shown, exc.lineno),
            ) from None
    manifest = parsed["manifest.json"]
    shown_manifest = str(folder / "manifest.json")
    if not isinstance(manifest, dict):
        raise InputError("not a run manifest: expected a JSON object", Location(shown_manifest))
    for key, kind in (("cycle", str), ("kpis", dict), ("sources", dict)):
        if not isinstance(manifest.get(key), kind):
            raise InputError(
                f"not a run manifest: '{key}' is missing or not a JSON "
                f"{'string' if kind is str else 'object'}",
                Location(shown_manifest),
            )
    records = parsed["kpis.json"]
    shown_kpis = str(folder / "kpis.json")
    if not isinstance(records, list):
        raise InputError("not a run's KPI file: expected a JSON array", Location(shown_kpis))
    for index, record in enumerate(records):
        if not isinstance(record, dict) or any(k not in record for k in _ROW_KEYS):
            raise InputError(
                f"not a run's KPI file: item {index + 1} is not an object with keys "
                f"{', '.join(_ROW_KEYS)}",
                Location(shown_kpis),
            )
        value = record["value"]
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise InputError(
                f"not a run's KPI file: item {index + 1} ({record['entity']}, {record['kpi']}) "
                f"has a value that is neither a number nor null: {value!r}",
                Location(shown_kpis),
            )
    return RunData(label=str(folder), manifest=manifest, records=records)


def diff_runs(
    a: Path,
    b: Path,
    tolerance: float = 0.0,
    entity: str | None = None,
    kpi: str | None = None,
) -> RunDiff:
    """Compare run folder ``a`` (old) with ``b`` (new), optionally for one entity or KPI."""
    return compare_runs(read_run(a), read_run(b), tolerance, entity, kpi)


def compare_runs(
    a: RunData,
    b: RunData,
    tolerance: float = 0.0,
    entity: str | None = None,
    kpi: str | None = None,
) -> RunDiff:
    """Compare two runs keyed by (entity, kpi), ignoring the cycle.

    ``tolerance`` is relative to ``|old|``: a value counts as changed when
    ``|new - old| > tolerance × |old|``; null ↔ number is always a change, and so is any
    change from 0. ``entity`` / ``kpi`` restrict the rows (and, for ``kpi``, the definitions
    and sources to those the KPI depends on).
    """
    _check_tolerance(tolerance)
    rows_a, rows_b = _keyed(a), _keyed(b)
    _check_filters(a, b, rows_a, rows_b, entity, kpi)
    changes = _row_changes(rows_a, rows_b, tolerance, entity, kpi)
    only_a = _only_in(rows_a, rows_b, "a", entity, kpi)
    only_b = _only_in(rows_b, rows_a, "b", entity, kpi)
    definitions, sources = _scoped_changes(a, b, kpi)
    return RunDiff(
        a=a.label,
        b=b.label,
        cycle_a=a.cycle,
        cycle_b=b.cycle,
        tolerance=tolerance,
        rows=changes,
        only_in_a=only_a,
        only_in_b=only_b,
        definitions=definitions,
        sources=sources,
        version=_version_change(a, b),
        settings=_setting_changes(a, b),
    )


_Keyed = dict[tuple[str, str], dict[str, Any]]  # (entity, kpi) → the run's record


def _check_tolerance(tolerance: float) -> None:
    """A tolerance is a finite relative change ≥ 0 (a UsageError otherwise)."""
    if not math.isfinite(tolerance) or tolerance < 0:
        raise UsageError(f"--tolerance: must be a number ≥ 0 (a relative change), not {tolerance}")


def _check_filters(
    a: RunData, b: RunData, rows_a: _Keyed, rows_b: _Keyed, entity: str | None, kpi: str | None
) -> None:
    """``entity`` and ``kpi`` must be in either run (a UsageError otherwise); a KPI counts
    when either manifest defines it, even without rows."""
    if entity is not None and not any(e == entity for e, _ in (*rows_a, *rows_b)):
        raise UsageError(f"--entity: '{entity}' is in neither run")
    if (
        kpi is not None
        and not any(k == kpi for _, k in (*rows_a, *rows_b))
        and not any(kpi in run.manifest["kpis"] for run in (a, b))
    ):
        raise UsageError(f"--kpi: '{kpi}' is in neither run")


def _wanted(key: tuple[str, str], entity: str | None, kpi: str | None) -> bool:
    """Whether the (entity, kpi) ``key`` passes the ``entity`` / ``kpi`` filters."""
    return (entity is None or key[0] == entity) and (kpi is None or key[1] == kpi)


def _row_changes(
    rows_a: _Keyed, rows_b: _Keyed, tolerance: float, entity: str | None, kpi: str | None
) -> list[RowChange]:
    """The rows of both runs whose value or status differs, in :func:`_row_order`."""
    changes: list[RowChange] = []
    for key in sorted(set(rows_a) & set(rows_b)):
        if _wanted(key, entity, kpi):
            change = _row_change(rows_a[key], rows_b[key], tolerance)
            if change is not None:
                changes.append(change)
    changes.sort(key=_row_order)
    return changes


def _only_in(
    rows: _Keyed, other: _Keyed, side: Side, entity: str | None, kpi: str | None
) -> list[OneSidedRow]:
    """The rows of run ``side`` that the other run lacks, by (entity, kpi)."""
    return [
        _one_sided(rows[k], side) for k in sorted(set(rows) - set(other)) if _wanted(k, entity, kpi)
    ]


def _scoped_changes(
    a: RunData, b: RunData, kpi: str | None
) -> tuple[list[DefinitionChange], list[SourceChange]]:
    """The definitions and sources that changed; for ``kpi``, only those it depends on."""
    kpi_scope = None if kpi is None else _kpi_closure(kpi, a, b)
    definitions = _definition_changes(a.manifest["kpis"], b.manifest["kpis"], kpi_scope)
    source_scope = None if kpi_scope is None else _sources_used(kpi_scope, a, b)
    sources = _source_changes(a.manifest["sources"], b.manifest["sources"], source_scope)
    return definitions, sources


def _version_change(a: RunData, b: RunData) -> FieldChange | None:
    """The soekpi versions that wrote the runs, when they differ."""
    if a.version != b.version:
        return FieldChange("soekpi_version", a.version, b.version)
    return None


def _setting_changes(a: RunData, b: RunData) -> list[FieldChange]:
    """The fiscal-year settings that differ and, for the same cycle, its dates."""
    settings = _flatten_changes(
        "fiscal_year", a.manifest.get("fiscal_year"), b.manifest.get("fiscal_year")
    )
    if a.cycle == b.cycle:  # the same cycle name can cover other dates after a settings change
        for setting in ("cycle_start", "cycle_end"):
            settings += _flatten_changes(setting, a.manifest.get(setting), b.manifest.get(setting))
    return settings


def _keyed(run: RunData) -> _Keyed:
    keyed: dict[tuple[str, str], dict[str, Any]] = {}
    for record in run.records:
        key = (str(record["entity"]), str(record["kpi"]))
        if key in keyed:
            raise InputError(
                f"not a run's KPI file: entity '{key[0]}', kpi '{key[1]}' appears twice",
                Location(str(Path(run.label) / "kpis.json")),
            )
        keyed[key] = record
    return keyed


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _row_change(old: dict[str, Any], new: dict[str, Any], tolerance: float) -> RowChange | None:
    old_value, new_value = _number(old["value"]), _number(new["value"])
    absolute = relative = None
    if old_value is None or new_value is None:
        value_changed = (old_value is None) != (new_value is None)
    else:
        absolute = new_value - old_value
        if old_value != 0:
            relative = absolute / abs(old_value)
        value_changed = (
            abs(absolute) > tolerance * abs(old_value) if old_value != 0 else (new_value != 0)
        )
    status_changed = old["status"] != new["status"]
    if not value_changed and not status_changed:
        return None
    return RowChange(
        entity=str(old["entity"]),
        kpi=str(old["kpi"]),
        old_value=old_value,
        new_value=new_value,
        absolute_change=absolute,
        relative_change=relative,
        old_status=str(old["status"]),
        new_status=str(new["status"]),
        value_changed=value_changed,
        status_changed=status_changed,
        unit=str(new.get("unit") or old.get("unit") or ""),
    )


def _row_order(change: RowChange) -> tuple[bool, float, str, str]:
    """Status changes first, then the largest relative change (a change from null or 0
    counts as infinite), then entity and kpi."""
    if change.relative_change is not None:
        size = abs(change.relative_change)
    else:
        size = math.inf if change.value_changed else 0.0
    return (not change.status_changed, -size, change.entity, change.kpi)


def _one_sided(record: dict[str, Any], side: Side) -> OneSidedRow:
    return OneSidedRow(
        entity=str(record["entity"]),
        kpi=str(record["kpi"]),
        side=side,
        value=_number(record["value"]),
        status=str(record["status"]),
    )


def _definition_of(kpis: dict[str, Any], kpi_id: str) -> dict[str, Any]:
    entry = kpis.get(kpi_id)
    definition = entry.get("definition") if isinstance(entry, dict) else None
    return definition if isinstance(definition, dict) else {}


def _kpi_closure(kpi_id: str, a: RunData, b: RunData) -> set[str]:
    """The KPI and every KPI it is computed from, in either run's definitions."""
    needed: set[str] = set()
    stack = [kpi_id]
    while stack:
        current = stack.pop()
        if current in needed:
            continue
        needed.add(current)
        for run in (a, b):
            inputs = _definition_of(run.manifest["kpis"], current).get("inputs") or {}
            stack.extend(str(dep) for dep in inputs)
    return needed


def _sources_used(kpi_ids: set[str], a: RunData, b: RunData) -> set[str]:
    used: set[str] = set()
    for run in (a, b):
        for kpi_id in kpi_ids:
            measures = _definition_of(run.manifest["kpis"], kpi_id).get("measures") or {}
            for measure in measures.values():
                if isinstance(measure, dict) and measure.get("source"):
                    used.add(str(measure["source"]))
    return used


def _sha(entry: Any) -> str | None:
    if isinstance(entry, dict) and entry.get("sha256") is not None:
        return str(entry["sha256"])
    return None


def _definition_changes(
    old: dict[str, Any], new: dict[str, Any], scope: set[str] | None
) -> list[DefinitionChange]:
    changes: list[DefinitionChange] = []
    for kpi_id in sorted(set(old) | set(new)):
        if scope is not None and kpi_id not in scope:
            continue
        if kpi_id not in new:
            changes.append(DefinitionChange(kpi_id, "removed", _sha(old[kpi_id]), None))
        elif kpi_id not in old:
            changes.append(DefinitionChange(kpi_id, "added", None, _sha(new[kpi_id])))
        elif _sha(old[kpi_id]) != _sha(new[kpi_id]):
            fields = _flatten_changes("", _definition_of(old, kpi_id), _definition_of(new, kpi_id))
            changes.append(
                DefinitionChange(
                    kpi_id, "changed", _sha(old[kpi_id]), _sha(new[kpi_id]), tuple(fields)
                )
            )
    return changes


def _source_changes(
    old: dict[str, Any], new: dict[str, Any], scope: set[str] | None
) -> list[SourceChange]:
    def rows(entry: Any) -> int | None:
        value = entry.get("rows") if isinstance(entry, dict) else None
        return value if isinstance(value, int) else None

    changes: list[SourceChange] = []
    for source in sorted(set(old) | set(new)):
        if scope is not None and source not in scope:
            continue
        o, n = old.get(source), new.get(source)
        change: Literal["changed", "added", "removed"]
        if n is None:
            change = "removed"
        elif o is None:
            change = "added"
        elif rows(o) != rows(n) or _sha(o) != _sha(n):
            change = "changed"
        else:
            continue
        changes.append(SourceChange(source, change, rows(o), rows(n), _sha(o), _sha(n)))
    return changes


_ABSENT = object()


def _flatten_changes(prefix: str, old: Any, new: Any) -> list[FieldChange]:
    """The leaves that differ between two JSON values, as dotted paths (``a.b``, ``t[0].c``)."""
    found: list[FieldChange] = []

    def walk(path: str, o: Any, n: Any) -> None:
        if isinstance(o, dict) and isinstance(n, dict):
            for key in sorted(set(o) | set(n), key=str):
                sub = f"{path}.{key}" if path else str(key)
                walk(sub, o.get(key, _ABSENT), n.get(key, _ABSENT))
            return
        if isinstance(o, list) and isinstance(n, list):
            for index in range(max(len(o), len(n))):
                walk(
                    f"{path}[{index}]",
                    o[index] if index < len(o) else _ABSENT,
                    n[index] if index < len(n) else _ABSENT,
                )
            return
        if o is _ABSENT and n is _ABSENT:
            return
        if o is _ABSENT or n is _ABSENT or type(o) is not type(n) or o != n:
            found.append(
                FieldChange(
                    path or prefix, None if o is _ABSENT else o, None if n is _ABSENT else n
                )
            )

    walk(prefix, old, new)
    return found
