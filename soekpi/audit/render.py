"""Renderers of a :class:`RunDiff`: a rich table for the terminal, JSON, Markdown.

They return objects or strings; only ``cli.py``/``console.py`` print. The JSON schema is
documented in docs/audit.md.
"""

from __future__ import annotations

import json
from typing import Any

from soekpi.audit.diff import FieldChange, OneSidedRow, RowChange, RunDiff
from soekpi.audit.verify import FileMismatch, LaterLoad, OutputMismatch, Verification

JSON_SCHEMA_VERSION = 1
#: verify's JSON: 2 since issue 17 (mode, as_of_load, ok, outputs, current; reproducible
#: is null with --current).
VERIFY_SCHEMA_VERSION = 2


def format_value(value: Any) -> str:
    """A value as the table and Markdown show it (``null`` for null)."""
    if value is None:
        return "null"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    if isinstance(value, int):  # a row count: 6,978, not 6,978.00
        return f"{value:,}"
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    return f"{value:.6g}"


def format_relative(change: RowChange) -> str:
    """The relative change in percent; ``n/a`` when it is undefined (from null or from 0)."""
    if change.relative_change is None:
        return "n/a" if change.value_changed else ""
    return f"{change.relative_change * 100:+.2f}%"


def _absolute(change: RowChange) -> str:
    if change.absolute_change is None:
        return "n/a" if change.value_changed else ""
    return f"{'+' if change.absolute_change >= 0 else ''}{format_value(change.absolute_change)}"


def _status(change: RowChange) -> str:
    if change.status_changed:
        return f"{change.old_status} → {change.new_status}"
    return change.new_status


def field_text(change: FieldChange) -> str:
    """One changed field: ``field: old → new``; the revision a definition is computed under
    in words (``revision: the original → revised from FY2026: <reason>``)."""
    if change.field == "revision" or change.field.endswith(".revision"):
        return f"{change.field}: {_revision_text(change.old)} → {_revision_text(change.new)}"
    return f"{change.field}: {format_value(change.old)} → {format_value(change.new)}"


def _revision_text(note: Any) -> str:
    """A resolved definition's ``revision`` ({effective_from, reason}) in words."""
    if isinstance(note, dict) and "effective_from" in note:
        return f"revised from {note['effective_from']}: {note.get('reason', '')}"
    return "the original definition" if note is None else format_value(note)


def title(diff: RunDiff) -> str:
    """One line saying what was compared."""
    if diff.kind == "restatement":
        what = f"restatement of {diff.cycle_a}"
    else:
        what = f"movement {diff.cycle_a} → {diff.cycle_b}"
    return f"{what}: {diff.a} → {diff.b}"


def summary(diff: RunDiff) -> str:
    """One line counting the differences (or saying there are none)."""
    if not diff.has_differences:
        return "no differences"
    parts = [
        f"{diff.value_changes} value change(s)",
        f"{diff.status_changes} status change(s)",
        f"{len(diff.only_in_a)} row(s) only in A",
        f"{len(diff.only_in_b)} row(s) only in B",
        f"{len(diff.definitions)} definition change(s)",
        f"{len(diff.sources)} source change(s)",
    ]
    if diff.settings:
        parts.append(f"{len(diff.settings)} setting change(s)")
    if diff.version:
        parts.append("version changed")
    return ", ".join(parts)


def _row_json(change: RowChange) -> dict[str, Any]:
    return {
        "entity": change.entity,
        "kpi": change.kpi,
        "old_value": change.old_value,
        "new_value": change.new_value,
        "absolute_change": change.absolute_change,
        "relative_change": change.relative_change,
        "old_status": change.old_status,
        "new_status": change.new_status,
        "value_changed": change.value_changed,
        "status_changed": change.status_changed,
        "unit": change.unit,
    }


def _one_json(row: OneSidedRow) -> dict[str, Any]:
    return {"entity": row.entity, "kpi": row.kpi, "value": row.value, "status": row.status}


def _field_json(change: FieldChange) -> dict[str, Any]:
    return {"field": change.field, "old": change.old, "new": change.new}


def to_json_dict(diff: RunDiff) -> dict[str, Any]:
    """The diff as a JSON-ready dict (schema in docs/audit.md)."""
    return {
        "schema_version": JSON_SCHEMA_VERSION,
        "kind": diff.kind,
        "a": {"run": diff.a, "cycle": diff.cycle_a},
        "b": {"run": diff.b, "cycle": diff.cycle_b},
        "tolerance": diff.tolerance,
        "differences": diff.has_differences,
        "summary": {
            "value_changes": diff.value_changes,
            "status_changes": diff.status_changes,
            "only_in_a": len(diff.only_in_a),
            "only_in_b": len(diff.only_in_b),
            "definition_changes": len(diff.definitions),
            "source_changes": len(diff.sources),
            "setting_changes": len(diff.settings),
            "version_changed": diff.version is not None,
        },
        "rows": [_row_json(r) for r in diff.rows],
        "only_in_a": [_one_json(r) for r in diff.only_in_a],
        "only_in_b": [_one_json(r) for r in diff.only_in_b],
        "definitions": [
            {
                "kpi": d.kpi,
                "change": d.change,
                "old_sha256": d.old_sha256,
                "new_sha256": d.new_sha256,
                "fields": [_field_json(f) for f in d.fields],
            }
            for d in diff.definitions
        ],
        "sources": [
            {
                "source": s.source,
                "change": s.change,
                "old_rows": s.old_rows,
                "new_rows": s.new_rows,
                "old_sha256": s.old_sha256,
                "new_sha256": s.new_sha256,
            }
            for s in diff.sources
        ],
        "version": None
        if diff.version is None
        else {"old": diff.version.old, "new": diff.version.new},
        "settings": [_field_json(f) for f in diff.settings],
    }


