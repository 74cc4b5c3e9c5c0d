"""The resolved definitions a run used, as one JSON-ready document, and back.

``catalogue_definitions`` writes a catalogue (and the fiscal settings) in the catalogue's own
YAML schema — ``sources`` (contracts and view SQL), ``measures``, ``kpis``, ``targets`` — plus
``fiscal_year``. ``catalogue_from_definitions`` reads such a document back through the same
parser and checks as the catalogue files, so a run's ``definitions.json`` is a catalogue: every
KPI has the same ``kpi_hash`` and computes the same values. A key at its default is left out
(the parser restores it), so the document shows what was written, not every field.
"""

from __future__ import annotations

from dataclasses import fields
from typing import TYPE_CHECKING, Any

from soekpi.base.calendar import FiscalSettings
from soekpi.base.errors import InputError, Location
from soekpi.catalogue.model import Catalogue, Column, Kpi, Measure, Source, Target

if TYPE_CHECKING:
    from collections.abc import Mapping

DEFINITIONS_FILE = "definitions.json"

# Keys of the dataclasses that are not keys of the YAML entry (the id is the entry's key;
# revisions are written by _with_revisions).
_NOT_WRITTEN = {"id", "location", "revisions", "revision"}


def catalogue_definitions(catalogue: Catalogue, fiscal: FiscalSettings) -> dict[str, Any]:
    """The catalogue and fiscal settings as one document in the catalogue's YAML schema.

    Keys come in a fixed order: ``fiscal_year``, ``sources``, ``measures``, ``kpis``,
    ``targets``; entries sorted by id; targets in the catalogue's order (the order resolves
    nothing, but it is the order they were written in).
    """
    return {
        "fiscal_year": {"start_month": fiscal.start_month, "label": fiscal.label},
        "sources": {sid: _source(catalogue.sources[sid]) for sid in sorted(catalogue.sources)},
        "measures": {
            mid: _with_revisions(
                _written(catalogue.measures[mid], Measure), catalogue.measures[mid]
            )
            for mid in sorted(catalogue.measures)
        },
        "kpis": {kid: _kpi(catalogue.kpis[kid]) for kid in sorted(catalogue.kpis)},
        "targets": [_written(target, Target) for target in catalogue.targets],
    }


def catalogue_from_definitions(
    doc: Mapping[str, Any], shown: str = DEFINITIONS_FILE
) -> tuple[Catalogue, FiscalSettings]:
    """The catalogue and fiscal settings of a definitions document, parsed and checked as
    catalogue files are (problems are located in ``shown``); raises CatalogueError or
    InputError."""
    from soekpi.catalogue.validate import load_catalogue_documents

    if not isinstance(doc, dict):
        raise InputError("must be a JSON object of definitions", Location(shown))
    fiscal = _fiscal(doc.get("fiscal_year"), shown)
    sections = {k: v for k, v in doc.items() if k != "fiscal_year"}
    catalogue = load_catalogue_documents([(shown, sections)])
    return catalogue, fiscal


def _fiscal(raw: Any, shown: str) -> FiscalSettings:
    """``fiscal_year: {start_month, label}`` of a definitions document."""
    if not isinstance(raw, dict) or set(raw) != {"start_month", "label"}:
        raise InputError("fiscal_year: must be a mapping of start_month and label", Location(shown))
    start_month, label = raw["start_month"], raw["label"]
    if (
        isinstance(start_month, bool)
        or not isinstance(start_month, int)
        or not 1 <= start_month <= 12
    ):
        raise InputError(
            f"fiscal_year: start_month must be 1..12, not {start_month!r}",
            Location(shown),
        )
    if label not in ("end", "start"):
        raise InputError(
            f"fiscal_year: label must be 'end' or 'start', not {label!r}",
            Location(shown),
        )
    return FiscalSettings(start_month=start_month, label=label)


def _plain(value: Any) -> Any:
    """Tuples as lists, recursively (JSON has no tuples)."""
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _written(entry: Any, kind: type) -> dict[str, Any]:
    """The keys of an entry that differ from their defaults, in the dataclass's order."""
    body: dict[str, Any] = {}
    for spec in fields(kind):
        if spec.name in _NOT_WRITTEN:
            continue
        value = getattr(entry, spec.name)
        if value is None or value == spec.default:
            continue
        body[spec.name] = _plain(value)
    return body


def _kpi(kpi: Kpi) -> dict[str, Any]:
    body = _written(kpi, Kpi)
    body["type"] = kpi.type
    body["name"] = dict(kpi.name)
    # what a reader of the run looks for first is written even at its default
    body |= {"decimals": kpi.decimals, "window": kpi.window, "direction": kpi.direction}
    if kpi.thresholds is not None:
        body["thresholds"] = {"green": kpi.thresholds.green, "amber": kpi.thresholds.amber}
    return _with_revisions(body, kpi)


def _with_revisions(body: dict[str, Any], entry: Kpi | Measure) -> dict[str, Any]:
    """``revisions`` as the catalogue writes them: each its start, reason and the fields it
    sets. A definition of a cycle's catalogue (``Catalogue.for_cycle``) computed under a
    revision keeps it as a revision that restates one field with its own value (a revision
    must set one): parsed back, ``for_cycle`` of any cycle from its start gives the same
    definition under the same note."""
    revisions = [
        {"effective_from": r.effective_from, "reason": r.reason, **_plain(dict(r.changes))}
        for r in entry.revisions
    ]
    if not revisions and entry.revision is not None:
        same = {"decimals": entry.decimals} if isinstance(entry, Kpi) else {"agg": entry.agg}
        revisions = [entry.revision.as_dict() | same]
    if revisions:
        body["revisions"] = revisions
    return body


def _source(source: Source) -> dict[str, Any]:
    """A table with its contract, or a view with its SQL (a view's columns are found by
    binding its SQL, so they are not written)."""
    body = _written(source, Source)
    body.pop("columns", None)
    if source.is_view:
        return body
    body["columns"] = {name: _column(column) for name, column in source.columns.items()}
    return body


def _column(column: Column) -> dict[str, Any]:
    body = {k: v for k, v in _written(column, Column).items() if k != "name"}
    body["type"] = column.type
    if column.references is not None:
        body["references"] = ".".join(column.references)
    return body
