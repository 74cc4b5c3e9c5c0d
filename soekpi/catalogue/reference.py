"""The catalogue's reference page (docs/catalogue.md): every KPI, source and target in words.

``render_reference`` returns Markdown and touches no file; the same catalogue always gives
the same bytes (everything is sorted), so a test can tell when the page is stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from soekpi.base.errors import UsageError
from soekpi.catalogue.describe import revision_rows
from soekpi.catalogue.model import Catalogue, Column, Kpi, Measure, Source, Target

# The order a programme office reads the catalogue in: from input to outcome.
CATEGORY_ORDER = (
    "productivity",
    "investment",
    "integration",
    "operations",
    "talent",
    "delivery",
    "risk",
    "index",
)
_WINDOWS = {
    "cycle": "the cycle",
    "ytd": "fiscal year to date (from the start of the cycle's fiscal year to its end)",
    "to_date": "to date (all time up to the cycle's end)",
}
_COMPARES = {
    "previous_cycle": "the previous cycle",
    "same_cycle_last_year": "the same cycle last year",
}


def catalogue_reference(folder: Path) -> str:
    """Load the catalogue in ``folder`` (every *.yaml / *.yml, sorted) and render its page."""
    from soekpi.catalogue.validate import load_catalogue_files

    if not folder.is_dir():
        raise UsageError(f"catalogue folder '{folder}' does not exist")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))
    if not files:
        raise UsageError(f"catalogue folder '{folder}' holds no *.yaml files")
    return render_reference(load_catalogue_files(files))


def render_reference(catalogue: Catalogue) -> str:
    """The catalogue as one Markdown page: KPIs by category, then sources, then targets."""
    categories = _ordered_categories(k.category for k in catalogue.kpis.values())
    lines = [
        "# KPI catalogue",
        "",
        "<!-- Generated from the catalogue by `soekpi catalogue-docs`; do not edit by hand: "
        "run `make docs`. -->",
        "",
        f"{len(catalogue.kpis)} KPIs in {len(categories)} categories, computed from "
        f"{len(catalogue.measures)} measures over {len(catalogue.sources)} sources, with "
        f"{len(catalogue.targets)} targets. Every measure is aggregated over the rows of an "
        "entity's whole subtree that fall in the KPI's window; ratios are ratios of those "
        "sums, never averages of the children's ratios.",
        "",
        "## Contents",
        "",
    ]
    for category in categories:
        ids = _kpis_in(catalogue, category)
        links = ", ".join(f"[`{k}`](#kpi-{k})" for k in ids)
        lines.append(f"- **{_title(category)}**: {links}")
    lines += ["- [Sources](#sources): the data contract", "- [Targets](#targets)", ""]
    for category in categories:
        lines += [f"## {_title(category)}", ""]
        for kpi_id in _kpis_in(catalogue, category):
            lines += _kpi_section(catalogue, catalogue.kpis[kpi_id])
    lines += _sources_section(catalogue)
    lines += _targets_section(catalogue.targets)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines) + "\n"


def _ordered_categories(categories: Iterable[str]) -> list[str]:
    found = set(categories)
    known = [c for c in CATEGORY_ORDER if c in found]
    return known + sorted(found - set(CATEGORY_ORDER))


def _kpis_in(catalogue: Catalogue, category: str) -> list[str]:
    return sorted(k for k, kpi in catalogue.kpis.items() if kpi.category == category)


def _title(word: str) -> str:
    return word.replace("_", " ").capitalize()


def _cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.10g}"


def _names(kpi: Kpi) -> str:
    others = [f"{lang}: {kpi.name[lang]}" for lang in sorted(kpi.name) if lang != "en"]
    english = kpi.name.get("en", kpi.id)
    return english if not others else f"{english} ({'; '.join(others)})"


def _kpi_section(catalogue: Catalogue, kpi: Kpi) -> list[str]:
    lines = [
        f'<a id="kpi-{kpi.id}"></a>',
        "",
        f"### `{kpi.id}` — {_names(kpi)}",
        "",
    ]
    if kpi.description:
        lines += [" ".join(kpi.description.split()), ""]
    unit = kpi.unit or "(none)"
    rows = [
        ("Names", "; ".join(f"{lang}: {kpi.name[lang]}" for lang in sorted(kpi.name))),
        ("Type", kpi.type),
        ("Formula", _formula(kpi)),
        ("Unit", f"{unit}, {kpi.decimals} decimal{'s' if kpi.decimals != 1 else ''}"),
        ("Direction", kpi.direction.replace("_", " ")),
        ("Thresholds", _thresholds(kpi)),
        ("Window", _WINDOWS.get(kpi.window, kpi.window)),
    ]
    targets = [t for t in catalogue.targets if t.kpi == kpi.id]
    if targets:
        rows.append(("Targets", f"{len(targets)} override(s), see [Targets](#targets)"))
    lines += ["| | |", "| --- | --- |"]
    lines += [f"| {name} | {_cell(value)} |" for name, value in rows]
    lines.append("")
    if kpi.type == "composite" and kpi.components:
        lines += _components_table(catalogue, kpi.components)
    measures = [catalogue.measures[m] for m in dict.fromkeys(kpi.measure_inputs)]
    if measures:
        lines += ["| measure | computed as |", "| --- | --- |"]
        for measure in measures:
            source = catalogue.sources.get(measure.source)
            lines.append(f"| `{measure.id}` | {_cell(_measure_sql(measure, source))} |")
        lines.append("")
    revisions = revision_rows(catalogue, kpi.id)
    if revisions:
        lines += [
            "Revisions (a cycle uses the last one in force at its start; the table above is "
            "the original definition):",
            "",
            "| from | of | changes | reason |",
            "| --- | --- | --- | --- |",
        ]
        lines += [
            f"| {r.effective_from} | {r.of} | {_cell(r.changes)} | {_cell(r.reason)} |"
            for r in revisions
        ]
        lines.append("")
    return lines


def _formula(kpi: Kpi) -> str:
    scale = "" if kpi.scale == 1 else f" × {_number(kpi.scale)}"
    if kpi.type == "simple":
        return f"`{kpi.measure}`{scale}"
    if kpi.type == "ratio":
        return (
            f"`{kpi.numerator}` ÷ `{kpi.denominator}`{scale}; "
            "null when the denominator is 0 or null"
        )
    if kpi.type == "derived":
        return f"`{kpi.expr}`{scale}, over the values of the KPIs it names for the same entity"
    if kpi.type == "growth":
        compare = _COMPARES.get(kpi.compare or "", kpi.compare or "")
        return (
            f"growth of [`{kpi.of}`](#kpi-{kpi.of}) against {compare}: "
            "(v − v_prev) ÷ |v_prev| × 100; null when either is null or v_prev is 0"
        )
    if kpi.type == "composite":
        return (
            "weighted mean of the component scores below, Σ wᵢ·scoreᵢ ÷ Σ wᵢ over the "
            "components with a score; a score is 100 × value ÷ green (higher is better) or "
            "100 × green ÷ value (lower is better), capped to 0–100"
        )
    return kpi.type


def _thresholds(kpi: Kpi) -> str:
    if kpi.thresholds is None:
        return "none (untracked)"
    sign = "≥" if kpi.direction == "higher_is_better" else "≤"
    green, amber = kpi.thresholds.green, kpi.thresholds.amber
    return f"green {sign} {_number(green)}, amber {sign} {_number(amber)}, else red"


def _components_table(catalogue: Catalogue, components: dict[str, float]) -> list[str]:
    lines = ["| component | weight | direction | green |", "| --- | ---: | --- | ---: |"]
    for kpi_id, weight in sorted(components.items(), key=lambda kv: (-kv[1], kv[0])):
        component = catalogue.kpis.get(kpi_id)
        direction = component.direction.replace("_", " ") if component else "?"
        green = (
            _number(component.thresholds.green)
            if component is not None and component.thresholds is not None
            else "—"
        )
        lines.append(f"| [`{kpi_id}`](#kpi-{kpi_id}) | {_number(weight)} | {direction} | {green} |")
    total = sum(components.values())
    lines += [f"| total | {_number(round(total, 10))} | | |", ""]
    return lines


def _measure_sql(measure: Measure, source: Source | None) -> str:
    expr = measure.expr or "*"
    rows = f" from {measure.source}" + (f" where {measure.filter}" if measure.filter else "")
    func = {
        "count_distinct": "count(distinct ",
        "mean": "avg(",
        "closing": "sum(",
        "average": "sum(",
    }.get(measure.agg, f"{measure.agg}(")
    sql = f"{func}{expr}){rows}"
    note = {
        "mean": " (row-level mean)",
        "closing": " in each entity's latest period of the window that has rows (closing), "
        "added up over the subtree",
        "average": " per period, averaged over the window's periods that have rows of each "
        "entity, added up over the subtree",
    }.get(measure.agg, "")
    time = measure.time_column(source) if source is not None else None
    if measure.time == "none":
        placed = "time ignored"
    elif time is None:
        placed = "no time column: every row"
    else:
        placed = f"rows placed in the window by `{time}`"
    return f"`{sql}`{note}; {placed}"


def _sources_section(catalogue: Catalogue) -> list[str]:
    lines = [
        '<a id="sources"></a>',
        "",
        "## Sources",
        "",
        "The data contract: `soekpi load` casts every file to these types and checks every "
        "row; views are read-only SELECTs over other sources.",
        "",
    ]
    for source_id in sorted(catalogue.sources):
        lines += _source_section(catalogue.sources[source_id])
    return lines


def _source_section(source: Source) -> list[str]:
    lines = [f"### `{source.id}`", ""]
    if source.description:
        lines += [" ".join(source.description.split()), ""]
    facts = [
        ("kind", "view" if source.is_view else "table"),
        ("time column", f"`{source.time_column}`" if source.time_column else "none"),
        ("cadence", source.cadence or "none"),
        ("entity column", f"`{source.entity_column}`" if source.entity_column else "none"),
    ]
    if source.primary_key:
        facts.append(("primary key", ", ".join(f"`{c}`" for c in source.primary_key)))
    if source.table and source.table != source.id:
        facts.append(("table", f"`{source.table}`"))
    lines += [", ".join(f"{name}: {value}" for name, value in facts), ""]
    if source.sql:
        lines += ["```sql", source.sql.strip(), "```", ""]
    if source.columns:
        lines += ["| column | type | required | checks |", "| --- | --- | --- | --- |"]
        for column in source.columns.values():
            required = "yes" if column.required else ""
            lines.append(
                f"| `{column.name}` | {column.type} | {required} | {_cell(_checks(column))} |"
            )
        lines.append("")
    return lines


def _checks(column: Column) -> str:
    checks = []
    if column.allowed is not None:
        checks.append("one of " + ", ".join(str(v) for v in column.allowed))
    if column.min is not None:
        checks.append(f"≥ {_number(column.min)}")
    if column.max is not None:
        checks.append(f"≤ {_number(column.max)}")
    if column.unique:
        checks.append("unique")
    if column.references is not None:
        checks.append(f"references {column.references[0]}.{column.references[1]}")
    return "; ".join(checks)


def _targets_section(targets: Iterable[Target]) -> list[str]:
    lines = [
        '<a id="targets"></a>',
        "",
        "## Targets",
        "",
        "Thresholds that override a KPI's own. The most specific row wins: entity and fiscal "
        "year, then entity, then fiscal year, then the KPI's thresholds. An entity row applies "
        "to that entity only, not its subtree.",
        "",
    ]
    rows = sorted(
        targets,
        key=lambda t: (t.kpi, t.entity or "", t.fiscal_year or 0, t.green, t.amber),
    )
    if not rows:
        return [*lines, "None.", ""]
    lines += ["| kpi | fiscal year | entity | green | amber |", "| --- | --- | --- | ---: | ---: |"]
    for t in rows:
        year = f"FY{t.fiscal_year}" if t.fiscal_year is not None else "every year"
        entity = _cell(t.entity) if t.entity is not None else "every entity"
        lines.append(
            f"| [`{t.kpi}`](#kpi-{t.kpi}) | {year} | {entity} | {_number(t.green)} | "
            f"{_number(t.amber)} |"
        )
    lines.append("")
    return lines
