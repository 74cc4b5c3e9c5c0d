"""``compute --format table``: a rich table grouped by entity, statuses in colour."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from soekpi.catalogue.model import Catalogue
    from soekpi.engine.compute import KpiResult

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