def render_json(diff: RunDiff) -> str:
    """The diff as JSON: keys sorted, 2-space indent, trailing newline."""
    return json.dumps(to_json_dict(diff), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join(" --- " for _ in header) + "|",
    ]
    lines.extend("| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows)
    lines.append("")
    return lines


def row_cells(change: RowChange) -> list[str]:
    return [
        change.entity,
        change.kpi,
        format_value(change.old_value),
        format_value(change.new_value),
        _absolute(change),
        format_relative(change),
        _status(change),
    ]


ROW_HEADER = ["entity", "kpi", "old", "new", "change", "relative", "status"]


def render_markdown(diff: RunDiff, heading: str = "soekpi diff") -> str:
    """The diff as a Markdown document for an audit file."""
    lines = [f"# {heading}", "", f"**{_md_cell(title(diff))}**", ""]
    lines.append(f"- A: `{diff.a}` ({diff.cycle_a})")
    lines.append(f"- B: `{diff.b}` ({diff.cycle_b})")
    lines.append(f"- Relative tolerance: {format_value(diff.tolerance)}")
    lines.append(f"- Result: {summary(diff)}")
    lines.append("")
    if diff.version:
        lines += ["## soekpi version", "", f"{diff.version.old} → {diff.version.new}", ""]
    if diff.settings:
        lines += ["## Settings", ""] + [f"- `{_md_cell(field_text(f))}`" for f in diff.settings]
        lines.append("")
    if diff.rows:
        lines += ["## Values and statuses", ""]
        lines += _md_table(ROW_HEADER, [row_cells(r) for r in diff.rows])
    for side, rows in (("A", diff.only_in_a), ("B", diff.only_in_b)):
        if rows:
            lines += [f"## Only in {side}", ""]
            lines += _md_table(
                ["entity", "kpi", "value", "status"],
                [[r.entity, r.kpi, format_value(r.value), r.status] for r in rows],
            )
    if diff.definitions:
        lines += ["## KPI definitions", ""]
        for d in diff.definitions:
            lines.append(f"- `{d.kpi}` {d.change}")
            lines.extend(f"  - `{_md_cell(field_text(f))}`" for f in d.fields)
        lines.append("")
    if diff.sources:
        lines += ["## Source data", ""]
        lines += _md_table(
            ["source", "change", "old rows", "new rows", "old sha256", "new sha256"],
            [
                [
                    s.source,
                    s.change,
                    format_value(s.old_rows),
                    format_value(s.new_rows),
                    (s.old_sha256 or "")[:12],
                    (s.new_sha256 or "")[:12],
                ]
                for s in diff.sources
            ],
        )
    return "\n".join(lines).rstrip("\n") + "\n"


# ------------------------------------------------------------------------ verify


def verification_title(v: Verification) -> str:
    """One line: what was verified and the verdict."""
    if v.mode == "current":
        return (
            f"verify {v.run} ({v.cycle}) against today's data and catalogue: {_currency_verdict(v)}"
        )
    verdict = "reproducible" if v.reproducible else "NOT reproducible"
    if v.mode == "as_of_load":
        return (
            f"verify {v.run} ({v.cycle}) rebuilt as of load {v.as_of_load} with its own "
            f"definitions: {verdict}"
        )
    return (
        f"verify {v.run} ({v.cycle}) against a recomputation from the current warehouse and "
        f"catalogue: {verdict}"
    )


def _currency_verdict(v: Verification) -> str:
    c = v.currency
    if c is None or c.current:
        verdict = "still current"
    else:
        verdict = " and ".join(
            what
            for what, hit in (
                (f"restated since load {v.as_of_load}", c.restated),
                ("definitions changed", c.redefined),
            )
            if hit
        )
    return verdict + ("; files altered" if v.files else "")


def output_text(o: OutputMismatch) -> str:
    """An output file that differs from its rebuild."""
    if o.archived_sha256 is None:
        return f"{o.file}: missing from the run (the rebuild makes it)"
    if o.rebuilt_sha256 is None:
        return f"{o.file}: not made by the rebuild (sha256 {o.archived_sha256[:12]})"
    return (
        f"{o.file}: differs from the rebuild (run sha256 {o.archived_sha256[:12]}, rebuilt "
        f"{o.rebuilt_sha256[:12]})"
    )


def load_text(load: LaterLoad) -> str:
    """A later load that changed rows the run read."""
    months = f", restated {', '.join(load.restated_months)}" if load.restated_months else ""
    return (
        f"load {load.id} ({load.source}, {load.mode}{months}, {load.time:%Y-%m-%d %H:%M}) "
        f"changed the rows the run read of {load.source} ({format_value(load.rows_before)} → "
        f"{format_value(load.rows_after)} rows)"
    )


def currency_lines(v: Verification) -> list[str]:
    """Whether the run is still current: a verdict, then one line per load that changed the
    rows it read; [] for a run without as_of_load."""
    c = v.currency
    if c is None:
        return []
    later = f"{c.loads_after} load(s) after load {v.as_of_load}"
    if c.current:
        head = f"still current: {later}, none changed the rows the run read or its values"
    else:
        whose = "the run's definitions" if c.definitions == "run" else "today's catalogue"
        head = (
            f"no longer current: {later}; on today's data with {whose}: "
            f"{c.diff.value_changes} value change(s), {c.diff.status_changes} status "
            f"change(s), {len(c.diff.sources)} source change(s), "
            f"{len(c.diff.definitions)} definition change(s)"
        )
    return [head, *(f"  {load_text(load)}" for load in c.touched)]


def file_text(f: FileMismatch) -> str:
    if f.sealed is not None:  # the SHA-256 kept when the cycle was closed
        now = f"now {f.actual_sha256[:12]}" if f.actual_sha256 else "now missing"
        return (
            f"{f.file}: altered since {f.sealed} (sha256 at close {f.expected_sha256[:12]}, {now})"
        )
    if f.actual_sha256 is None:
        return f"{f.file}: missing (manifest sha256 {f.expected_sha256[:12]})"
    return (
        f"{f.file}: altered since the run was written (manifest sha256 "
        f"{f.expected_sha256[:12]}, now {f.actual_sha256[:12]})"
    )


def _currency_json(v: Verification) -> dict[str, Any] | None:
    c = v.currency
    if c is None:
        return None
    return {
        "definitions": c.definitions,
        "current": c.current,
        "restated": c.restated,
        "redefined": c.redefined,
        "loads_after": c.loads_after,
        "touched": [
            {
                "load": t.id,
                "time": t.time.isoformat(),
                "source": t.source,
                "mode": t.mode,
                "restated_months": list(t.restated_months),
                "rows_before": t.rows_before,
                "rows_after": t.rows_after,
            }
            for t in c.touched
        ],
        "diff": to_json_dict(c.diff),
    }


def verification_json(v: Verification) -> str:
    """The verification as JSON (schema in docs/audit.md)."""
    doc = {
        "schema_version": VERIFY_SCHEMA_VERSION,
        "run": v.run,
        "cycle": v.cycle,
        "mode": v.mode,
        "as_of_load": v.as_of_load,
        "ok": v.ok,
        "reproducible": v.reproducible,
        "files": [
            {"file": f.file, "expected_sha256": f.expected_sha256, "actual_sha256": f.actual_sha256}
            for f in v.files
        ],
        "outputs": [
            {
                "file": o.file,
                "archived_sha256": o.archived_sha256,
                "rebuilt_sha256": o.rebuilt_sha256,
            }
            for o in v.outputs
        ],
        "diff": to_json_dict(v.diff),
        "current": _currency_json(v),
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _demoted(body: str) -> list[str]:
    """A Markdown document's lines with every heading one level down."""
    return ["#" + line if line.startswith("#") else line for line in body.splitlines()]


def verification_markdown(v: Verification) -> str:
    """The verification as a Markdown document for an audit file."""
    lines = ["# soekpi verify", "", f"**{_md_cell(verification_title(v))}**", ""]
    if v.files or v.outputs:
        lines += ["## Output files", ""] + [f"- {_md_cell(file_text(f))}" for f in v.files]
        lines += [f"- {_md_cell(output_text(o))}" for o in v.outputs]
        lines.append("")
    if v.diff.has_differences:
        b = {"as_of_load": "the rebuild", "current": "today's data and catalogue"}
        heading = f"Differences (A = the run, B = {b.get(v.mode, 'recomputation')})"
        lines += _demoted(render_markdown(v.diff, heading=heading))
        lines.append("")
    currency = currency_lines(v)
    if currency and v.mode == "as_of_load":
        lines += ["## Still current?", "", f"{_md_cell(currency[0])}", ""]
        lines += [f"- {_md_cell(line.strip())}" for line in currency[1:]]
        today = v.currency.diff if v.currency is not None else v.diff
        if today.has_differences and today is not v.diff:
            heading = "Changes on today's data (A = the run, B = today)"
            body = render_markdown(today, heading=heading)
            lines += ["", *_demoted("\n".join(_demoted(body)))]
    elif currency:
        lines += ["## Later loads", "", f"{_md_cell(currency[0])}", ""]
        lines += [f"- {_md_cell(line.strip())}" for line in currency[1:]]
    return "\n".join(lines).rstrip("\n") + "\n"
