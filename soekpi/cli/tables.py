"""Every Rich table the CLI shows: KPI values (``compute``), the catalogue (``kpis``), a
load's summary, the loads, the cycles, a diff and a verification. Rich is imported inside each
function, so ``soekpi --help`` stays fast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from soekpi.audit.diff import RunDiff
from soekpi.audit.render import (
    ROW_HEADER,
    currency_lines,
    field_text,
    file_text,
    format_value,
    output_text,
    row_cells,
    summary,
    title,
    verification_title,
)
from soekpi.audit.verify import Verification
from soekpi.catalogue.model import Catalogue
from soekpi.engine import KpiResult
from soekpi.warehouse.coverage import QuarterCoverage
from soekpi.warehouse.ledger import LoadRecord
from soekpi.warehouse.load import LoadSummary

if TYPE_CHECKING:
    from rich.console import Group
    from rich.table import Table

    from soekpi.api import KpiListing

#: Rich styles of the statuses (colour is dropped by the console for NO_COLOR / non-TTY).
STATUS_STYLES = {
    "green": "bold green",
    "amber": "bold yellow",
    "red": "bold red",
    "incomplete": "magenta",
    "no_data": "dim",
    "untracked": "dim",
}


def _number(value: float | None, decimals: int) -> str:
    if value is None:
        return "—"
    return f"{value:,.{max(decimals, 0)}f}"


def values_table(result: KpiResult, catalogue: Catalogue, language: str = "en") -> Any:
    """The KPI values as a rich Table, one section per entity in hierarchy order."""
    from rich.table import Table
    from rich.text import Text

    names = {r["entity_id"]: r for r in result.hierarchy.iter_rows(named=True)}
    order = {entity: i for i, entity in enumerate(names)}
    cycles = ", ".join(c.name for c in result.cycles)
    table = Table(title=f"KPIs {cycles}", show_lines=False)
    for header, justify in (
        ("entity", "left"),
        ("kpi", "left"),
        ("cycle", "left"),
        ("value", "right"),
        ("unit", "left"),
        ("status", "left"),
        ("green", "right"),
        ("amber", "right"),
    ):
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    rows = sorted(
        result.values.iter_rows(named=True),
        key=lambda r: (order.get(r["entity"], len(order)), r["entity"], r["kpi"], r["cycle"]),
    )
    previous = None
    for row in rows:
        kpi = catalogue.kpis.get(row["kpi"])
        decimals = kpi.decimals if kpi else 2
        entity = names.get(row["entity"])
        shown = row["entity"]
        if entity is not None:
            name = (
                entity["name_zh"] if language == "zh-CN" and entity["name_zh"] else entity["name"]
            )
            shown = f"{'  ' * entity['depth']}{row['entity']} {name}"
        if previous is not None and previous != row["entity"]:
            table.add_section()
        table.add_row(
            shown if previous != row["entity"] else "",
            row["kpi"],
            row["cycle"],
            _number(row["value"], decimals),
            row["unit"],
            Text(row["status"], style=STATUS_STYLES.get(row["status"], "")),
            _number(row["green"], decimals),
            _number(row["amber"], decimals),
        )
        previous = row["entity"]
    return table


def kpi_table(listing: KpiListing) -> Table:
    """``soekpi kpis``: every KPI a row, or one KPI in full as (field, value) rows."""
    from rich.table import Table

    table = Table(title=listing.title, show_header=not listing.detail)
    for i, column in enumerate(listing.columns):
        table.add_column(column, style="bold" if listing.detail and i == 0 else None)
    for row in listing.rows:
        table.add_row(*row)
    return table


def render_text(renderable: Any, width: int = 110) -> str:
    """A rich renderable as plain text (for stderr messages)."""
    import io

    from rich.console import Console

    buffer = io.StringIO()
    Console(file=buffer, width=width, no_color=True, highlight=False, force_terminal=False).print(
        renderable
    )
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip("\n").splitlines())


def load_summary_table(summary: LoadSummary) -> Table:
    """Per file: rows read, loaded, rejected (by column and reason) and replaced."""
    from rich.table import Table

    replace = summary.mode == "replace"
    table = Table(title=f"load into {summary.source} ({summary.mode})", title_justify="left")
    table.add_column("file")
    table.add_column("read", justify="right")
    table.add_column("loaded", justify="right")
    table.add_column("rejected", justify="right")
    if replace:
        table.add_column("replaced", justify="right")
    table.add_column("rejected rows by reason")
    for item in summary.files:
        reasons = "\n".join(f"{reason}: {n}" for reason, n in item.rejected_by_reason) or "-"
        cells = [item.file, str(item.rows_read), str(item.rows_loaded), str(item.rows_rejected)]
        if replace:
            cells.append(str(item.rows_replaced))
        table.add_row(*cells, reasons)
    return table


def loads_table(records: list[LoadRecord]) -> Table:
    """``soekpi loads``: one row per load — id, time, source, mode, its files (name and the
    first 12 hex digits of the SHA-256), rows read, loaded, rejected, restated (and the
    restated months)."""
    from rich.table import Table

    table = Table(title="loads", title_justify="left")
    table.add_column("id", justify="right")
    table.add_column("time")
    table.add_column("source")
    table.add_column("mode")
    table.add_column("files (sha256)")
    for name in ("read", "loaded", "rejected", "restated"):
        table.add_column(name, justify="right")
    for r in records:
        files = "\n".join(f"{name} ({digest[:12]})" for name, digest in r.files) or "-"
        restated = str(r.restated)
        if r.restated_months:
            restated += f" ({', '.join(r.restated_months)})"
        table.add_row(
            str(r.id),
            r.time.isoformat(sep=" ", timespec="seconds"),
            r.source,
            r.mode,
            files,
            str(r.read),
            str(r.loaded),
            str(r.rejected),
            restated,
        )
    return table


def cycles_table(quarters: list[QuarterCoverage]) -> Table:
    """One row per quarter: dates, each source's coverage, closed or not.

    Monthly sources show ``entities reporting/expected · months complete/3``; the other
    sources the number of rows in the quarter."""
    from rich.table import Table

    table = Table()
    table.add_column("cycle")
    table.add_column("dates")
    names = [s.source for s in quarters[0].sources] if quarters else []
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("closed")
    for quarter in quarters:
        cells = [quarter.cycle.name, f"{quarter.start}..{quarter.end}"]
        for cov in quarter.sources:
            if cov.entities_expected is None:
                cells.append(f"{cov.rows} rows")
            elif cov.entities_expected == 0:
                cells.append("-")
            else:
                cells.append(
                    f"{cov.entities_reporting}/{cov.entities_expected} · "
                    f"{cov.months_complete}/{cov.months} mo"
                )
        if quarter.fully_closed:
            closed = "closed"
        elif quarter.closed:
            closed = "partly: " + ", ".join(quarter.closed)
        else:
            closed = "open"
        cells.append(closed)
        table.add_row(*cells)
    return table


def diff_table(diff: RunDiff) -> Group:
    """The diff as rich renderables for the terminal."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = [Text(title(diff), style="bold"), Text(summary(diff))]
    if diff.version:
        parts.append(Text(f"soekpi version: {diff.version.old} → {diff.version.new}"))
    for f in diff.settings:
        parts.append(Text(f"setting {field_text(f)}"))
    if diff.rows:
        table = Table(title="values and statuses", title_justify="left")
        for name in ROW_HEADER:
            table.add_column(
                name, justify="right" if name in ("old", "new", "change", "relative") else "left"
            )
        for change in diff.rows:
            table.add_row(*row_cells(change))
        parts.append(table)
    for side, rows in (("A", diff.only_in_a), ("B", diff.only_in_b)):
        if rows:
            table = Table(title=f"only in {side}", title_justify="left")
            for name in ("entity", "kpi", "value", "status"):
                table.add_column(name)
            for row in rows:
                table.add_row(row.entity, row.kpi, format_value(row.value), row.status)
            parts.append(table)
    if diff.definitions:
        table = Table(title="KPI definitions", title_justify="left")
        table.add_column("kpi")
        table.add_column("change")
        table.add_column("fields")
        for d in diff.definitions:
            table.add_row(d.kpi, d.change, "\n".join(field_text(f) for f in d.fields))
        parts.append(table)
    if diff.sources:
        table = Table(title="source data", title_justify="left")
        for name in ("source", "change", "old rows", "new rows", "old sha256", "new sha256"):
            table.add_column(name)
        for s in diff.sources:
            table.add_row(
                s.source,
                s.change,
                format_value(s.old_rows),
                format_value(s.new_rows),
                (s.old_sha256 or "")[:12],
                (s.new_sha256 or "")[:12],
            )
        parts.append(table)
    return Group(*parts)


def verification_table(v: Verification) -> Group:
    """The verification as rich renderables for the terminal."""
    from rich.console import Group
    from rich.text import Text

    parts: list[Any] = [Text(verification_title(v), style="bold")]
    parts.extend(Text(file_text(f)) for f in v.files)
    parts.extend(Text(output_text(o)) for o in v.outputs)
    if v.diff.has_differences:
        parts.append(diff_table(v.diff))
    parts.extend(Text(line) for line in currency_lines(v))
    today = v.currency.diff if v.currency is not None else v.diff
    if today is not v.diff and today.has_differences:
        parts.append(diff_table(today))
    return Group(*parts)
