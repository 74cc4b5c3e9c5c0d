"""Renderers of a :class:`RunDiff`: a rich table for the terminal, JSON, Markdown.

They return objects or strings; only ``cli.py``/``console.py`` print. The JSON schema is
documented in docs/audit.md.
"""

from __future__ import annotations

import json
from typing import Any

from soekpi.audit.diff import FieldChange, OneSidedRow, RowChange, RunDiff
from soekpi.audit.verify import FileMismatch, Verification

JSON_SCHEMA_VERSION = 1


def format_value(value: Any) -> str:
    """A value as the table and Markdown show it (``null`` for null)."""
    if value is None:
        return "null"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
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
    verdict = "reproducible" if v.reproducible else "NOT reproducible"
    return (
        f"verify {v.run} ({v.cycle}) against a recomputation from the current warehouse and "
        f"catalogue: {verdict}"
    )


def file_text(f: FileMismatch) -> str:
    if f.actual_sha256 is None:
        return f"{f.file}: missing (manifest sha256 {f.expected_sha256[:12]})"
    return (
        f"{f.file}: altered since the run was written (manifest sha256 "
        f"{f.expected_sha256[:12]}, now {f.actual_sha256[:12]})"
    )


def verification_json(v: Verification) -> str:
    """The verification as JSON (schema in docs/audit.md)."""
    doc = {
        "schema_version": JSON_SCHEMA_VERSION,
        "run": v.run,
        "cycle": v.cycle,
        "reproducible": v.reproducible,
        "files": [
            {"file": f.file, "expected_sha256": f.expected_sha256, "actual_sha256": f.actual_sha256}
            for f in v.files
        ],
        "diff": to_json_dict(v.diff),
    }
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def verification_markdown(v: Verification) -> str:
    """The verification as a Markdown document for an audit file."""
    lines = ["# soekpi verify", "", f"**{_md_cell(verification_title(v))}**", ""]
    if v.files:
        lines += ["## Output files", ""] + [f"- {_md_cell(file_text(f))}" for f in v.files]
        lines.append("")
    if v.diff.has_differences:
        body = render_markdown(v.diff, heading="Differences (A = the run, B = recomputation)")
        lines += ["#" + line if line.startswith("#") else line for line in body.splitlines()]
    return "\n".join(lines).rstrip("\n") + "\n"
